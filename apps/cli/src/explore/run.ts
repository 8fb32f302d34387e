import * as path from 'node:path';
import { CsvWriter, labelOf, readDataset, type CsvRow, type Dataset, type DatasetLayout, type ProgressCallback } from '@agekit/dataset';
import {
  checkQuality,
  FLAG_NAMES,
  findDuplicates,
  loadNativeQuality,
  nativeQualityUnavailableReason,
  type NativeQuality,
  type QualityFlag,
  type QualityThresholds,
} from '@agekit/quality';
import type { ChildProcess } from 'node:child_process';
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
  let dataset: Dataset;
  try {
    dataset = await readDataset(options.data, { layout: options.layout, labelsCsv: options.labelsCsv });
  } catch (error) {
    for (const child of prestarted) if (child.connected) child.disconnect();
    throw error;
  }
  const records = options.limit !== undefined ? dataset.records.slice(0, options.limit) : dataset.records;
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
    },
  );
  const duplicates = findDuplicates(
    records.map((r, i) => {
      const o = outcomes[i];
      return o.ok ? { id: r.id, pixelHash: o.value.metrics.pixelHash, phash: o.value.metrics.phash } : { id: r.id };
    }),
    options.thresholds.nearDuplicateMaxDistance,
  );
  const csvFile = path.join(options.out, 'csv', 'metadata.csv');
  const writer = await CsvWriter.open(csvFile, METADATA_COLUMNS);
  const flagCounts = Object.fromEntries(FLAG_NAMES.map((f) => [f, 0])) as Record<QualityFlag, number>;
  const failures: ExploreSummary['failures'] = [];
  const decoders = { native: 0, canvas: 0, sharp: 0 };
  let clean = 0;
  try {
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const o = outcomes[i];
      const row: CsvRow = { id: r.id, label: labelOf(r), age: r.age, age_group: r.ageGroup, group: r.group };
      if (!o.ok) {
        failures.push({ id: r.id, reason: o.error.reason, message: o.error.message });
        row['error'] = o.error.message;
        await writer.write(row);
        continue;
      }
      const m = o.value.metrics;
      decoders[o.value.decoder]++;
      const check = checkQuality({ ...m, duplicateOf: duplicates.duplicateOf[i], nearDuplicateOf: duplicates.nearDuplicateOf[i] }, options.thresholds);
      for (const f of check.flags) flagCounts[f]++;
      if (check.flags.length === 0) clean++;
      Object.assign(row, {
        width: m.width,
        height: m.height,
        channels: o.value.sourceChannels,
        format: o.value.format,
        laplacian_variance: m.laplacianVariance,
        mean_intensity: m.meanIntensity,
        std_intensity: m.stdIntensity,
        rms_contrast: m.rmsContrast,
        dark_score: m.darkScore,
        light_score: m.lightScore,
        clipped_shadows: m.clippedShadows,
        clipped_highlights: m.clippedHighlights,
        entropy: m.entropy,
        aspect_ratio: m.aspectRatio,
        chroma_mean: m.chromaMean,
        pixel_hash: m.pixelHash,
        phash: m.phash,
        duplicate_of: duplicates.duplicateOf[i],
        near_duplicate_of: duplicates.nearDuplicateOf[i],
        flags: check.flags.join(';'),
        reasons: check.reasons.join('; '),
        error: '',
      });
      for (const f of FLAG_NAMES) row[`flag_${f}`] = check.flags.includes(f) ? 1 : 0;
      await writer.write(row);
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
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
