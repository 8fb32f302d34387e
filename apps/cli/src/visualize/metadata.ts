import { existsSync } from 'node:fs';
import { readCsv, DatasetError } from '@agekit/dataset';

/** One row of csv/metadata.csv (CONTRACTS.md), typed; missing numbers are NaN. */
export interface MetadataRow {
  id: string;
  label: string;
  age: number;
  ageGroup: string;
  width: number;
  height: number;
  laplacianVariance: number;
  meanIntensity: number;
  stdIntensity: number;
  /** Id of the image this one is an exact copy of ('' if none). */
  duplicateOf: string;
  /** Id of the image this one nearly duplicates ('' if none). */
  nearDuplicateOf: string;
  flags: string[];
  reasons: string;
  error: string;
}

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
  const rows = await readCsv(file);
  checkColumns(file, rows, METADATA_REQUIRED);
  return rows.map((r) => ({
    id: r['id'],
    label: r['label'] ?? '',
    age: num(r['age']),
    ageGroup: r['age_group'] ?? '',
    width: num(r['width']),
    height: num(r['height']),
    laplacianVariance: num(r['laplacian_variance']),
    meanIntensity: num(r['mean_intensity']),
    stdIntensity: num(r['std_intensity']),
    duplicateOf: r['duplicate_of'] ?? '',
    nearDuplicateOf: r['near_duplicate_of'] ?? '',
    flags: flagList(r['flags']),
    reasons: r['reasons'] ?? '',
    error: r['error'] ?? '',
  }));
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
