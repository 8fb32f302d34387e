import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { numberCell, readCsv } from '../csv';
import { csvField, CsvTextWriter } from '../csv-text';
import { DatasetError } from '../errors';

/**
 * csv/metadata.csv, written by the explore stage (@agekit/quality exploreDataset) and read by process, visualize
 * and resample: one row per dataset entry, its measurements, its duplicate links and its quality flags.
 */

/** Where metadata.csv sits under a stage's output folder. */
export const METADATA_CSV = 'csv/metadata.csv';

/** Where the explore stage writes metadata.csv under `out`. */
export function metadataCsvPath(out: string): string {
  return path.join(out, ...METADATA_CSV.split('/'));
}

/**
 * The measured metrics in CSV order: the ImageMetrics field (@agekit/quality) and its column. This is the one
 * list of metrics: the CSV columns, quality's native binding (which maps the engine's outputs by these names)
 * and METRIC_NAMES all derive from it.
 */
export const METADATA_METRICS = [
  { name: 'laplacianVariance', column: 'laplacian_variance', kind: 'number' },
  { name: 'meanIntensity', column: 'mean_intensity', kind: 'number' },
  { name: 'stdIntensity', column: 'std_intensity', kind: 'number' },
  { name: 'rmsContrast', column: 'rms_contrast', kind: 'number' },
  { name: 'darkScore', column: 'dark_score', kind: 'number' },
  { name: 'lightScore', column: 'light_score', kind: 'number' },
  { name: 'clippedShadows', column: 'clipped_shadows', kind: 'number' },
  { name: 'clippedHighlights', column: 'clipped_highlights', kind: 'number' },
  { name: 'entropy', column: 'entropy', kind: 'number' },
  { name: 'aspectRatio', column: 'aspect_ratio', kind: 'number' },
  { name: 'chromaMean', column: 'chroma_mean', kind: 'number' },
  { name: 'pixelHash', column: 'pixel_hash', kind: 'hash' },
  { name: 'phash', column: 'phash', kind: 'hash' },
] as const;

export type MetadataMetric = (typeof METADATA_METRICS)[number];
/** A numeric metric's name (laplacianVariance, ...). */
export type MetadataNumberMetric = Extract<MetadataMetric, { kind: 'number' }>['name'];
/** A hash metric's name (pixelHash, phash: 16 hex digits). */
export type MetadataHashMetric = Extract<MetadataMetric, { kind: 'hash' }>['name'];

/** Every flag a quality check can raise, in CSV column order (@agekit/quality re-exports it as its FLAG_NAMES). */
export const FLAG_NAMES = [
  'blurry',
  'noisy',
  'dark',
  'bright',
  'low_texture',
  'low_resolution',
  'underexposed',
  'overexposed',
  'clipped_shadows',
  'clipped_highlights',
  'low_information',
  'odd_aspect_ratio',
  'grayscale',
  'duplicate',
  'near_duplicate',
] as const;

export type QualityFlag = (typeof FLAG_NAMES)[number];

/**
 * One row of metadata.csv. Empty fields read as NaN (numbers) or '' (text); a row whose `error` is set was not
 * measured (its measured fields are NaN/'' and its flag columns empty).
 */
export type MetadataRow = {
  /** The record's id (its path relative to the dataset root), or the path of a dataset entry that is not a record. */
  id: string;
  /** The age, else the age group (what a figure groups by). */
  label: string;
  age: number;
  ageGroup: string;
  /** Source/group id (records sharing it are copies of one source image). */
  group: string;
  width: number;
  height: number;
  /** Channels as stored: 1 gray, 3 colour, 4 with alpha / CMYK. */
  channels: number;
  /** Format sniffed from the bytes (jpeg, png, ...). */
  format: string;
  /** Ids of the images this one is an exact copy of (';'-separated, '' if none). */
  duplicateOf: string;
  /** Ids of the images this one nearly duplicates (';'-separated, '' if none). */
  nearDuplicateOf: string;
  /** Raised flags, in FLAG_NAMES order. */
  flags: string[];
  /** One human reason per flag, '; '-separated. */
  reasons: string;
  /** Why the image could not be measured ('' when it was). */
  error: string;
} & Record<MetadataNumberMetric, number> &
  Record<MetadataHashMetric, string>;

interface MetadataColumn {
  name: string;
  /** The field's text in a row (before CSV quoting). */
  text(row: MetadataRow): string;
  /** Set the field from its text. */
  parse(row: MetadataRow, text: string): void;
  /** A number column's field (formatMetadataRow writes it directly: a number never needs quoting). */
  number?: NumberKey;
  /** A flag column's flag (likewise). */
  flag?: QualityFlag;
}

type NumberKey = 'age' | 'width' | 'height' | 'channels' | MetadataNumberMetric;

/** A number field: NaN (not measured, no age) is an empty field. */
const numberText = (value: number): string => (Number.isNaN(value) ? '' : String(value));

function numberColumn(name: string, key: NumberKey): MetadataColumn {
  return {
    name,
    number: key,
    text: (row) => numberText(row[key]),
    parse: (row, text) => {
      row[key] = numberCell(text);
    },
  };
}

function textColumn(name: string, key: 'id' | 'label' | 'ageGroup' | 'group' | 'format' | 'duplicateOf' | 'nearDuplicateOf' | 'reasons' | 'error' | MetadataHashMetric): MetadataColumn {
  return {
    name,
    text: (row) => row[key],
    parse: (row, text) => {
      row[key] = text;
    },
  };
}

/** A flag's 1/0 field: empty for a row that was not measured (it has no check). */
const flagText = (row: MetadataRow, flag: QualityFlag): string => (row.error ? '' : row.flags.includes(flag) ? '1' : '0');

/** A flag's 1/0 column. */
function flagColumn(flag: QualityFlag): MetadataColumn {
  return {
    name: `flag_${flag}`,
    flag,
    text: (row) => flagText(row, flag),
    parse: () => undefined, // the flags column holds the same information
  };
}

/** The columns in file order: the one place that says what a row is and how each field is written and read. */
const COLUMNS: readonly MetadataColumn[] = [
  textColumn('id', 'id'),
  textColumn('label', 'label'),
  numberColumn('age', 'age'),
  textColumn('age_group', 'ageGroup'),
  textColumn('group', 'group'),
  numberColumn('width', 'width'),
  numberColumn('height', 'height'),
  numberColumn('channels', 'channels'),
  textColumn('format', 'format'),
  ...METADATA_METRICS.map((m) => (m.kind === 'number' ? numberColumn(m.column, m.name) : textColumn(m.column, m.name))),
  textColumn('duplicate_of', 'duplicateOf'),
  textColumn('near_duplicate_of', 'nearDuplicateOf'),
  {
    name: 'flags',
    text: (row) => row.flags.join(';'),
    parse: (row, text) => {
      row.flags = text
        .split(';')
        .map((f) => f.trim())
        .filter(Boolean);
    },
  },
  ...FLAG_NAMES.map(flagColumn),
  textColumn('reasons', 'reasons'),
  textColumn('error', 'error'),
];

/** csv/metadata.csv columns, in file order. */
export const METADATA_COLUMNS: readonly string[] = COLUMNS.map((c) => c.name);

/** Every field empty: what emptyMetadataRow copies (one shape for every row, made without adding fields one by one). */
const EMPTY_ROW: Readonly<MetadataRow> = (() => {
  const row = {
    id: '',
    label: '',
    age: NaN,
    ageGroup: '',
    group: '',
    width: NaN,
    height: NaN,
    channels: NaN,
    format: '',
    duplicateOf: '',
    nearDuplicateOf: '',
    flags: [],
    reasons: '',
    error: '',
  } as unknown as MetadataRow;
  for (const m of METADATA_METRICS) (row as Record<string, unknown>)[m.name] = m.kind === 'number' ? NaN : '';
  return row;
})();

/** A row with every field empty (NaN / '' / no flags), for a writer to fill. */
export function emptyMetadataRow(id: string): MetadataRow {
  const row = { ...EMPTY_ROW };
  row.id = id;
  row.flags = [];
  return row;
}

/** One line of metadata.csv (without the line end), the fields in METADATA_COLUMNS order. */
export function formatMetadataRow(row: MetadataRow): string {
  const fields: string[] = new Array(COLUMNS.length);
  // numbers and flags written directly (no quoting needed, no call through the column's closure): this runs once
  // per image while a dataset is explored
  for (let i = 0; i < COLUMNS.length; i++) {
    const c = COLUMNS[i];
    if (c.number !== undefined) fields[i] = numberText(row[c.number]);
    else if (c.flag !== undefined) fields[i] = flagText(row, c.flag);
    else fields[i] = csvField(c.text(row));
  }
  return fields.join(',');
}

const COLUMN_BY_NAME = new Map(COLUMNS.map((c) => [c.name, c]));

/** The text of one field of a row, as the file holds it (before CSV quoting); throws for a name that is not a column. */
export function metadataFieldText(row: MetadataRow, column: string): string {
  const found = COLUMN_BY_NAME.get(column);
  if (!found) throw new Error(`metadata.csv has no column ${column}`);
  return found.text(row);
}

/** A row from its fields by column name (missing columns read as empty). */
export function parseMetadataRow(fields: Record<string, string>): MetadataRow {
  const row = emptyMetadataRow('');
  for (const c of COLUMNS) c.parse(row, fields[c.name] ?? '');
  return row;
}

export interface ReadMetadataOptions {
  /** Columns the file must have (default: id); a file without rows is accepted as it is. */
  required?: readonly string[];
}

/** Read metadata.csv into typed rows; a missing file or a missing required column is a DatasetError naming the file. */
export async function readMetadataCsv(file: string, options: ReadMetadataOptions = {}): Promise<MetadataRow[]> {
  if (!existsSync(file)) throw new DatasetError(file, 'no such metadata file');
  const records = await readCsv(file);
  const required = options.required ?? ['id'];
  if (records.length > 0) {
    const missing = required.filter((c) => !(c in records[0]));
    if (missing.length) throw new DatasetError(file, `missing column(s) ${missing.join(', ')}`);
  }
  return records.map(parseMetadataRow);
}

/** Write metadata.csv (header, then one line per row) under a temporary name, renamed into place when complete. */
export async function writeMetadataCsv(file: string, rows: Iterable<MetadataRow>): Promise<void> {
  await writeMetadataCsvLines(file, (function* () {
    for (const row of rows) yield formatMetadataRow(row);
  })());
}

/**
 * writeMetadataCsv from the rows' lines as formatMetadataRow gives them, e.g. formatted one by one while a stage
 * still measures the next images: the same bytes for the same rows.
 */
export async function writeMetadataCsvLines(file: string, lines: Iterable<string>): Promise<void> {
  const writer = await CsvTextWriter.open(file, METADATA_COLUMNS);
  try {
    await writer.writeLines(lines);
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
