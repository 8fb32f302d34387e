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

/**
 * The shape of nearly every UTKFace name, all four fields present: UTK_NAME matches it with its groups at the
 * underscores and the first dot, so they are taken with indexOf instead of a match array per name.
 */
export const UTK_FULL_NAME = /^\d{1,3}_\d_\d_\d+\.(?:[^\n\r\u2028\u2029]*\.)?(?:jpe?g|png)$/i;

export function parseUtkName(name: string): { age: number; gender?: string; race?: string; datetime?: string } | undefined {
  if (!UTK_FULL_NAME.test(name)) return parseUtkNameByPattern(name);
  const underscore = name.indexOf('_');
  const age = Number(name.slice(0, underscore));
  if (age > 130) return undefined;
  return { age, gender: name[underscore + 1], race: name[underscore + 3], datetime: name.slice(underscore + 5, name.indexOf('.', underscore + 5)) };
}

/** parseUtkName by UTK_NAME's groups, for any name. */
export function parseUtkNameByPattern(name: string): { age: number; gender?: string; race?: string; datetime?: string } | undefined {
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

/** A CSV's cells row after row: row i's value of `columns[j]` is `cells[i * columns.length + j]`. */
interface CsvTable {
  columns: string[];
  rowCount: number;
  cells: string[];
}

/**
 * A quote-free CSV parsed directly, when that gives exactly what csv-parse gives with
 * `{columns: true, skip_empty_lines: true, trim: true, bom: true}`; undefined means "use csv-parse" (quotes, ragged rows,
 * duplicate or empty headers, lone CRs, blank-looking lines: its rules and error messages apply). ~10x faster on 19k rows.
 */
export function parseSimpleCsv(text: string): Record<string, string>[] | undefined {
  const table = parseSimpleCsvTable(text);
  if (!table) return undefined;
  const { columns, rowCount, cells } = table;
  const rows: Record<string, string>[] = [];
  for (let i = 0; i < rowCount; i++) {
    const row: Record<string, string> = {};
    for (let c = 0; c < columns.length; c++) row[columns[c]] = cells[i * columns.length + c];
    rows.push(row);
  }
  return rows;
}

/**
 * parseSimpleCsv's rows as one array of cells, the columns in the order of the row objects' keys (Object.keys): one
 * scan of the text with indexOf, no array per line or row.
 */
function parseSimpleCsvTable(text: string): CsvTable | undefined {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.includes('"')) return undefined;
  let header: string[] | undefined;
  let columns: string[] = [];
  // where each column's cell sits in a line (columns differ from the header when a name is integer-like or '__proto__')
  let order: number[] | undefined;
  const cells: string[] = [];
  const line: string[] = [];
  let rowCount = 0;
  let nextCr = body.indexOf('\r');
  for (let start = 0; start < body.length; ) {
    const lf = body.indexOf('\n', start);
    let end = lf < 0 ? body.length : lf;
    const lineStart = start;
    start = end + 1;
    if (nextCr >= 0 && nextCr < lineStart) nextCr = body.indexOf('\r', lineStart);
    if (nextCr >= 0 && nextCr < end) {
      // a CR only as the end of a CRLF: csv-parse has its own rules for lone CRs
      if (nextCr !== lf - 1) return undefined;
      end = lf - 1;
    }
    if (end === lineStart) continue;
    if (!header) {
      header = body.slice(lineStart, end).split(',').map((c) => c.trim());
      if (header.some((c) => c === '') || new Set(header).size !== header.length) return undefined;
      const probe: Record<string, string> = {};
      for (const c of header) probe[c] = '';
      columns = Object.keys(probe);
      const names = header;
      if (columns.length !== names.length || columns.some((c, i) => c !== names[i])) order = columns.map((c) => names.indexOf(c));
      continue;
    }
    const width = header.length;
    let cellStart = lineStart;
    for (let c = 0; c < width; c++) {
      let cellEnd = end;
      if (c < width - 1) {
        cellEnd = body.indexOf(',', cellStart);
        if (cellEnd < 0 || cellEnd >= end) return undefined; // fewer cells than columns
      }
      const raw = body.slice(cellStart, cellEnd);
      if (c === width - 1 && raw.includes(',')) return undefined; // more cells than columns
      const cell = raw.trim();
      if (width === 1 && cell === '') return undefined; // a blank-looking line
      if (order) line[c] = cell;
      else cells.push(cell);
      cellStart = cellEnd + 1;
    }
    if (order) for (const at of order) cells.push(line[at]);
    rowCount++;
  }
  return header && { columns, rowCount, cells };
}

/** A labels CSV as a table: the quote-free fast path, else csv-parse's rows (its rules and errors). */
function parseLabelsCsv(text: string): CsvTable {
  const simple = parseSimpleCsvTable(text);
  if (simple) return simple;
  const records: Record<string, string>[] = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  const columns = records.length > 0 ? Object.keys(records[0]) : [];
  return { columns, rowCount: records.length, cells: records.flatMap((record) => columns.map((c) => record[c])) };
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
  // UTKFace when at least half the direct files have UTKFace names: stop counting once half do
  let utk = 0;
  for (const f of direct) if (parseUtkName(basename(f)) && ++utk >= direct.length / 2) return 'utkface';
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
      const parsed = parseUtkName(basename(file));
      if (!parsed) {
        problems.push(datasetProblem(id, 'bad-name', `${id}: file name is not <age>_<gender>_<race>_<datetime>.jpg`));
        continue;
      }
      const extra: Record<string, string> = {};
      if (parsed.gender !== undefined) extra['gender'] = parsed.gender;
      if (parsed.race !== undefined) extra['race'] = parsed.race;
      if (parsed.datetime !== undefined) extra['datetime'] = parsed.datetime;
      partial.push({ id, file, age: parsed.age, extra });
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
  let records: DatasetRecord[];
  if (groupOf) records = partial.map((r) => ({ ...r, group: groupOf(r) }));
  else {
    // completed in place: `group` keeps its place among the keys (last, unless a CSV column set it), as a copy gives it
    for (const r of partial) r.group = r.group ?? r.id;
    records = partial as DatasetRecord[];
  }
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
   * What `general` gives, for a plain relative name ('a/b.jpg': no '.', '..' or empty segment, no backslash) that is
   * not a symbolic link, in a folder inside the root whose real path is its path (no link on the way), with no path
   * work per row: such a name is its own real path, or is missing (left for the reader, as `general` leaves it);
   * undefined for anything else (then ask `general`).
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
    if (!folder || (folder.links.size > 0 && folder.links.has(slash < 0 ? rel : rel.slice(slash + 1)))) return undefined;
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
  const { columns, rowCount, cells } = table;
  if (rowCount === 0) throw new DatasetError(csvFile, 'labels CSV has no rows');
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
  for (let index = 0, at = 0; index < rowCount; index++, at += columns.length) {
    const rel = cells[at + fileAt];
    if (!rel) {
      problems.push(datasetProblem(`${csvName}:${index + 2}`, 'empty-name', `${whereOf(index)}: empty file name`));
      continue;
    }
    const plain = paths.plain(rel);
    const place = plain ?? paths.general(rel, whereOf(index));
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
    if (ageAt >= 0 && cells[at + ageAt] !== '') {
      // whole years only: 32.5 is a labelling error to report, not a value to round
      const text = cells[at + ageAt];
      const age = /^\d{1,3}(\.0*)?$/.test(text) ? Number(text) : NaN;
      if (!(age >= 0 && age <= 130)) {
        problems.push(datasetProblem(rel, 'bad-label', `${whereOf(index)}: age '${text}' is not a whole number from 0 to 130`));
        continue;
      }
      record.age = age;
    }
    if (groupLabelAt >= 0 && cells[at + groupLabelAt]) record.ageGroup = cells[at + groupLabelAt];
    if (record.age === undefined && record.ageGroup === undefined) {
      problems.push(datasetProblem(rel, 'bad-label', `${whereOf(index)}: no label`));
      continue;
    }
    if (sourceAt >= 0 && cells[at + sourceAt]) record.group = cells[at + sourceAt];
    // a plain name's file name is its end as written (path.basename, a loop over the characters of the file's path,
    // was ~10 ms of a cold UTKFace scan)
    const extra = utkNameFields(plain ? rel.slice(rel.lastIndexOf('/') + 1) : basename(file));
    for (const c of extraAt) extra[columns[c]] = cells[at + c];
    if (extraAt.length > 0 || extra['gender'] !== undefined) record.extra = extra;
    out.push(record);
  }
  return out;
}

/** The label of a record as a string: the age, else the age group. */
export function labelOf(record: Pick<DatasetRecord, 'age' | 'ageGroup'>): string {
  return record.age !== undefined ? String(record.age) : (record.ageGroup ?? '');
}
