import * as path from 'node:path';
import { csvField, csvLine, CsvTextWriter, labelOf, readDataset, StageOutputs, type Dataset, type DatasetLayout, type DatasetRecord, type ProgressCallback } from '@agekit/dataset';
import {
  checkQuality,
  FLAG_NAMES,
  findDuplicates,
  loadNativeQuality,
  nativeQualityUnavailableReason,
  type NativeQuality,
  type QualityCheck,
  type QualityFlag,
  type QualityThresholds,
} from '@agekit/quality';
import type { ChildProcess } from 'node:child_process';
import type { AnalyzeOutcome } from './analyze';
import { analyzeFiles, startWorkers } from './pool';

/** Metric columns after std_intensity, in order (snake_case of ImageMetrics fields). */
export const EXTRA_METRIC_COLUMNS = [
  'rms_contrast',
  'dark_score',
  'light_score',
  'clipped_shadows',
  'clipped_highlights',
  'entropy',
  'aspect_ratio',
  'chroma_mean',
  'pixel_hash',
  'phash',
] as const;

/** csv/metadata.csv columns, in the order of the cross-helper contract. */
export const METADATA_COLUMNS: readonly string[] = [
  'id',
  'label',
  'age',
  'age_group',
  'group',
  'width',
  'height',
  'channels',
  'format',
  'laplacian_variance',
  'mean_intensity',
  'std_intensity',
  ...EXTRA_METRIC_COLUMNS,
  'duplicate_of',
  'near_duplicate_of',
  'flags',
  ...FLAG_NAMES.map((f) => `flag_${f}`),
  'reasons',
  'error',
];

/** Columns before duplicate_of and after near_duplicate_of: a row is head, the two duplicate links, tail. */
const DUPLICATE_AT = METADATA_COLUMNS.indexOf('duplicate_of');
if (DUPLICATE_AT !== 22 || METADATA_COLUMNS[DUPLICATE_AT + 1] !== 'near_duplicate_of' || METADATA_COLUMNS.length !== DUPLICATE_AT + 2 + FLAG_NAMES.length + 3) {
  throw new Error('METADATA_COLUMNS changed: update headValues and tailText');
}

/** The values of a row up to phash (METADATA_COLUMNS order); the measured ones only for a measured image. */
function headValues(r: DatasetRecord, o: AnalyzeOutcome): unknown[] {
  const label = labelOf(r);
  if (!o.ok) return [r.id, label, r.age, r.ageGroup, r.group];
  const m = o.value.metrics;
  return [
    r.id,
    label,
    r.age,
    r.ageGroup,
    r.group,
    m.width,
    m.height,
    o.value.sourceChannels,
    o.value.format,
    m.laplacianVariance,
    m.meanIntensity,
    m.stdIntensity,
    m.rmsContrast,
    m.darkScore,
    m.lightScore,
    m.clippedShadows,
    m.clippedHighlights,
    m.entropy,
    m.aspectRatio,
    m.chromaMean,
    m.pixelHash,
    m.phash,
  ];
}

/** Empty fields after the few a failed image has: its head is padded to the width of a measured one. */
const FAILED_HEAD_PADDING = ','.repeat(DUPLICATE_AT - 5);

/** The text of a row after near_duplicate_of: flags, one 1/0 column per flag, reasons, error. */
function tailText(check: QualityCheck | undefined, error?: string): string {
  if (!check) return `${','.repeat(FLAG_NAMES.length + 2)}${csvField(error)}`;
  const fields: string[] = new Array(FLAG_NAMES.length + 3);
  fields[0] = csvField(check.flags.join(';'));
  let k = 0;
  for (let f = 0; f < FLAG_NAMES.length; f++) {
    // check.flags is in FLAG_NAMES order
    if (check.flags[k] === FLAG_NAMES[f]) {
      fields[f + 1] = '1';
      k++;
    } else fields[f + 1] = '0';
  }
  fields[FLAG_NAMES.length + 1] = csvField(check.reasons.join('; '));
  fields[FLAG_NAMES.length + 2] = '';
  return fields.join(',');
}

/** Bit i set: the check raised FLAG_NAMES[i]. */
function flagMask(check: QualityCheck): number {
  let mask = 0;
  for (const f of check.flags) mask |= 1 << FLAG_NAMES.indexOf(f);
  return mask;
}

export interface ExploreOptions {
  data: string;
  out: string;
  layout?: DatasetLayout | 'auto';
  labelsCsv?: string;
  thresholds: QualityThresholds;
  workers: number;
  maxPixels: number;
  workerScript?: string;
  workerArgs?: string[];
  sharpOnly?: boolean;
  /**
   * native: @agekit/quality's native engine (C, libjpeg) measures the plain JPEGs in this process on
   * `workers` threads, the JS path the rest; js: decode + measureImage in worker processes; auto (default):
   * native when the addon loads. sharpOnly implies js.
   */
  engine?: ExploreEngine;
  /** Below this many images, measure in-process even when workers > 1 (default 200). */
  minImagesForWorkers?: number;
  /** Measure only the first N records (in the dataset's order). */
  limit?: number;
  onProgress?: ProgressCallback;
}

export type ExploreEngine = 'native' | 'js' | 'auto';

/** Thrown when --engine native is asked for and the addon cannot be loaded. */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
}

export interface ExploreSummary {
  dataset: string;
  layout: DatasetLayout;
  csv: string;
  images: number;
  read: number;
  failed: number;
  /** Failures by reason (empty, corrupt, unsupported-format, too-large, unreadable, ...). */
  failures: Array<{ id: string; reason: string; message: string }>;
  /** Dataset entries skipped before reading (bad names, missing files in a labels CSV). */
  problems: Array<{ path: string; reason: string }>;
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

/** The explore stage: measure every image of a dataset, check it, write csv/metadata.csv; returns the summary. */
export async function explore(options: ExploreOptions): Promise<ExploreSummary> {
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const minImages = options.minImagesForWorkers ?? 200;
  const asked = options.sharpOnly ? 'js' : (options.engine ?? 'auto');
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
  // js engine: fork the workers first, so their start-up overlaps the dataset scan (unused ones are let go by analyzeFiles)
  let prestarted: ChildProcess[] = [];
  if (!native && options.workers > 1 && options.workerScript && !(options.limit !== undefined && options.limit < minImages)) {
    prestarted = startWorkers(options.workers, { workerScript: options.workerScript, workerArgs: options.workerArgs });
  }
  const csvFile = path.join(options.out, 'csv', 'metadata.csv');
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
  // each row is formatted as soon as its outcome is known (while the engine measures the next files), except
  // the duplicate links, which need every hash: a row is its text up to phash, then duplicate_of and
  // near_duplicate_of, then the rest (its check is redone at the end for the few images with a duplicate link)
  const heads: string[] = new Array(records.length);
  const tails: string[] = new Array(records.length);
  const masks = new Int32Array(records.length);
  const { outcomes, workers, engineCounts, nativeTimes } = await analyzeFiles(
    records.map((r) => r.file),
    {
      native,
      nativeThreads: Math.max(1, options.workers),
      minFilesForWorkers: minImages,
      workers: records.length < minImages && !native ? 1 : options.workers,
      started: prestarted,
      maxPixels: options.maxPixels,
      sharpOnly: options.sharpOnly,
      workerScript: options.workerScript,
      workerArgs: options.workerArgs,
      onProgress: options.onProgress,
      onOutcome: (i, o) => {
        const head = csvLine(headValues(records[i], o));
        if (o.ok) {
          const check = checkQuality(o.value.metrics, options.thresholds);
          heads[i] = head;
          tails[i] = tailText(check);
          masks[i] = flagMask(check);
        } else {
          heads[i] = head + FAILED_HEAD_PADDING;
          tails[i] = tailText(undefined, o.error.message);
        }
      },
    },
  );
  const duplicates = findDuplicates(
    records.map((r, i) => {
      const o = outcomes[i];
      return o.ok ? { id: r.id, pixelHash: o.value.metrics.pixelHash, phash: o.value.metrics.phash } : { id: r.id };
    }),
    options.thresholds.nearDuplicateMaxDistance,
  );
  const writer = await CsvTextWriter.open(outputs.path(csvFile), METADATA_COLUMNS);
  const flagCounts = Object.fromEntries(FLAG_NAMES.map((f) => [f, 0])) as Record<QualityFlag, number>;
  const failures: ExploreSummary['failures'] = [];
  const decoders = { native: 0, canvas: 0, sharp: 0 };
  let clean = 0;
  try {
    for (let i = 0; i < records.length; i++) {
      const o = outcomes[i];
      if (!o.ok) {
        failures.push({ id: records[i].id, reason: o.error.reason, message: o.error.message });
        await writer.writeLine(`${heads[i]},,,${tails[i]}`);
        continue;
      }
      decoders[o.value.decoder]++;
      const duplicateOf = duplicates.duplicateOf[i];
      const nearDuplicateOf = duplicates.nearDuplicateOf[i];
      let mask = masks[i];
      let tail = tails[i];
      if (duplicateOf !== undefined || nearDuplicateOf !== undefined) {
        const check = checkQuality({ ...o.value.metrics, duplicateOf, nearDuplicateOf }, options.thresholds);
        mask = flagMask(check);
        tail = tailText(check);
      }
      if (mask === 0) clean++;
      else for (let f = 0; f < FLAG_NAMES.length; f++) if (mask & (1 << f)) flagCounts[FLAG_NAMES[f]]++;
      await writer.writeLine(`${heads[i]},${csvField(duplicateOf)},${csvField(nearDuplicateOf)},${tail}`);
    }
    // entries that are not records (a path leaving the dataset, a symlink loop, a bad label): an error row each
    for (const p of dataset.problems) await writer.writeLine(`${csvLine([p.path, '', '', '', ''])}${FAILED_HEAD_PADDING},,,${tailText(undefined, p.reason)}`);
    await writer.close();
    await outputs.commit();
  } catch (error) {
    await writer.abort();
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
    engineCounts,
    decoders,
    workers: native ? Math.max(1, options.workers) : workers,
    profile: { ...nativeTimes, processCpuSeconds: (cpu.user + cpu.system) / 1e6 },
    seconds,
    imagesPerSecond: records.length / seconds,
  };
}
