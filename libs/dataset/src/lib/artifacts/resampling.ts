import * as path from 'node:path';
import { CsvWriter, readCsv } from '../csv';
import { DatasetError } from '../errors';

/**
 * The resample stage's outputs, read by the trainer and the pipeline tools: `resampled_dataset/<split>/<label>/<file>`
 * and `csv/resampling.csv` (one row per file written or failed), both under the stage's output root.
 */

/**
 * The splits, in the order they are made and listed: train/val/test, and `heldout`, the evaluation set a hold-out
 * (HoldOutSpec, e.g. one population) keeps out of the other three; empty without one.
 */
export const SPLIT_NAMES = ['train', 'val', 'test', 'heldout'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** The resampled dataset's folder under the output root: one sub-folder per split, each a folder-per-label dataset. */
export const RESAMPLED_DATASET_DIR = 'resampled_dataset';
/** The resampling CSV under the output root. */
export const RESAMPLING_CSV = path.posix.join('csv', 'resampling.csv');
/** The chart of target against achieved counts under the output root (resample's part of visualizations/). */
export const RESAMPLE_CHART_PNG = path.posix.join('visualizations', 'resample', 'target_vs_achieved.png');

/** The folder of one split inside a resampled dataset folder (`<root>/resampled_dataset` or that folder itself). */
export function resampledSplitFolder(resampledDataset: string, split: SplitName): string {
  return path.join(resampledDataset, split);
}

export const RESAMPLING_CSV_COLUMNS = ['output', 'split', 'source', 'group', 'transform', 'seed', 'age', 'label', 'error'] as const;

/** One row of csv/resampling.csv. */
export interface ResamplingRow {
  /** The file written, relative to the output root: `resampled_dataset/<split>/<label>/<file>`. */
  output: string;
  split: SplitName;
  /** The source record's id (its path relative to the input dataset). */
  source: string;
  /** The source group the split kept together (source image, copies and near-duplicates). */
  group: string;
  /** 'copy', or the augmentation's parameters as text. */
  transform: string;
  seed: number;
  /** The source's age, or its age group when it has none. */
  age: number | string;
  /** The class the plan counted it in (an age or a bin such as "20-24"). */
  label: string;
  /** Why the file could not be written (empty when it was). */
  error: string;
}

/** Write csv/resampling.csv under a temporary name, renamed into place when complete. */
export async function writeResamplingCsv(file: string, rows: Iterable<ResamplingRow>): Promise<number> {
  const csv = await CsvWriter.open(file, RESAMPLING_CSV_COLUMNS);
  try {
    for (const row of rows) await csv.write({ ...row });
    await csv.close();
  } catch (error) {
    await csv.abort();
    throw error;
  }
  return csv.rowCount;
}

function isSplitName(value: string): value is SplitName {
  return (SPLIT_NAMES as readonly string[]).includes(value);
}

/** Read csv/resampling.csv; a missing column or an unknown split is an error naming the file. */
export async function readResamplingCsv(file: string): Promise<ResamplingRow[]> {
  const rows = await readCsv(file);
  if (rows.length > 0) {
    const missing = RESAMPLING_CSV_COLUMNS.filter((c) => !(c in rows[0]));
    if (missing.length > 0) throw new DatasetError(file, `not a resampling CSV (no ${missing.join(', ')} column)`);
  }
  return rows.map((row, i) => {
    const split = row['split'];
    if (!isSplitName(split)) throw new DatasetError(file, `row ${i + 2}: unknown split '${split}'`);
    const age = row['age'];
    return {
      output: row['output'],
      split,
      source: row['source'],
      group: row['group'],
      transform: row['transform'],
      seed: Number(row['seed']),
      age: age !== '' && Number.isFinite(Number(age)) ? Number(age) : age,
      label: row['label'],
      error: row['error'],
    };
  });
}
