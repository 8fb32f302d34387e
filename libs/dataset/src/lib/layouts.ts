import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { basename, isAbsolute } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DatasetError } from './errors';
import { isInside } from './files';
import {
  checkInsideRoot,
  datasetProblem,
  listImageFilesWith,
  readFolderOnce,
  realFolder,
  realFolderIn,
  type DatasetProblem,
  type ReadFolder,
  type RealFolder,
} from './paths';

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
  const m = utkNameMatch(name);
  return m && { age: Number(m[1]), gender: m[2], race: m[3], datetime: m[4] };
}

/** The UTK_NAME match of a name whose age is a whole number from 0 to 130. */
function utkNameMatch(name: string): RegExpExecArray | undefined {
  const m = UTK_NAME.exec(name);
  if (!m) return undefined;
  const age = Number(m[1]);
  return Number.isInteger(age) && age >= 0 && age <= 130 ? m : undefined;
}

/**
 * The gender, race and datetime fields of a UTKFace file name (empty for other names, and for a name without both
 * gender and race), so that a labels CSV that lists UTKFace files (../shared/data/utkface) keeps them as the UTKFace
 * layout does; a CSV column of the same name wins.
 */
function utkNameFields(name: string): Record<string, string> {
  const m = utkNameMatch(name);
  if (m?.[2] === undefined || m[3] === undefined) return {};
  return m[4] === undefined ? { gender: m[2], race: m[3] } : { gender: m[2], race: m[3], datetime: m[4] };
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

/** A CSV's rows as cells: `rows[i][j]` is row i's value of `columns[j]`. */
interface CsvTable {
  columns: string[];
  rows: string[][];
}

/**
 * A quote-free CSV parsed directly, when that gives exactly what csv-parse gives with
 * `{columns: true, skip_empty_lines: true, trim: true, bom: true}`; undefined means "use csv-parse" (quotes, ragged rows,
 * duplicate or empty headers, lone CRs, blank-looking lines: its rules and error messages apply). ~10x faster on 19k rows.
 */
export function parseSimpleCsv(text: string): Record<string, string>[] | undefined {
  const table = parseSimpleCsvTable(text);
  return table?.rows.map((cells) => {
    const row: Record<string, string> = {};
    for (let c = 0; c < cells.length; c++) row[table.columns[c]] = cells[c];
    return row;
  });
}

/** parseSimpleCsv's rows as cells, the columns in the order of the row objects' keys (Object.keys). */
function parseSimpleCsvTable(text: string): CsvTable | undefined {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const crlf = body.includes('\r');
  if (body.includes('"') || (crlf && /\r(?!\n)/.test(body))) return undefined;
  // every CR is followed by LF here: split at LF and drop the CR that ends a line
  const lines = body.split('\n');
  let first = 0;
  const line = (i: number): string => (crlf && lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i]);
  while (first < lines.length && line(first) === '') first++;
  if (first === lines.length) return undefined;
  const header = line(first).split(',').map((c) => c.trim());
  if (header.some((c) => c === '') || new Set(header).size !== header.length) return undefined;
  // a row object's keys: integer-like names first, '__proto__' never an own key
  const probe: Record<string, string> = {};
  for (const c of header) probe[c] = '';
  const columns = Object.keys(probe);
  const order = columns.map((c) => header.indexOf(c));
  const inHeaderOrder = columns.length === header.length && order.every((o, i) => o === i);
  const rows: string[][] = [];
  for (let i = first + 1; i < lines.length; i++) {
    const text = line(i);
    if (text === '') continue;
    if (text.trim() === '') return undefined;
    const cells = text.split(',');
    if (cells.length !== header.length) return undefined;
    if (inHeaderOrder) {
      for (let c = 0; c < cells.length; c++) cells[c] = cells[c].trim();
      rows.push(cells);
    } else rows.push(order.map((o) => cells[o].trim()));
  }
  return { columns, rows };
}

/** A labels CSV as a table: the quote-free fast path, else csv-parse's rows (its rules and errors). */
function parseLabelsCsv(text: string): CsvTable {
  const simple = parseSimpleCsvTable(text);
  if (simple) return simple;
  const records: Record<string, string>[] = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  const columns = records.length > 0 ? Object.keys(records[0]) : [];
  return { columns, rows: records.map((record) => columns.map((c) => record[c])) };
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
export function detectLayout(root: string, extensions = IMAGE_EXTENSIONS): Promise<DatasetLayout> {
  return detectLayoutWith(root, extensions, readFolderOnce());
}

async function detectLayoutWith(root: string, extensions: string[], readFolder: ReadFolder): Promise<DatasetLayout> {
  if (await exists(path.join(root, 'labels.csv'))) return 'labels-csv';
  const { files } = await listImageFilesWith(root, { extensions, maxDepth: 1 }, readFolder);
  if (files.length === 0) throw new DatasetError(root, 'no images found (and no labels.csv)');
  const direct = files.filter((f) => path.dirname(f) === root);
  const utk = direct.filter((f) => utkNameMatch(basename(f)));
  if (direct.length > 0 && utk.length >= direct.length / 2) return 'utkface';
  return 'folder-per-label';
}

type PartialRecord = Omit<DatasetRecord, 'group'> & { group?: string };

/** Read a dataset folder in any of the three layouts into records with ids, labels and group ids. */
export async function readDataset(root: string, options: ReadDatasetOptions = {}): Promise<Dataset> {
  const absRoot = path.resolve(root);
  const stat = await fs.stat(absRoot).catch(() => undefined);
  if (!stat) throw new DatasetError(absRoot, 'no such folder');
  if (!stat.isDirectory()) throw new DatasetError(absRoot, 'not a folder');
  const extensions = options.extensions ?? IMAGE_EXTENSIONS;
  // detecting the layout lists the folders that reading it lists again
  const readFolder = readFolderOnce();
  const layout =
    options.layout && options.layout !== 'auto'
      ? options.layout
      : options.labelsCsv
        ? 'labels-csv'
        : await detectLayoutWith(absRoot, extensions, readFolder);
  const problems: DatasetProblem[] = [];
  let partial: PartialRecord[];
  if (layout === 'labels-csv') {
    partial = await readLabelsCsv(options.labelsCsv ?? path.join(absRoot, 'labels.csv'), absRoot, problems);
  } else if (layout === 'utkface') {
    partial = [];
    const listing = await listImageFilesWith(absRoot, { extensions, maxDepth: 0, reportDeeperFolders: true }, readFolder);
    problems.push(...listing.problems);
    for (const file of listing.files) {
      const id = toId(absRoot, file);
      const m = utkNameMatch(basename(file));
      if (!m) {
        problems.push(datasetProblem(id, 'bad-name', `${id}: file name is not <age>_<gender>_<race>_<datetime>.jpg`));
        continue;
      }
      const extra: Record<string, string> = {};
      if (m[2] !== undefined) extra['gender'] = m[2];
      if (m[3] !== undefined) extra['race'] = m[3];
      if (m[4] !== undefined) extra['datetime'] = m[4];
      partial.push({ id, file, age: Number(m[1]), extra });
    }
  } else {
    partial = [];
    const listing = await listImageFilesWith(absRoot, { extensions, maxDepth: 1, reportDeeperFolders: true }, readFolder);
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
  const groupOf = options.groupOf;
  // without groupOf, each record is completed in place: `group` keeps its place among the keys, as a copy gives it
  const records: DatasetRecord[] = groupOf
    ? partial.map((r) => ({ ...r, group: groupOf(r) }))
    : partial.map((r) => {
        r.group = r.group ?? r.id;
        return r as DatasetRecord;
      });
  if (records.length === 0) {
    const first = problems[0] ? `: ${problems.length} entries refused, first ${problems[0].reason}` : '';
    throw new DatasetError(absRoot, `no labelled images found (layout ${layout})${first}`);
  }
  return { root: absRoot, layout, records, problems };
}

/** Where a labels-CSV row's path leads: the file and its id, or why it is refused. */
export type CsvRowPlace = { file: string; id: string } | DatasetProblem;

/** The path checks of one labels CSV's rows (after the empty-name check), each folder listed once. */
export interface LabelsCsvPaths {
  /** The straightforward check: an absolute path, a path leaving the root lexically or through links, a link loop. */
  general(rel: string, where: string): CsvRowPlace;
  /**
   * What `general` gives, for a plain relative name ('a/b.jpg': no '.', '..' or empty segment, no backslash) of a
   * listed file that is not a symbolic link, in a folder inside the root whose real path is its path (no link on
   * the way), with no path work per row; undefined for anything else (then ask `general`).
   */
  plain(rel: string): { file: string; id: string } | undefined;
}

const NOT_PLAIN = /^\/|\/$|\/\/|\\|(^|\/)\.\.?(\/|$)/;

export function labelsCsvPaths(csvFile: string, root: string): LabelsCsvPaths {
  const csvDir = path.dirname(path.resolve(csvFile));
  const realRoot = realFolder(root);
  const realFolders = new Map<string, RealFolder | null>();
  const general = (rel: string, where: string): CsvRowPlace => {
    if (isAbsolute(rel)) {
      return datasetProblem(rel, 'outside-dataset', `${where}: ${rel} is an absolute path (paths in a labels CSV are relative to it, inside ${root})`);
    }
    const file = resolveUnder(csvDir, rel);
    return checkInsideRoot(file, root, realRoot, rel, where, realFolders) ?? { file, id: toId(root, file) };
  };
  // the fast path needs '/' paths and the CSV's folder inside the root (so that a plain name stays inside it)
  if (path.sep !== '/' || !isInside(csvDir, root)) return { general, plain: () => undefined };
  const base = csvDir.endsWith('/') ? csvDir : `${csvDir}/`;
  const idPrefix = toId(root, base + 'x').slice(0, -1);
  // the folders (by their path relative to the CSV) whose real path is their path
  const plainFolders = new Map<string, RealFolder | null>();
  const plain = (rel: string): { file: string; id: string } | undefined => {
    if (NOT_PLAIN.test(rel)) return undefined;
    const slash = rel.lastIndexOf('/');
    const relDir = slash < 0 ? '' : rel.slice(0, slash);
    let folder = plainFolders.get(relDir);
    if (folder === undefined) {
      const folderPath = relDir ? base + relDir : csvDir;
      const listed = realFolderIn(folderPath, realFolders);
      folder = listed && listed.real === folderPath ? listed : null;
      plainFolders.set(relDir, folder);
    }
    const name = slash < 0 ? rel : rel.slice(slash + 1);
    if (!folder || !folder.names.has(name) || folder.links.has(name)) return undefined;
    return { file: base + rel, id: idPrefix + rel };
  };
  return { general, plain };
}

async function readLabelsCsv(csvFile: string, root: string, problems: DatasetProblem[]): Promise<PartialRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(csvFile, 'utf8');
  } catch (error) {
    throw new DatasetError(csvFile, `cannot read labels CSV: ${(error as Error).message}`);
  }
  let table: CsvTable;
  try {
    table = parseLabelsCsv(text);
  } catch (error) {
    throw new DatasetError(csvFile, `not a valid CSV: ${(error as Error).message}`);
  }
  const { columns, rows } = table;
  if (rows.length === 0) throw new DatasetError(csvFile, 'labels CSV has no rows');
  const fileCol = LABELS_CSV_FILE_COLUMNS.find((c) => columns.includes(c));
  if (!fileCol) throw new DatasetError(csvFile, `no file column (expected one of file, path, filename, image, id; found ${columns.join(', ')})`);
  const ageCol = columns.includes('age') ? 'age' : undefined;
  const groupLabelCol = ['age_group', 'Class', 'class', 'group_label'].find((c) => columns.includes(c));
  if (!ageCol && !groupLabelCol) throw new DatasetError(csvFile, `no label column (expected age or age_group; found ${columns.join(', ')})`);
  const sourceCol = ['group', 'source'].find((c) => columns.includes(c));
  const [fileAt, ageAt, groupLabelAt, sourceAt] = [fileCol, ageCol, groupLabelCol, sourceCol].map((c) => (c === undefined ? -1 : columns.indexOf(c)));
  const extraAt = columns.flatMap((c, at) => (c !== fileCol && c !== ageCol && c !== groupLabelCol && c !== sourceCol ? [at] : []));
  const csvName = isInside(csvFile, root) ? toId(root, path.resolve(csvFile)) : csvFile;
  const paths = labelsCsvPaths(csvFile, root);
  const out: PartialRecord[] = [];
  const seen = new Set<string>();
  const whereOf = (index: number): string => `${csvName} line ${index + 2}`;
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index];
    const rel = row[fileAt];
    if (!rel) {
      problems.push(datasetProblem(`${csvName}:${index + 2}`, 'empty-name', `${whereOf(index)}: empty file name`));
      continue;
    }
    const place = paths.plain(rel) ?? paths.general(rel, whereOf(index));
    if ('code' in place) {
      problems.push(place);
      continue;
    }
    const { file, id } = place;
    if (seen.has(id)) {
      problems.push(datasetProblem(rel, 'duplicate-row', `${whereOf(index)}: a second row for ${id}`));
      continue;
    }
    seen.add(id);
    const record: PartialRecord = { id, file };
    if (ageAt >= 0 && row[ageAt] !== '') {
      // whole years only: 32.5 is a labelling error to report, not a value to round
      const text = row[ageAt];
      const age = /^\d{1,3}(\.0*)?$/.test(text) ? Number(text) : NaN;
      if (!(age >= 0 && age <= 130)) {
        problems.push(datasetProblem(rel, 'bad-label', `${whereOf(index)}: age '${text}' is not a whole number from 0 to 130`));
        continue;
      }
      record.age = age;
    }
    if (groupLabelAt >= 0 && row[groupLabelAt]) record.ageGroup = row[groupLabelAt];
    if (record.age === undefined && record.ageGroup === undefined) {
      problems.push(datasetProblem(rel, 'bad-label', `${whereOf(index)}: no label`));
      continue;
    }
    if (sourceAt >= 0 && row[sourceAt]) record.group = row[sourceAt];
    const extra = utkNameFields(basename(file));
    for (const at of extraAt) extra[columns[at]] = row[at];
    if (extraAt.length > 0 || extra['gender'] !== undefined) record.extra = extra;
    out.push(record);
  }
  return out;
}

/** The label of a record as a string: the age, else the age group. */
export function labelOf(record: Pick<DatasetRecord, 'age' | 'ageGroup'>): string {
  return record.age !== undefined ? String(record.age) : (record.ageGroup ?? '');
}
