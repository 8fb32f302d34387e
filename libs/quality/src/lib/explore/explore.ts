import * as os from 'node:os';
import {
  emptyMetadataRow,
  labelOf,
  metadataCsvPath,
  METADATA_METRICS,
  readDataset,
  StageOutputs,
  formatMetadataRow,
  writeMetadataCsvLines,
  type Dataset,
  type DatasetLayout,
  type DatasetProblem,
  type DatasetRecord,
  type MetadataRow,
  type ProgressCallback,
} from '@agekit/dataset';
import type { ChildProcess } from 'node:child_process';
import { checkQuality, FLAG_NAMES, type QualityCheck, type QualityFlag } from '../checks';
import { DuplicateFinder } from '../duplicates';
import { loadNativeQuality, nativeQualityUnavailableReason, type NativeQuality } from '../native';
import { DEFAULT_EXPLORE_WORKERS, DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLDS, type QualityThresholds } from '../thresholds';
import type { ImageMetrics } from '../metrics';
import type { AnalyzedImage, AnalyzeFailure } from './analyze';
import { analyzeFiles, exploreWorkerEntry, startWorkers } from './pool';

/** Which engine measures: native (C, libjpeg; the JS path for the files it does not handle), js, or auto. */
export type ExploreEngine = 'native' | 'js' | 'auto';

/** Explore's default for minImagesForWorkers: below this many images, starting worker processes costs more than it saves. */
export const MIN_IMAGES_FOR_WORKERS = 200;

export interface ExploreDatasetOptions {
  /** The dataset folder (see @agekit/dataset's layouts). */
  data: string;
  /** Output root: metadata.csv goes to `<out>/csv/metadata.csv`. */
  out: string;
  /** Dataset layout (default auto-detected). */
  layout?: DatasetLayout | 'auto';
  /** Labels CSV for the labels-csv layout (default `<data>/labels.csv`). */
  labelsCsv?: string;
  /** Thresholds of the checks (default DEFAULT_THRESHOLDS). */
  thresholds?: QualityThresholds;
  /** Worker processes (js engine) or threads (native engine); 0 = one per core (default, as configs/quality.json). */
  workers?: number;
  /** Refuse images with more pixels than this (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
  /**
   * native: the native engine (C, libjpeg) measures the plain JPEGs in this process on `workers` threads, the JS
   * path the rest; js: decode + measureImage in worker processes; auto (default): native when the addon loads.
   */
  engine?: ExploreEngine;
  /** Decode every file with sharp (no fast JPEG path; implies engine js; for comparisons). */
  sharpOnly?: boolean;
  /** Measure only the first N records (in the dataset's order). */
  limit?: number;
  /** Below this many images, measure in-process even when workers > 1 (default MIN_IMAGES_FOR_WORKERS). */
  minImagesForWorkers?: number;
  onProgress?: ProgressCallback;
  /** Stop early: the outputs are aborted (a previous metadata.csv is kept) and the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Thrown when engine 'native' is asked for and the addon cannot be loaded. */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
}

export interface ExploreDatasetResult {
  dataset: string;
  layout: DatasetLayout;
  /** The metadata.csv written. */
  csv: string;
  images: number;
  read: number;
  failed: number;
  /** Failures by reason (empty, corrupt, unsupported-format, too-large, unreadable, ...). */
  failures: Array<{ id: string; reason: string; message: string }>;
  /** Dataset entries skipped before reading (bad names, missing files in a labels CSV): an error row each. */
  problems: DatasetProblem[];
  flags: Record<QualityFlag, number>;
  /** Images with no flag at all. */
  clean: number;
  /** Which engine ran: native (with the JS path for the files it does not handle) or js. */
  engine: 'native' | 'js';
  /** Why auto chose js (the native engine could not be loaded), when it did. */
  engineNote?: string;
  /** Files measured by each path (read errors the native engine recognised count as native). */
  engineCounts: { native: number; js: number };
  decoders: { native: number; canvas: number; sharp: number };
  /** Worker processes (js path) or, with the native engine, its threads. */
  workers: number;
  /**
   * Where the CPU time went: the native engine's thread CPU seconds per stage, and this process's CPU
   * seconds (user + system, all threads, worker processes not included) for the whole stage.
   */
  profile: { readSeconds: number; decodeSeconds: number; metricsSeconds: number; processCpuSeconds: number };
  seconds: number;
  imagesPerSecond: number;
}

function cores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** A record's own fields (what every row has, measured or not). */
function recordRow(record: DatasetRecord): MetadataRow {
  const row = emptyMetadataRow(record.id);
  row.label = labelOf(record);
  row.age = record.age ?? NaN;
  row.ageGroup = record.ageGroup ?? '';
  row.group = record.group;
  return row;
}

/** A check's flags as bits (bit k: FLAG_NAMES[k]). */
function bitsOf(flags: readonly QualityFlag[]): number {
  let bits = 0;
  for (const flag of flags) bits |= 1 << FLAG_NAMES.indexOf(flag);
  return bits;
}

/** A measured row with the flags and reasons of its check. */
function checkedRow(row: MetadataRow, check: QualityCheck): MetadataRow {
  row.flags = check.flags;
  row.reasons = check.reasons.join('; ');
  return row;
}

/** The numeric fields of an ImageMetrics: width, height, channels, then the metadata table's numbers. */
const NUMBER_FIELDS = ['width', 'height', 'channels', ...METADATA_METRICS.filter((m) => m.kind === 'number').map((m) => m.name)] as const;
/** Its text fields: the hashes. */
const HASH_FIELDS = METADATA_METRICS.filter((m) => m.kind === 'hash').map((m) => m.name);

/** What a measured row is made from. */
type RowMeasurements = Pick<AnalyzedImage, 'format' | 'sourceChannels' | 'metrics'>;

/**
 * Each measured image's measurements in columns (numbers in one Float64Array, texts by reference), ~150 bytes an image:
 * the rows that get a duplicate link, known only once every file is measured, are made again from them, without
 * keeping each image's measurement objects (~0.7 KB) or parsing its CSV line back.
 */
class Measurements {
  private readonly numbers: Float64Array;
  private readonly texts: string[];
  /** Texts per image: format, then the hashes. */
  private static readonly TEXTS = 1 + HASH_FIELDS.length;

  constructor(count: number) {
    this.numbers = new Float64Array(count * (NUMBER_FIELDS.length + 1));
    this.texts = new Array(count * Measurements.TEXTS);
  }

  set(index: number, image: RowMeasurements): void {
    const m = image.metrics as unknown as Record<string, number | string>;
    let at = index * (NUMBER_FIELDS.length + 1);
    for (const field of NUMBER_FIELDS) this.numbers[at++] = m[field] as number;
    this.numbers[at] = image.sourceChannels;
    at = index * Measurements.TEXTS;
    this.texts[at++] = image.format;
    for (const field of HASH_FIELDS) this.texts[at++] = m[field] as string;
  }

  get(index: number): RowMeasurements {
    const metrics: Record<string, number | string> = {};
    let at = index * (NUMBER_FIELDS.length + 1);
    for (const field of NUMBER_FIELDS) metrics[field] = this.numbers[at++];
    const sourceChannels = this.numbers[at];
    at = index * Measurements.TEXTS;
    const format = this.texts[at++];
    for (const field of HASH_FIELDS) metrics[field] = this.texts[at++];
    return { format, sourceChannels, metrics: metrics as unknown as ImageMetrics };
  }
}

function measuredRow(record: DatasetRecord, image: RowMeasurements): MetadataRow {
  const row = recordRow(record);
  const m = image.metrics;
  row.width = m.width;
  row.height = m.height;
  row.channels = image.sourceChannels;
  row.format = image.format;
  for (const metric of METADATA_METRICS) (row as Record<string, unknown>)[metric.name] = m[metric.name];
  return row;
}

/**
 * The explore stage: measure every image of a dataset (the native engine when built, else decode + measureImage in
 * worker processes), check it against the thresholds, link exact and near duplicates, and write
 * `<out>/csv/metadata.csv` atomically (a row per record, and an error row per dataset entry that is not one).
 */
export async function exploreDataset(options: ExploreDatasetOptions): Promise<ExploreDatasetResult> {
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const thresholds = options.thresholds ?? { ...DEFAULT_THRESHOLDS };
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const minImages = options.minImagesForWorkers ?? MIN_IMAGES_FOR_WORKERS;
  const workersAsked = options.workers ?? DEFAULT_EXPLORE_WORKERS;
  const workers = workersAsked === 0 ? cores() : workersAsked;
  const asked = options.sharpOnly ? 'js' : (options.engine ?? 'auto');
  options.signal?.throwIfAborted();
  let native: NativeQuality | undefined;
  let engineNote: string | undefined;
  if (asked !== 'js') {
    native = loadNativeQuality();
    if (!native) {
      const why = nativeQualityUnavailableReason() ?? 'not available';
      if (asked === 'native') throw new EngineUnavailableError(`the native engine is not available: ${why}`);
      engineNote = `native engine not available (${why}); used the js engine`;
    }
  }
  const workerEntry = exploreWorkerEntry();
  // js engine: start the workers first, so their start-up overlaps the dataset scan (unused ones are let go by analyzeFiles)
  let prestarted: ChildProcess[] = [];
  if (!native && workers > 1 && workerEntry && !(options.limit !== undefined && options.limit < minImages)) {
    prestarted = startWorkers(workers, workerEntry);
  }
  const csvFile = metadataCsvPath(options.out);
  let dataset: Dataset;
  let outputs: StageOutputs;
  try {
    dataset = await readDataset(options.data, { layout: options.layout, labelsCsv: options.labelsCsv });
    outputs = await StageOutputs.begin({ inputs: [options.data, options.labelsCsv], files: [csvFile] });
  } catch (error) {
    for (const child of prestarted) if (child.connected) child.disconnect();
    throw error;
  }
  const records = options.limit !== undefined ? dataset.records.slice(0, options.limit) : dataset.records;
  const flagCounts = Object.fromEntries(FLAG_NAMES.map((f) => [f, 0])) as Record<QualityFlag, number>;
  const failures: ExploreDatasetResult['failures'] = [];
  const decoders = { native: 0, canvas: 0, sharp: 0 };
  let clean = 0;
  let analysis: Awaited<ReturnType<typeof analyzeFiles>>;
  // each file's CSV line, its checks and its duplicate-finding work are done as its outcome arrives, while the engine
  // measures the next files; the line is kept and the measurements in columns (Measurements). The rows that get a
  // duplicate link, known only once every file is measured, are made again from them.
  const lines: string[] = new Array(records.length);
  const measurements = new Measurements(records.length);
  /** Each measured row's flags (bit k: FLAG_NAMES[k]). */
  const flagBits = new Uint32Array(records.length);
  /** Count a measured row's flags (by 1), or take them back (by -1) when a duplicate link changes its check. */
  const tally = (bits: number, by: 1 | -1): void => {
    if (bits === 0) clean += by;
    else for (let k = 0; k < FLAG_NAMES.length; k++) if ((bits >>> k) & 1) flagCounts[FLAG_NAMES[k]] += by;
  };
  const failed = new Map<number, AnalyzeFailure>();
  const duplicateFinder = new DuplicateFinder(thresholds.nearDuplicateMaxDistance);
  try {
    analysis = await analyzeFiles(
      records.map((r) => r.file),
      {
        native,
        nativeThreads: Math.max(1, workers),
        minFilesForWorkers: minImages,
        workers: records.length < minImages && !native ? 1 : workers,
        workerEntry,
        started: prestarted,
        maxPixels,
        sharpOnly: options.sharpOnly,
        onProgress: options.onProgress,
        signal: options.signal,
        keepOutcomes: false,
        onOutcome: (i, outcome) => {
          if (!outcome.ok) {
            failed.set(i, outcome.error);
            const row = recordRow(records[i]);
            row.error = outcome.error.message;
            lines[i] = formatMetadataRow(row);
            return;
          }
          decoders[outcome.value.decoder]++;
          const { metrics } = outcome.value;
          measurements.set(i, outcome.value);
          duplicateFinder.add(i, { id: records[i].id, pixelHash: metrics.pixelHash, phash: metrics.phash });
          const check = checkQuality(metrics, thresholds);
          flagBits[i] = bitsOf(check.flags);
          tally(flagBits[i], 1);
          lines[i] = formatMetadataRow(checkedRow(measuredRow(records[i], outcome.value), check));
        },
      },
    );
    options.signal?.throwIfAborted();
    const duplicates = duplicateFinder.result(records.length);
    for (let i = 0; i < records.length; i++) {
      const duplicateOf = duplicates.duplicateOf[i];
      const nearDuplicateOf = duplicates.nearDuplicateOf[i];
      if (!(duplicateOf || nearDuplicateOf)) continue; // failed files have no hashes, so no links
      const image = measurements.get(i);
      const row = measuredRow(records[i], image);
      row.duplicateOf = duplicateOf ?? '';
      row.nearDuplicateOf = nearDuplicateOf ?? '';
      const check = checkQuality({ ...image.metrics, duplicateOf, nearDuplicateOf }, thresholds);
      tally(flagBits[i], -1);
      flagBits[i] = bitsOf(check.flags);
      tally(flagBits[i], 1);
      lines[i] = formatMetadataRow(checkedRow(row, check));
    }
    for (const [i, error] of [...failed].sort(([a], [b]) => a - b)) failures.push({ id: records[i].id, reason: error.reason, message: error.message });
    // entries that are not records (a path leaving the dataset, a symlink loop, a bad label): an error row each
    for (const problem of dataset.problems) {
      const row = emptyMetadataRow(problem.path);
      row.error = problem.reason;
      lines.push(formatMetadataRow(row));
    }
    await writeMetadataCsvLines(outputs.path(csvFile), lines);
    options.signal?.throwIfAborted();
    await outputs.commit();
  } catch (error) {
    await outputs.abort();
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return {
    dataset: dataset.root,
    layout: dataset.layout,
    csv: csvFile,
    images: records.length,
    read: records.length - failures.length,
    failed: failures.length,
    failures,
    problems: dataset.problems,
    flags: flagCounts,
    clean,
    engine: native ? 'native' : 'js',
    ...(engineNote ? { engineNote } : {}),
    engineCounts: analysis.engineCounts,
    decoders,
    workers: native ? Math.max(1, workers) : analysis.workers,
    profile: { ...analysis.nativeTimes, processCpuSeconds: (cpu.user + cpu.system) / 1e6 },
    seconds,
    imagesPerSecond: records.length / seconds,
  };
}
