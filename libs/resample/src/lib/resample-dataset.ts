import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  DatasetError,
  DEFAULT_MAX_PIXELS,
  describeError,
  RESAMPLE_CHART_PNG,
  processingPaths,
  RESAMPLED_DATASET_DIR,
  RESAMPLING_CSV,
  readDataset,
  SPLIT_NAMES,
  StageOutputs,
  writeFileAtomic,
  writeResamplingCsv,
  type DatasetProblem,
  type DatasetRecord,
  type Progress,
  type SplitName,
} from '@agekit/dataset';
import { DEFAULT_THRESHOLDS } from '@agekit/quality';
import { defaultResampleConfig, type ResampleConfig, type TargetConfig } from './config';
import { GroupUnion, linkMetadataGroups, readProcessingExclusions } from './groups';
import { planDatasetResampling, writeResampledDataset, type WriteResampledResult } from './pipeline';
import type { ResamplingPlan } from './plan';
import { screenImages } from './screen';
import { classifier, strategyFor } from './target';
import { validateResampling, type ResamplingValidation } from './validate';

/** The named phases of progress: measuring the inputs, copying, augmenting. */
export type ResamplePhase = 'screen' | 'copy' | 'augment';

/** The target-vs-achieved chart's content; `renderChart` turns it into a PNG (@agekit/plot's renderGroupedBarChart fits). */
export interface ResampleChart {
  title: string;
  xLabel: string;
  yLabel: string;
  labels: string[];
  series: { name: string; values: number[] }[];
}

export interface ResampleDatasetOptions {
  /** The dataset to resample when there is no `input` and no `<out>/processed_dataset`. */
  data?: string;
  /** The output root: `resampled_dataset/`, `csv/resampling.csv` and the chart go under it. */
  out: string;
  /** The dataset to resample (default: `<out>/processed_dataset` when it exists, else `data`). */
  input?: string;
  /** csv/metadata.csv of the explore stage: its error rows are left out and its duplicate groups joined. */
  metadata?: string;
  /** Where relative distribution files of `target` are (default: the current folder). */
  baseDir?: string;
  seed?: number;
  ages?: Partial<ResampleConfig['ages']>;
  target?: TargetConfig;
  /** Training-split size after resampling (default: its size before). */
  total?: number;
  split?: Partial<ResampleConfig['split']>;
  /** Records (and their groups) held out into `resampled_dataset/heldout/`, never in train/val/test. */
  holdOut?: ResampleConfig['holdOut'];
  augmentation?: Partial<ResampleConfig['augmentation']>;
  /** JPEG/WebP quality of augmented copies. */
  quality?: number;
  /** Images in flight. */
  concurrency?: number;
  /** Images whose shorter side (before processing) is below this many pixels are left out. */
  minSide?: number;
  /** Any left-out input or failed output stops the run with nothing written. */
  strict?: boolean;
  /** Plan only: nothing is written. */
  dryRun?: boolean;
  /** Renders the target-vs-achieved chart; without it no chart is written. */
  renderChart?: (chart: ResampleChart) => Promise<Uint8Array>;
  onProgress?: (progress: Progress, phase: ResamplePhase) => void;
  /** Stops the run: the outputs are dropped and the previous ones stay. */
  signal?: AbortSignal;
}

export interface ResampleDatasetResult {
  /** The dataset read, its layout, its records and the entries it could not use. */
  input: string;
  layout: string;
  inputImages: number;
  datasetProblems: DatasetProblem[];
  /** csv/processing.csv read for left-out images, when the input is `<out>/processed_dataset`. */
  processingCsv?: string;
  /** Source groups among the images kept (copies and near-duplicates count once). */
  sourceGroups: number;
  /** Inputs left out before the split: unreadable, failed in explore or process, or too small. */
  leftOut: { id: string; reason: string }[];
  seed: number;
  ages: ResampleConfig['ages'];
  minSide: number;
  concurrency: number;
  /**
   * 'written': outputs in place; 'planned': a dry run; 'refused': strict and something was left out or failed
   * (`refusal` says what), nothing written.
   */
  outcome: 'written' | 'planned' | 'refused';
  refusal?: string;
  /** Records without a class of the target (outside the age range, or only an age group for a distribution). */
  excluded: DatasetRecord[];
  splitSizes?: Record<SplitName, number>;
  plan?: ResamplingPlan;
  /** The hold-out applied (its records are the `heldout` split). */
  holdOut?: ResampleConfig['holdOut'];
  /** Files written per split (failed outputs not counted). */
  written?: Record<SplitName, number>;
  validation?: ResamplingValidation;
  /** Counts and timings of the copies and augmentations. */
  copies?: Omit<WriteResampledResult, 'items'>;
  output?: string;
  csv?: string;
  chart?: string;
  /** Why the chart could not be rendered (the rest is written). */
  chartError?: string;
  seconds: number;
}

/**
 * The options a resample config (configs/resample.json, validated) stands for; `baseDir` is where its relative paths
 * (a target distribution file) are. The CLI's flags and a training recipe spread their own fields over these.
 */
export function resampleOptionsFromConfig(config: ResampleConfig, baseDir: string): Omit<ResampleDatasetOptions, 'out'> {
  return {
    ...{ baseDir, seed: config.seed, ages: config.ages, target: config.target, total: config.total, split: config.split, holdOut: config.holdOut },
    ...{ augmentation: config.augmentation, quality: config.output.quality, concurrency: config.output.concurrency, minSide: config.minSide },
  };
}

/** The options with every field defaulted from the config schema's defaults. */
function resolveOptions(options: ResampleDatasetOptions): ResampleConfig & { concurrency: number; quality: number } {
  const defaults = defaultResampleConfig();
  const ages = { ...defaults.ages, ...options.ages };
  if (![ages.min, ages.max, ages.binWidth].every(Number.isInteger) || ages.min > ages.max || ages.binWidth < 1) {
    throw new RangeError(`bad age range ${ages.min}..${ages.max} (bin width ${ages.binWidth})`);
  }
  const seed = options.seed ?? defaults.seed;
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`seed must be a whole number >= 0 (got ${seed})`);
  const total = options.total ?? defaults.total;
  if (total !== undefined && (!Number.isInteger(total) || total < 1)) throw new RangeError(`total must be a whole number >= 1 (got ${total})`);
  const concurrency = options.concurrency ?? defaults.output.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a whole number >= 1 (got ${concurrency})`);
  return {
    seed,
    ages,
    target: options.target ?? defaults.target,
    total,
    split: { ...defaults.split, ...options.split },
    holdOut: options.holdOut,
    augmentation: { ...defaults.augmentation, ...options.augmentation },
    output: { quality: options.quality ?? defaults.output.quality, concurrency },
    minSide: options.minSide ?? defaults.minSide,
    concurrency,
    quality: options.quality ?? defaults.output.quality,
  };
}

/**
 * The resample stage: measure the inputs (duplicates grouped, the unreadable and too small left out), split
 * train/val/test (seeded, grouped by source, stratified by class), rebalance the training split only to the target
 * (seeded down-sampling and augmentation), copy val/test unchanged. Writes `<out>/resampled_dataset/{train,val,test}/`,
 * `<out>/csv/resampling.csv` and the chart, all under temporary names committed together.
 */
export async function resampleDataset(options: ResampleDatasetOptions): Promise<ResampleDatasetResult> {
  const started = performance.now();
  const config = resolveOptions(options);
  const out = path.resolve(options.out);
  const { processedDir: processed, processingCsv } = processingPaths(out);
  const input = options.input ? path.resolve(options.input) : existsSync(processed) ? processed : options.data ? path.resolve(options.data) : undefined;
  if (!input) throw new DatasetError(processed, 'does not exist, and no dataset was given to resample');
  const resampledDir = path.join(out, RESAMPLED_DATASET_DIR);
  const csvFile = path.join(out, RESAMPLING_CSV);
  const chartFile = path.join(out, RESAMPLE_CHART_PNG);
  const strategy = await strategyFor(config.target, config.ages, options.baseDir ?? process.cwd());
  const metadataFile = options.metadata ? path.resolve(options.metadata) : undefined;
  // process's outcomes, when the input is its output: failed images and those too small before processing
  const processingFile = input === processed && existsSync(processingCsv) ? processingCsv : undefined;
  const progress = (phase: ResamplePhase) => (p: Progress) => options.onProgress?.(p, phase);

  const dataset = await readDataset(input);
  const outputs = await StageOutputs.begin({ inputs: [input, metadataFile, processingFile], folders: [resampledDir], files: [csvFile, chartFile] });
  try {
    const groups = new GroupUnion();
    for (const r of dataset.records) if (r.group !== r.id) groups.union(r.id, `group:${r.group}`);
    const leftOut = new Map<string, string>();
    if (metadataFile) for (const [id, why] of (await linkMetadataGroups(metadataFile, groups)).failed) leftOut.set(id, `explore: ${why}`);
    if (processingFile) for (const [id, why] of await readProcessingExclusions(processingFile, config.minSide)) leftOut.set(id, why);
    // duplicates are grouped from the images themselves, so byte-identical or near-identical copies never straddle splits
    const screened = await screenImages(dataset.records, groups, {
      minSide: config.minSide,
      nearDuplicateMaxDistance: DEFAULT_THRESHOLDS.nearDuplicateMaxDistance,
      maxPixels: DEFAULT_MAX_PIXELS,
      onProgress: progress('screen'),
      signal: options.signal,
    });
    for (const [id, why] of screened) if (!leftOut.has(id)) leftOut.set(id, why);
    const records = dataset.records.filter((r) => !leftOut.has(r.id)).map((r) => ({ ...r, group: groups.groupOf(r.id) }));
    const result: ResampleDatasetResult = {
      input,
      layout: dataset.layout,
      inputImages: dataset.records.length,
      datasetProblems: dataset.problems,
      processingCsv: processingFile,
      sourceGroups: new Set(records.map((r) => r.group)).size,
      leftOut: dataset.records.filter((r) => leftOut.has(r.id)).map((r) => ({ id: r.id, reason: leftOut.get(r.id) ?? '' })),
      seed: config.seed,
      ages: config.ages,
      minSide: config.minSide,
      concurrency: config.concurrency,
      holdOut: config.holdOut,
      outcome: 'refused',
      excluded: [],
      seconds: 0,
    };
    const finish = (): ResampleDatasetResult => ({ ...result, seconds: (performance.now() - started) / 1000 });
    if (result.leftOut.length > 0 && options.strict) {
      const n = result.leftOut.length;
      return { ...finish(), refusal: `${n} input image${n === 1 ? '' : 's'} left out (unreadable, failed or too small)` };
    }

    const { classOf } = classifier(config.ages, strategy.kind === 'distribution');
    if (!records.some((r) => classOf(r) !== undefined)) {
      const groupsOnly = records.filter((r) => r.age === undefined).length;
      throw new DatasetError(
        input,
        `no image has a class for this target: none is aged ${config.ages.min}-${config.ages.max}` +
          (groupsOnly > 0 && strategy.kind === 'distribution' ? ` (${groupsOnly} images have age groups only; a distribution target needs ages: try --target not-majority)` : ''),
      );
    }
    const planned = planDatasetResampling(records, { seed: config.seed, ratios: config.split, strategy, classOf, total: config.total, augmentation: config.augmentation, holdOut: config.holdOut });
    Object.assign(result, { excluded: planned.excluded, splitSizes: planned.splitSizes, plan: planned.plan });
    if (options.dryRun) return { ...finish(), outcome: 'planned' };

    options.signal?.throwIfAborted();
    let written: WriteResampledResult;
    try {
      written = await writeResampledDataset(planned.items, {
        outDir: outputs.path(resampledDir),
        concurrency: config.concurrency,
        quality: config.quality,
        strict: options.strict,
        onCopyProgress: progress('copy'),
        onAugmentProgress: progress('augment'),
        signal: options.signal,
      });
    } catch (error) {
      // strict: the first bad file stops the run; nothing is moved into place
      if (!options.strict || options.signal?.aborted) throw error;
      return { ...finish(), refusal: describeError(error) };
    }
    await writeResamplingCsv(
      outputs.path(csvFile),
      written.items.map((item) => ({
        output: `${RESAMPLED_DATASET_DIR}/${item.output}`,
        split: item.split,
        source: item.record.id,
        group: item.record.group,
        transform: item.transform,
        seed: config.seed,
        age: item.record.age ?? item.record.ageGroup ?? '',
        label: item.label,
        error: item.error,
      })),
    );

    const achieved = new Map<string, number>();
    const sizes = Object.fromEntries(SPLIT_NAMES.map((s) => [s, 0])) as Record<SplitName, number>;
    for (const item of written.items) {
      if (item.error) continue;
      sizes[item.split]++;
      if (item.split === 'train') achieved.set(item.label, (achieved.get(item.label) ?? 0) + 1);
    }
    const validation = validateResampling(planned.plan, achieved);
    const { items: _items, ...copies } = written;
    Object.assign(result, { written: sizes, validation, copies, output: resampledDir, csv: csvFile });
    if (options.renderChart) {
      const rows = planned.plan.rows;
      try {
        const png = await options.renderChart({
          title: `Training split: target (${planned.plan.strategy}) vs achieved, TV distance ${validation.totalVariationDistance.toFixed(4)}`,
          xLabel: 'age',
          yLabel: 'images',
          labels: rows.map((r) => r.label),
          series: [
            { name: 'before', values: rows.map((r) => r.currentCount) },
            { name: 'target', values: rows.map((r) => r.targetCount) },
            { name: 'achieved', values: rows.map((r) => achieved.get(r.label) ?? 0) },
          ],
        });
        await writeFileAtomic(outputs.path(chartFile), png);
        result.chart = chartFile;
      } catch (error) {
        result.chartError = (error as Error).message;
      }
    }
    options.signal?.throwIfAborted();
    await outputs.commit();
    return { ...finish(), outcome: 'written' };
  } finally {
    await outputs.abort(); // nothing once committed; else the temporaries go and the previous outputs stay
  }
}
