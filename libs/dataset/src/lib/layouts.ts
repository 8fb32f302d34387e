import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { DatasetError } from './errors';
import { isInside } from './files';
import { checkInsideRoot, datasetProblem, listImageFiles, realFolder, type DatasetProblem, type RealFolder } from './paths';

export type DatasetLayout = 'folder-per-label' | 'utkface' | 'labels-csv';

/** One image of a dataset. */
export interface DatasetRecord {
  /** Stable id: the path relative to the dataset root, with '/' separators. */
  id: string;
  /** Absolute path of the file. */
  file: string;
  /** Age in whole years, where known. */
  age?: number;
  /** Age group label (e.g. YOUNG/MIDDLE/OLD), where the dataset gives groups rather than ages. */
  ageGroup?: string;
  /**
   * Source/group id: records sharing it are copies or near-copies of one source image and must
   * never land in two different splits. Defaults to the id.
   */
  group: string;
  /** Extra fields the layout carries (UTKFace: gender, race, datetime; CSV: any other column). */
  extra?: Record<string, string>;
}

export interface Dataset {
  root: string;
  layout: DatasetLayout;
  records: DatasetRecord[];
  problems: DatasetProblem[];
}

export interface ReadDatasetOptions {
  /** 'auto' (default): labels.csv in the root -> labels-csv; UTKFace-style names -> utkface; else folder-per-label. */
  layout?: DatasetLayout | 'auto';
  /** For labels-csv: the CSV file (default `<root>/labels.csv`). Paths in it are relative to the CSV. */
  labelsCsv?: string;
  /** File extensions to treat as images (lower case, with dot). */
  extensions?: string[];
  /**
   * How to derive the group id from a record. Default: a CSV `group`/`source` column if present,
   * else the id itself.
   */
  groupOf?: (record: Omit<DatasetRecord, 'group'>) => string;
}

/** Columns a labels CSV may name its image path with: the first one present is used. */
export const LABELS_CSV_FILE_COLUMNS: readonly string[] = ['file', 'path', 'filename', 'image', 'ID', 'id'];

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif'];

/** `<age>_<gender>_<race>_<datetime>.jpg.chip.jpg` (datetime may be missing in a few real files). */
const UTK_NAME = /^(\d{1,3})_(\d)?_?(\d)?_?(\d+)?.*\.(jpe?g|png)$/i;

export function parseUtkName(name: string): { age: number; gender?: string; race?: string; datetime?: string } | undefined {
  const m = UTK_NAME.exec(name);
  if (!m) return undefined;
  const age = Number(m[1]);
  if (!Number.isInteger(age) || age < 0 || age > 130) return undefined;
  return { age, gender: m[2], race: m[3], datetime: m[4] };
}

/**
 * The gender, race and datetime fields of a UTKFace file name (empty for other names, and for a name without both
 * gender and race), so that a labels CSV that lists UTKFace files (../shared/data/utkface) keeps them as the UTKFace
 * layout does; a CSV column of the same name wins.
 */
function utkNameFields(name: string): Record<string, string> {
  const parsed = parseUtkName(name);
  if (parsed?.gender === undefined || parsed.race === undefined) return {};
  return parsed.datetime === undefined ? { gender: parsed.gender, race: parsed.race } : { gender: parsed.gender, race: parsed.race, datetime: parsed.datetime };
}

function toId(root: string, file: string): string {
  // the common case (a file under the root) without path.relative's normalisation work (~40% of reading a big CSV)
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  const rel = file.startsWith(prefix) && !file.includes(`${path.sep}..`) ? file.slice(prefix.length) : path.relative(root, file);
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}

/** `path.resolve(dir, rel)` for an absolute `dir`, with a shortcut for plain relative names ('a/b.jpg': no '.', '..', '//'). */
function resolveUnder(dir: string, rel: string): string {
  const plain = path.sep === '/' && !rel.startsWith('/') && !rel.endsWith('/') && !rel.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(rel);
  return plain ? (dir.endsWith('/') ? dir + rel : `${dir}/${rel}`) : path.resolve(dir, rel);
}

/**
 * A quote-free CSV parsed directly, when that gives exactly what csv-parse gives with
 * `{columns: true, skip_empty_lines: true, trim: true, bom: true}`; undefined means "use csv-parse" (quotes, ragged rows,
 * duplicate or empty headers, lone CRs, blank-looking lines: its rules and error messages apply). ~10x faster on 19k rows.
 */
export function parseSimpleCsv(text: string): Record<string, string>[] | undefined {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.includes('"') || /\r(?!\n)/.test(body)) return undefined;
  const lines = body.split(/\r?\n/).filter((line) => line !== '');
  if (lines.length === 0) return undefined;
  const header = lines[0].split(',').map((c) => c.trim());
  if (header.some((c) => c === '') || new Set(header).size !== header.length) return undefined;
  const rows: Record<string, string>[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') return undefined;
    const cells = lines[i].split(',');
    if (cells.length !== header.length) return undefined;
    const row: Record<string, string> = {};
    for (let c = 0; c < header.length; c++) row[header[c]] = cells[c].trim();
    rows.push(row);
  }
  return rows;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Decide a folder's layout from what is in it. */
export async function detectLayout(root: string, extensions = IMAGE_EXTENSIONS): Promise<DatasetLayout> {
  if (await exists(path.join(root, 'labels.csv'))) return 'labels-csv';
  const { files } = await listImageFiles(root, { extensions, maxDepth: 1 });
  if (files.length === 0) throw new DatasetError(root, 'no images found (and no labels.csv)');
  const direct = files.filter((f) => path.dirname(f) === root);
  const utk = direct.filter((f) => parseUtkName(path.basename(f)));
  if (direct.length > 0 && utk.length >= direct.length / 2) return 'utkface';
  return 'folder-per-label';
}

/** Read a dataset folder in any of the three layouts into records with ids, labels and group ids. */
export async function readDataset(root: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const absRoot = path.resolve(root);
  const stat = await fs.stat(absRoot).catch(() => undefined);
  if (!stat) throw new DatasetError(absRoot, 'no such folder');
  if (!stat.isDirectory()) throw new DatasetError(absRoot, 'not a folder');
  const extensions = options.extensions ?? IMAGE_EXTENSIONS;
  const layout =
    options.layout && options.layout !== 'auto'
      ? options.layout
      : options.labelsCsv
        ? 'labels-csv'
        : await detectLayout(absRoot, extensions);
  const problems: DatasetProblem[] = [];
  let partial: Array<Omit<DatasetRecord, 'group'> & { group?: string }>;
  if (layout === 'labels-csv') {
    partial = await readLabelsCsv(options.labelsCsv ?? path.join(absRoot, 'labels.csv'), absRoot, problems);
  } else if (layout === 'utkface') {
    partial = [];
    const listing = await listImageFiles(absRoot, { extensions, maxDepth: 0, reportDeeperFolders: true });
    problems.push(...listing.problems);
    for (const file of listing.files) {
      const parsed = parseUtkName(path.basename(file));
      if (!parsed) {
        const id = toId(absRoot, file);
        problems.push(datasetProblem(id, 'bad-name', `${id}: file name is not <age>_<gender>_<race>_<datetime>.jpg`));
        continue;
      }
      const extra: Record<string, string> = {};
      if (parsed.gender !== undefined) extra['gender'] = parsed.gender;
      if (parsed.race !== undefined) extra['race'] = parsed.race;
      if (parsed.datetime !== undefined) extra['datetime'] = parsed.datetime;
      partial.push({ id: toId(absRoot, file), file, age: parsed.age, extra });
    }
  } else {
    partial = [];
    const listing = await listImageFiles(absRoot, { extensions, maxDepth: 1, reportDeeperFolders: true });
    problems.push(...listing.problems);
    for (const file of listing.files) {
      const id = toId(absRoot, file);
      const parts = id.split('/');
      if (parts.length !== 2) {
        problems.push(datasetProblem(id, 'not-in-label-folder', `${id}: not inside a label folder (<root>/<age or group>/<file>)`));
        continue;
      }
      const label = parts[0];
      if (/^\d+$/.test(label)) {
        const age = Number(label);
        if (age > 130) problems.push(datasetProblem(id, 'bad-label', `${id}: age folder '${label}' is not a whole number from 0 to 130`));
        else partial.push({ id, file, age });
      } else partial.push({ id, file, ageGroup: label });
    }
  }
  const records: DatasetRecord[] = partial.map((r) => {
    const group = options.groupOf ? options.groupOf(r) : (r.group ?? r.id);
    return { ...r, group };
  });
  if (records.length === 0) {
    const first = problems[0] ? `: ${problems.length} entries refused, first ${problems[0].reason}` : '';
    throw new DatasetError(absRoot, `no labelled images found (layout ${layout})${first}`);
  }
  return { root: absRoot, layout, records, problems };
}

async function readLabelsCsv(
  csvFile: string,
  root: string,
  problems: DatasetProblem[],
): Promise<Array<Omit<DatasetRecord, 'group'> & { group?: string }>> {
  let text: string;
  try {
    text = await fs.readFile(csvFile, 'utf8');
  } catch (error) {
    throw new DatasetError(csvFile, `cannot read labels CSV: ${(error as Error).message}`);
  }
  let rows: Record<string, string>[];
  try {
    rows = parseSimpleCsv(text) ?? parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (error) {
    throw new DatasetError(csvFile, `not a valid CSV: ${(error as Error).message}`);
  }
  if (rows.length === 0) throw new DatasetError(csvFile, 'labels CSV has no rows');
  const columns = Object.keys(rows[0]);
  const fileCol = LABELS_CSV_FILE_COLUMNS.find((c) => columns.includes(c));
  if (!fileCol) throw new DatasetError(csvFile, `no file column (expected one of file, path, filename, image, id; found ${columns.join(', ')})`);
  const ageCol = columns.includes('age') ? 'age' : undefined;
  const groupLabelCol = ['age_group', 'Class', 'class', 'group_label'].find((c) => columns.includes(c));
  if (!ageCol && !groupLabelCol) throw new DatasetError(csvFile, `no label column (expected age or age_group; found ${columns.join(', ')})`);
  const sourceCol = ['group', 'source'].find((c) => columns.includes(c));
  const csvDir = path.dirname(path.resolve(csvFile));
  const realRoot = realFolder(root);
  const csvName = isInside(csvFile, root) ? toId(root, path.resolve(csvFile)) : csvFile;
  const out: Array<Omit<DatasetRecord, 'group'> & { group?: string }> = [];
  const seen = new Set<string>();
  const realFolders = new Map<string, RealFolder | null>();
  for (const [index, row] of rows.entries()) {
    const where = `${csvName} line ${index + 2}`;
    const rel = row[fileCol];
    if (!rel) {
      problems.push(datasetProblem(`${csvName}:${index + 2}`, 'empty-name', `${where}: empty file name`));
      continue;
    }
    if (path.isAbsolute(rel)) {
      problems.push(datasetProblem(rel, 'outside-dataset', `${where}: ${rel} is an absolute path (paths in a labels CSV are relative to it, inside ${root})`));
      continue;
    }
    const file = resolveUnder(csvDir, rel);
    const escape = checkInsideRoot(file, root, realRoot, rel, where, realFolders);
    if (escape) {
      problems.push(escape);
      continue;
    }
    const id = toId(root, file);
    if (seen.has(id)) {
      problems.push(datasetProblem(rel, 'duplicate-row', `${where}: a second row for ${id}`));
      continue;
    }
    seen.add(id);
    const record: Omit<DatasetRecord, 'group'> & { group?: string } = { id, file };
    if (ageCol && row[ageCol] !== '') {
      // whole years only: 32.5 is a labelling error to report, not a value to round
      const text = row[ageCol];
      const age = /^\d{1,3}(\.0*)?$/.test(text) ? Number(text) : NaN;
      if (!(age >= 0 && age <= 130)) {
        problems.push(datasetProblem(rel, 'bad-label', `${where}: age '${text}' is not a whole number from 0 to 130`));
        continue;
      }
      record.age = age;
    }
    if (groupLabelCol && row[groupLabelCol]) record.ageGroup = row[groupLabelCol];
    if (record.age === undefined && record.ageGroup === undefined) {
      problems.push(datasetProblem(rel, 'bad-label', `${where}: no label`));
      continue;
    }
    if (sourceCol && row[sourceCol]) record.group = row[sourceCol];
    const extra: Record<string, string> = utkNameFields(path.basename(file));
    for (const c of columns) {
      if (c !== fileCol && c !== ageCol && c !== groupLabelCol && c !== sourceCol) extra[c] = row[c];
    }
    if (Object.keys(extra).length) record.extra = extra;
    out.push(record);
  }
  return out;
}

/** The label of a record as a string: the age, else the age group. */
export function labelOf(record: Pick<DatasetRecord, 'age' | 'ageGroup'>): string {
  return record.age !== undefined ? String(record.age) : (record.ageGroup ?? '');
}
