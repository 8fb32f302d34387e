import { existsSync } from 'node:fs';
import { DatasetError, readCsv, splitFlagCell } from '@agekit/dataset';

/**
 * The metadata.csv fields the figures use, typed; missing numbers are NaN. (The columns are explore's: when
 * @agekit/dataset's metadata artifact lands, this reader gives way to its readMetadataCsv.)
 */
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

const METADATA_REQUIRED = ['id', 'label', 'age', 'width', 'height', 'laplacian_variance', 'mean_intensity', 'std_intensity', 'flags', 'error'];

function num(v: string | undefined): number {
  if (v === undefined || v.trim() === '') return NaN;
  const n = Number(v);
  return Number.isFinite(n) ? n : NaN;
}

export async function readMetadata(file: string): Promise<MetadataRow[]> {
  if (!existsSync(file)) throw new DatasetError(file, "not found (run 'agekit explore' first, or pass --out to the folder that holds csv/metadata.csv)");
  const rows = await readCsv(file);
  if (rows.length > 0) {
    const missing = METADATA_REQUIRED.filter((c) => !(c in rows[0]));
    if (missing.length) throw new DatasetError(file, `missing column(s) ${missing.join(', ')}`);
  }
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
    flags: splitFlagCell(r['flags']),
    reasons: r['reasons'] ?? '',
    error: r['error'] ?? '',
  }));
}
