/**
 * The process stage as a library call: read a dataset and explore's metadata.csv, copy the images without a fixable
 * flag byte for byte, correct the others (quality-guarded), and write processed_dataset/ + csv/processing.csv whole or
 * not at all.
 */
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  DatasetError,
  describeError,
  mapSettled,
  metadataCsvPath,
  processingPaths,
  ProgressTracker,
  readMetadataCsv,
  readDataset,
  resolveWorkerEntry,
  runThreadTasks,
  StageOutputs,
  writeProcessedLabels,
  writeProcessingCsv,
  type DatasetLayout,
  type DatasetProblem,
  type ProcessingRow,
  type ProcessingStatus,
  type ProgressCallback,
} from '@agekit/dataset';
import { DEFAULT_THRESHOLDS, type QualityThresholds } from '@agekit/quality';
import { DEFAULT_ENHANCE_CONFIG, resolveCandidates, type EnhanceConfig } from './config';
import { FIXABLE_FLAGS, type FixableFlag } from './guard';
import { processContext, processingErrorRow, processMetadataOf, processRecord, type ProcessJob, type ProcessMetadata } from './process-record';

export interface ProcessDatasetOptions {
  /** The dataset explore measured (any layout readDataset knows). */
  data: string;
  /** The stage folder: writes <out>/processed_dataset/ and <out>/csv/processing.csv. */
  out: string;
  /** explore's metadata CSV (default <out>/csv/metadata.csv). */
  metadata?: string;
  /** The quality thresholds the corrections are checked against (default @agekit/quality's DEFAULT_THRESHOLDS). */
  thresholds?: QualityThresholds;
  /** Largest image (pixels) decoded (default: the decoder's). */
  maxPixels?: number;
  /** Candidate corrections per flag (configs/enhance.json's; the defaults for flags left out). */
  candidates?: EnhanceConfig['candidates'];
  beamWidth?: number;
  jpegQuality?: number;
  /** Images in flight per thread. */
  concurrency?: number;
  /** Worker threads (0 = one per core). */
  threads?: number;
  /** Called once the inputs are read, before the images are processed. */
  onStart?: (start: ProcessDatasetStart) => void;
  onProgress?: ProgressCallback;
  /** Stop early: the new outputs are dropped, the previous ones kept. */
  signal?: AbortSignal;
}

/** What processDataset found before the work began. */
export interface ProcessDatasetStart {
  images: number;
  layout: DatasetLayout;
  dataRoot: string;
  processedDir: string;
  /** Dataset entries that were refused (unreadable names, paths outside the root...). */
  problems: DatasetProblem[];
  metadataFile: string;
  /** Images without a row in metadata.csv (measured here). */
  missingMetadata: number;
}

export interface FlagSummary {
  flagged: number;
  /** Flagged images that no longer have this flag. */
  resolved: number;
  /** Flagged images that still have it. */
  unresolved: number;
  /** Flagged images that pass every check after processing. */
  passAll: number;
  /** passAll / flagged. */
  passAllShare: number;
}

export interface ProcessSummary {
  images: number;
  unchanged: number;
  resolved: number;
  unresolved: number;
  errors: number;
  /** Of the errors: entries skipped (a metadata error row, or refused by the dataset reader). */
  skipped: number;
  perFlag: Record<FixableFlag, FlagSummary>;
  /** Time spent processing the images (reading the inputs not included). */
  seconds: number;
  imagesPerSecond: number;
}

export interface ProcessDatasetResult extends ProcessSummary {
  processedDir: string;
  processingCsv: string;
  /** The rows of processing.csv, in dataset order. */
  rows: ProcessingRow<FixableFlag>[];
  /** Threads the images were processed on. */
  threads: number;
  /** Threads asked for (0 resolved to the cores); `threads` is lower with fewer images or without a worker module. */
  threadsRequested: number;
}

export function summarizeProcessing(rows: readonly ProcessingRow<FixableFlag>[], seconds: number): ProcessSummary {
  const perFlag = Object.fromEntries(
    FIXABLE_FLAGS.map((f) => [f, { flagged: 0, resolved: 0, unresolved: 0, passAll: 0, passAllShare: 0 }]),
  ) as Record<FixableFlag, FlagSummary>;
  for (const r of rows) {
    if (r.status === 'error') continue;
    for (const f of r.flagsBefore) {
      const s = perFlag[f];
      s.flagged++;
      if (r.flagsAfter.includes(f)) s.unresolved++;
      else s.resolved++;
      if (r.flagsAfter.length === 0) s.passAll++;
    }
  }
  for (const s of Object.values(perFlag)) s.passAllShare = s.flagged > 0 ? s.passAll / s.flagged : 0;
  const count = (status: ProcessingStatus): number => rows.filter((r) => r.status === status).length;
  return {
    images: rows.length,
    unchanged: count('unchanged'),
    resolved: count('resolved'),
    unresolved: count('unresolved'),
    errors: count('error'),
    skipped: rows.filter((r) => r.skipped).length,
    perFlag,
    seconds,
    imagesPerSecond: seconds > 0 ? rows.length / seconds : 0,
  };
}

function integerAtLeast(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new ConfigError('<options>', name, `must be an integer >= ${min} (got ${value})`);
  return value;
}

/**
 * Run the job on `threads` worker threads (each with `concurrency` images in flight), or in this thread when threads
 * <= 1 or no worker module is found. Rows come back in record order; the output does not depend on the thread count.
 */
async function processJob(
  job: ProcessJob,
  threads: number,
  concurrency: number,
  onProgress: ProgressCallback | undefined,
  signal: AbortSignal | undefined,
): Promise<{ rows: ProcessingRow<FixableFlag>[]; threads: number }> {
  const entry = threads > 1 ? resolveWorkerEntry({ from: __filename, module: 'process-worker', start: 'runProcessDatasetWorker' }) : undefined;
  if (!entry) {
    const context = processContext(job);
    const settled = await mapSettled(job.records, (record) => processRecord(record, context), { concurrency, onProgress, signal });
    return { rows: settled.map((s, i) => (s.ok ? s.value : processingErrorRow(job.records[i].id, describeError(s.error)))), threads: 1 };
  }
  const rows: ProcessingRow<FixableFlag>[] = new Array(job.records.length);
  const tracker = new ProgressTracker(job.records.length, onProgress);
  const used = await runThreadTasks<ProcessingRow<FixableFlag>>({
    entry,
    data: job,
    tasks: job.records.length,
    threads,
    inFlight: concurrency,
    signal,
    onResult(index, result) {
      rows[index] = result.ok ? result.value : processingErrorRow(job.records[index].id, result.error);
      tracker.tick(rows[index].status !== 'error');
    },
  });
  return { rows, threads: used };
}

/**
 * The process stage: `processDataset({ data, out })` reads <out>/csv/metadata.csv and writes <out>/processed_dataset/
 * (same ids as the input; labels.csv for a labels-CSV dataset) and <out>/csv/processing.csv, replacing the previous
 * ones together. Unreadable images become error rows; DatasetError when the dataset or metadata.csv is missing,
 * OutputPathError when `out` overlaps an input.
 */
export async function processDataset(options: ProcessDatasetOptions): Promise<ProcessDatasetResult> {
  const dataRoot = path.resolve(options.data);
  const out = path.resolve(options.out);
  const { processedDir, processingCsv } = processingPaths(out);
  const concurrency = integerAtLeast('concurrency', options.concurrency ?? DEFAULT_ENHANCE_CONFIG.concurrency, 1);
  const threadsOption = integerAtLeast('threads', options.threads ?? DEFAULT_ENHANCE_CONFIG.threads, 0);
  const threads = threadsOption === 0 ? os.availableParallelism() : threadsOption;
  const thresholds = options.thresholds ?? { ...DEFAULT_THRESHOLDS };

  // the dataset first: a missing dataset is that, not a missing metadata file
  const dataset = await readDataset(dataRoot);
  const metadataFile = path.resolve(options.metadata ?? metadataCsvPath(out));
  const plan = { inputs: [dataRoot, metadataFile], folders: [processedDir], files: [processingCsv] };
  await StageOutputs.check(plan);
  if (!existsSync(metadataFile)) throw new DatasetError(metadataFile, 'no metadata CSV: run `agekit explore` first (or pass --metadata)');
  return StageOutputs.write(plan, async (outputs) => {
    const metadata = new Map<string, ProcessMetadata>();
    for (const row of await readMetadataCsv(metadataFile)) {
      if (row.id) metadata.set(row.id, processMetadataOf(row));
    }
    options.onStart?.({
      images: dataset.records.length,
      layout: dataset.layout,
      dataRoot,
      processedDir,
      problems: dataset.problems,
      metadataFile,
      missingMetadata: dataset.records.filter((r) => !metadata.has(r.id)).length,
    });
    const start = performance.now();
    const job: ProcessJob = {
      records: dataset.records,
      metadata: [...metadata],
      processedDir: outputs.path(processedDir),
      thresholds,
      candidates: resolveCandidates(options.candidates ?? DEFAULT_ENHANCE_CONFIG.candidates, thresholds.minSide),
      beamWidth: options.beamWidth ?? DEFAULT_ENHANCE_CONFIG.beamWidth,
      jpegQuality: options.jpegQuality ?? DEFAULT_ENHANCE_CONFIG.jpegQuality,
      maxPixels: options.maxPixels,
    };
    const done = await processJob(job, threads, concurrency, options.onProgress, options.signal);
    if (dataset.layout === 'labels-csv') {
      const written = new Set(done.rows.filter((r) => r.status !== 'error').map((r) => r.id));
      await writeProcessedLabels(path.join(dataRoot, 'labels.csv'), dataRoot, outputs.path(processedDir), written);
    }
    // entries the dataset refused (outside the root, a link loop, a bad label): an error row each, as in metadata.csv
    const refused = dataset.problems.map((p) => processingErrorRow(p.path, p.reason, true));
    const rows = [...done.rows, ...refused];
    await writeProcessingCsv(outputs.path(processingCsv), rows);
    options.signal?.throwIfAborted();
    const summary = summarizeProcessing(rows, (performance.now() - start) / 1000);
    return { ...summary, processedDir, processingCsv, rows, threads: done.threads, threadsRequested: threads };
  });
}
