/**
 * The process stage's files: `<out>/processed_dataset/` (the input's images under the same ids, plus labels.csv for a
 * labels-CSV dataset) and `<out>/csv/processing.csv` (one row per image). The producer (@agekit/enhance) and every
 * reader import these definitions.
 */
import * as path from 'node:path';
import { CsvWriter, numberCell, readCsv, writeCsv } from '../csv';
import { DatasetError } from '../errors';
import { LABELS_CSV_FILE_COLUMNS } from '../layouts';

/** The folder of processed images under a stage's out folder. */
export const PROCESSED_DATASET_DIR = 'processed_dataset';
/** processing.csv, relative to a stage's out folder. */
export const PROCESSING_CSV = 'csv/processing.csv';
/** The labels file a processed labels-CSV dataset carries at its root. */
export const PROCESSED_LABELS_CSV = 'labels.csv';

/** Where the process stage writes under `out`. */
export function processingPaths(out: string): { processedDir: string; processingCsv: string } {
  return { processedDir: path.join(out, PROCESSED_DATASET_DIR), processingCsv: path.join(out, ...PROCESSING_CSV.split('/')) };
}

/** Columns of csv/processing.csv, in file order. */
export const PROCESSING_COLUMNS = [
  'id',
  'status',
  'flags_before',
  'flags_after',
  'operations',
  'laplacian_variance_before',
  'laplacian_variance_after',
  'mean_intensity_before',
  'mean_intensity_after',
  'std_intensity_before',
  'std_intensity_after',
  'width_before',
  'width_after',
  'height_before',
  'height_after',
  'ssim',
  'error',
] as const;

export const PROCESSING_STATUSES = ['unchanged', 'resolved', 'unresolved', 'error'] as const;
export type ProcessingStatus = (typeof PROCESSING_STATUSES)[number];

/** The image measurements processing.csv records before and after processing. */
export interface ProcessingMeasurement {
  width: number;
  height: number;
  laplacianVariance: number;
  meanIntensity: number;
  stdIntensity: number;
}

/** Each measurement with the stem of its `<stem>_before` / `<stem>_after` columns. */
export const PROCESSING_MEASUREMENT_COLUMNS: ReadonlyArray<{ key: keyof ProcessingMeasurement; column: string }> = [
  { key: 'laplacianVariance', column: 'laplacian_variance' },
  { key: 'meanIntensity', column: 'mean_intensity' },
  { key: 'stdIntensity', column: 'std_intensity' },
  { key: 'width', column: 'width' },
  { key: 'height', column: 'height' },
];

/** One row of processing.csv; `Flag` narrows the flag names (the producer knows its fixable flags). */
export interface ProcessingRow<Flag extends string = string> {
  id: string;
  status: ProcessingStatus;
  flagsBefore: Flag[];
  flagsAfter: Flag[];
  /** The corrections applied, as text ('' when none). */
  operations: string;
  /** Absent when the image could not be measured. */
  before?: ProcessingMeasurement;
  after?: ProcessingMeasurement;
  /** SSIM of the written image to the original (1 for a copy). */
  ssim?: number;
  error?: string;
  /** The metadata row had an error: the image was skipped, not written (not a column: known to the producer only). */
  skipped?: boolean;
}

/** Four decimals: the precision processing.csv keeps for measured values. */
const round4 = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 1e4) / 1e4);

/** The CSV cells of a row. */
function processingCells(r: ProcessingRow): Record<(typeof PROCESSING_COLUMNS)[number], string | number | undefined> {
  return {
    id: r.id,
    status: r.status,
    flags_before: r.flagsBefore.join(';'),
    flags_after: r.flagsAfter.join(';'),
    operations: r.operations,
    laplacian_variance_before: round4(r.before?.laplacianVariance),
    laplacian_variance_after: round4(r.after?.laplacianVariance),
    mean_intensity_before: round4(r.before?.meanIntensity),
    mean_intensity_after: round4(r.after?.meanIntensity),
    std_intensity_before: round4(r.before?.stdIntensity),
    std_intensity_after: round4(r.after?.stdIntensity),
    width_before: r.before?.width,
    width_after: r.after?.width,
    height_before: r.before?.height,
    height_after: r.after?.height,
    ssim: round4(r.ssim),
    error: r.error ?? '',
  };
}

/** Write processing.csv (atomically: a temporary file renamed into place). */
export async function writeProcessingCsv(file: string, rows: readonly ProcessingRow[]): Promise<void> {
  const writer = await CsvWriter.open(file, PROCESSING_COLUMNS);
  try {
    for (const r of rows) await writer.write(processingCells(r));
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** A `;`-separated flag cell. */
export function splitFlagCell(v: string | undefined): string[] {
  return (v ?? '')
    .split(';')
    .map((f) => f.trim())
    .filter(Boolean);
}

/** The before or after measurement of a row: undefined when every cell is empty, NaN for a single missing value. */
function measurementCells(row: Record<string, string>, suffix: 'before' | 'after'): ProcessingMeasurement | undefined {
  const cells = PROCESSING_MEASUREMENT_COLUMNS.map(({ key, column }) => [key, row[`${column}_${suffix}`]] as const);
  if (cells.every(([, v]) => v === undefined || v.trim() === '')) return undefined;
  return Object.fromEntries(cells.map(([key, v]) => [key, numberCell(v)])) as unknown as ProcessingMeasurement;
}

const REQUIRED_COLUMNS = ['id', 'status', 'flags_before', 'flags_after', ...PROCESSING_MEASUREMENT_COLUMNS.flatMap(({ column }) => [`${column}_before`, `${column}_after`])];

/** Read processing.csv; DatasetError when a required column is missing or a status is not one of PROCESSING_STATUSES. */
export async function readProcessingCsv(file: string): Promise<ProcessingRow[]> {
  const rows = await readCsv(file);
  if (rows.length > 0) {
    const missing = REQUIRED_COLUMNS.filter((c) => !(c in rows[0]));
    if (missing.length) throw new DatasetError(file, `missing column(s) ${missing.join(', ')}`);
  }
  return rows.map((r, i) => {
    const status = r['status'] as ProcessingStatus;
    if (!PROCESSING_STATUSES.includes(status)) {
      throw new DatasetError(file, `row ${i + 2}: status '${r['status']}' is not one of ${PROCESSING_STATUSES.join(', ')}`);
    }
    const ssim = numberCell(r['ssim']);
    return {
      id: r['id'],
      status,
      flagsBefore: splitFlagCell(r['flags_before']),
      flagsAfter: splitFlagCell(r['flags_after']),
      operations: r['operations'] ?? '',
      before: measurementCells(r, 'before'),
      after: measurementCells(r, 'after'),
      ssim: Number.isNaN(ssim) ? undefined : ssim,
      error: r['error'] ?? '',
    };
  });
}

/**
 * For a labels-CSV dataset, write `<processedDir>/labels.csv`: the original's rows (same columns) for the images that
 * were written (`written`: their ids). Returns the number of rows.
 */
export async function writeProcessedLabels(labelsCsv: string, dataRoot: string, processedDir: string, written: ReadonlySet<string>): Promise<number> {
  const rows = await readCsv(labelsCsv);
  if (rows.length === 0) return 0;
  const columns = Object.keys(rows[0]);
  const fileColumn = LABELS_CSV_FILE_COLUMNS.find((c) => columns.includes(c));
  const csvDir = path.dirname(path.resolve(labelsCsv));
  const keep = rows.filter((r) => {
    if (!fileColumn || !r[fileColumn]) return false;
    const id = path.relative(dataRoot, path.resolve(csvDir, r[fileColumn].trim())).split(path.sep).join('/');
    return written.has(id);
  });
  return writeCsv(path.join(processedDir, PROCESSED_LABELS_CSV), keep, columns);
}
