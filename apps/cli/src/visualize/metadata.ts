import { existsSync } from 'node:fs';
import { readCsv, readMetadataCsv, DatasetError, type MetadataRow as MetadataCsvRow } from '@agekit/dataset';

/** The fields of a metadata.csv row (@agekit/dataset's contract) the figures use; missing numbers are NaN. */
export type MetadataRow = Pick<
  MetadataCsvRow,
  'id' | 'label' | 'age' | 'ageGroup' | 'width' | 'height' | 'laplacianVariance' | 'meanIntensity' | 'stdIntensity' | 'duplicateOf' | 'nearDuplicateOf' | 'flags' | 'reasons' | 'error'
>;

/** One row of csv/processing.csv (CONTRACTS.md). */
export interface ProcessingRow {
  id: string;
  status: string;
  flagsBefore: string[];
  flagsAfter: string[];
  operations: string;
  before: Record<ProcessingMetric, number>;
  after: Record<ProcessingMetric, number>;
  ssim: number;
  error: string;
}

export const PROCESSING_METRICS = ['laplacian_variance', 'mean_intensity', 'std_intensity', 'width', 'height'] as const;
export type ProcessingMetric = (typeof PROCESSING_METRICS)[number];

const METADATA_REQUIRED = ['id', 'label', 'age', 'width', 'height', 'laplacian_variance', 'mean_intensity', 'std_intensity', 'flags', 'error'];
const PROCESSING_REQUIRED = ['id', 'status', 'flags_before', 'flags_after', ...PROCESSING_METRICS.flatMap((m) => [`${m}_before`, `${m}_after`])];

function num(v: string | undefined): number {
  if (v === undefined || v.trim() === '') return NaN;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

function flagList(v: string | undefined): string[] {
  return (v ?? '')
    .split(';')
    .map((f) => f.trim())
    .filter(Boolean);
}

function checkColumns(file: string, rows: Record<string, string>[], required: string[]): void {
  if (rows.length === 0) return;
  const missing = required.filter((c) => !(c in rows[0]));
  if (missing.length) throw new DatasetError(file, `missing column(s) ${missing.join(', ')}`);
}

export async function readMetadata(file: string): Promise<MetadataRow[]> {
  if (!existsSync(file)) throw new DatasetError(file, "not found (run 'agekit explore' first, or pass --out to the folder that holds csv/metadata.csv)");
  return readMetadataCsv(file, { required: METADATA_REQUIRED });
}

export async function readProcessing(file: string): Promise<ProcessingRow[]> {
  const rows = await readCsv(file);
  checkColumns(file, rows, PROCESSING_REQUIRED);
  const pick = (r: Record<string, string>, suffix: string) =>
    Object.fromEntries(PROCESSING_METRICS.map((m) => [m, num(r[`${m}_${suffix}`])])) as Record<ProcessingMetric, number>;
  return rows.map((r) => ({
    id: r['id'],
    status: r['status'] ?? '',
    flagsBefore: flagList(r['flags_before']),
    flagsAfter: flagList(r['flags_after']),
    operations: r['operations'] ?? '',
    before: pick(r, 'before'),
    after: pick(r, 'after'),
    ssim: num(r['ssim']),
    error: r['error'] ?? '',
  }));
}
