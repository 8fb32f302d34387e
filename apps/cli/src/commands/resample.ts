import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CsvWriter, DatasetError, DEFAULT_MAX_PIXELS, describeError, formatDuration, loadConfig, readDataset, StageOutputs, validateConfig, writeFileAtomic } from '@agekit/dataset';
import { DEFAULT_THRESHOLDS } from '@agekit/quality';
import {
  compactAges,
  DistributionError,
  MissingClassesError,
  planDatasetResampling,
  SPLIT_NAMES,
  validateResampling,
  writeResampledDataset,
  type ResamplingPlan,
  type ResamplingValidation,
} from '@agekit/resample';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand, type CommandContext } from '../lib/command';
import { resampleConfigSchema, type ResampleConfig } from '../resample/config';
import { classifier, GroupUnion, readMetadata, readProcessingExclusions, screenImages, strategyFor, targetFromFlag } from '../resample/inputs';

export const RESAMPLING_CSV_COLUMNS = ['output', 'split', 'source', 'group', 'transform', 'seed', 'age', 'label', 'error'] as const;

const usage = `[--input DIR] [--metadata FILE] [--target T] [--total N] [--min-age A] [--max-age B] [--bin-width W]

Every input image is measured first (explore's engine): byte-identical and near-duplicate images are grouped
so they land in one split, and images that cannot be read, that process could not handle (csv/processing.csv
next to processed_dataset/), or whose shorter side is below the config's minSide (default 32) are left out.
Split the dataset (train/val/test, grouped by source, stratified by age), rebalance the TRAINING
split only to a target age distribution (seeded down-sampling, seeded augmentation with sharp),
copy val/test unchanged. Writes <out>/resampled_dataset/{train,val,test}/<age>/..., 
<out>/csv/resampling.csv (output, split, source, group, transform, seed, age, label, error) and
<out>/visualizations/resample/target_vs_achieved.png.

flags:
  --input DIR        dataset to resample (default: <out>/processed_dataset if it exists, else --data)
  --metadata FILE    csv/metadata.csv from 'agekit explore': also skip its error rows and join its groups
  --target T         uniform | a distribution .json/.csv | all | not-majority | not-minority | minority | majority
  --direction D      over | under, for the strategy targets (default over)
  --total N          training-split size after resampling (default: its size before)
  --min-age A, --max-age B, --bin-width W   age range and class width (default 20, 50, 1)
  --concurrency N    images in flight (default from the config, 4)
  --dry-run          print the plan only; write nothing
  --no-chart         skip the target-vs-achieved chart
config: configs/resample.json when present (paths in it are relative to the config file)`;

async function resolveConfig(ctx: CommandContext): Promise<{ config: ResampleConfig; baseDir: string; file?: string }> {
  const explicit = stringFlag(ctx, 'config');
  const fallback = path.join(ctx.cwd, 'configs', 'resample.json');
  const file = explicit ? path.resolve(ctx.cwd, explicit) : existsSync(fallback) ? fallback : undefined;
  if (file) return { config: await loadConfig<ResampleConfig>(file, resampleConfigSchema), baseDir: path.dirname(file), file };
  const config = validateConfig<ResampleConfig>({}, resampleConfigSchema, '<defaults>');
  // without a config file, the default target path is relative to the workspace's configs/
  return { config, baseDir: path.join(ctx.cwd, 'configs') };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

function planTable(plan: ResamplingPlan, validation?: ResamplingValidation): string {
  const header = ['class', 'target %', 'target', 'current', 'difference', ...(validation ? ['achieved', 'achieved %'] : [])];
  const rows = plan.rows.map((r) => {
    const v = validation?.rows.find((x) => x.label === r.label);
    return [
      r.label,
      pct(r.targetShare),
      String(r.targetCount),
      String(r.currentCount),
      r.difference > 0 ? `+${r.difference}` : String(r.difference),
      ...(validation ? [String(v?.achievedCount ?? 0), pct(v?.achievedShare ?? 0)] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

async function run(ctx: CommandContext): Promise<number> {
  const started = performance.now();
  const { config, baseDir, file: configFile } = await resolveConfig(ctx);
  const seedFlag = numberFlag(ctx, 'seed');
  if (seedFlag !== undefined && (!Number.isInteger(seedFlag) || seedFlag < 0)) throw new UsageError(`--seed must be a whole number >= 0 (got ${seedFlag})`);
  const seed = seedFlag ?? config.seed;
  const ages = {
    min: numberFlag(ctx, 'min-age') ?? config.ages.min,
    max: numberFlag(ctx, 'max-age') ?? config.ages.max,
    binWidth: numberFlag(ctx, 'bin-width') ?? config.ages.binWidth,
  };
  if (![ages.min, ages.max, ages.binWidth].every(Number.isInteger) || ages.min > ages.max || ages.binWidth < 1) {
    throw new UsageError(`bad age range ${ages.min}..${ages.max} (bin width ${ages.binWidth})`);
  }
  const direction = stringFlag(ctx, 'direction');
  if (direction !== undefined && direction !== 'over' && direction !== 'under') throw new UsageError(`--direction must be over or under (got '${direction}')`);
  const targetFlag = stringFlag(ctx, 'target');
  const target = targetFlag ? targetFromFlag(targetFlag, direction) : config.target;
  const targetBase = targetFlag ? ctx.cwd : baseDir;
  const total = numberFlag(ctx, 'total') ?? config.total;
  if (total !== undefined && (!Number.isInteger(total) || total < 1)) throw new UsageError(`--total must be a whole number >= 1 (got ${total})`);
  const concurrency = numberFlag(ctx, 'concurrency') ?? config.output.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number >= 1 (got ${concurrency})`);

  const out = path.resolve(ctx.cwd, stringFlag(ctx, 'out') ?? '.');
  const processed = path.join(out, 'processed_dataset');
  const inputFlag = stringFlag(ctx, 'input');
  const dataFlag = stringFlag(ctx, 'data') ?? (config.data ? path.resolve(baseDir, config.data) : undefined);
  const input = inputFlag ? path.resolve(ctx.cwd, inputFlag) : existsSync(processed) ? processed : dataFlag ? path.resolve(ctx.cwd, dataFlag) : undefined;
  if (!input) throw new UsageError(`no input: ${processed} does not exist; give --data DIR or --input DIR`);

  const resampledDir = path.join(out, 'resampled_dataset');
  const csvFile = path.join(out, 'csv', 'resampling.csv');
  const chartFile = path.join(out, 'visualizations', 'resample', 'target_vs_achieved.png');
  const strategy = await strategyFor(target, ages, targetBase);
  const metadataFile = stringFlag(ctx, 'metadata');
  // process's outcomes, when the input is its output: failed images and those too small before processing
  const processingFile = input === processed && existsSync(path.join(out, 'csv', 'processing.csv')) ? path.join(out, 'csv', 'processing.csv') : undefined;

  const dataset = await readDataset(input);
  for (const p of dataset.problems.slice(0, 5)) ctx.term.warn(`${p.path}: ${p.reason}`);
  if (dataset.problems.length > 5) ctx.term.warn(`... and ${dataset.problems.length - 5} more problems in ${input}`);
  const outputs = await StageOutputs.begin({ inputs: [input, metadataFile, processingFile], folders: [resampledDir], files: [csvFile, chartFile] });
  try {
    return await resampleInto(outputs, input);
  } finally {
    await outputs.abort(); // nothing once committed; else the temporaries go and the previous outputs stay
  }

  // the rest writes only into the stage's temporaries (outputs.path), committed together at the end
  async function resampleInto(outputs: StageOutputs, input: string): Promise<number> {
    const groups = new GroupUnion();
    for (const r of dataset.records) if (r.group !== r.id) groups.union(r.id, `group:${r.group}`);
    const leftOut = new Map<string, string>();
    if (metadataFile) for (const [id, why] of (await readMetadata(path.resolve(ctx.cwd, metadataFile), groups)).failed) leftOut.set(id, `explore: ${why}`);
    if (processingFile) for (const [id, why] of await readProcessingExclusions(processingFile, config.minSide)) leftOut.set(id, why);
    // duplicates are grouped from the images themselves, so byte-identical or near-identical copies never straddle splits
    for (const [id, why] of await screenImages(dataset.records, groups, {
      minSide: config.minSide,
      nearDuplicateMaxDistance: DEFAULT_THRESHOLDS.nearDuplicateMaxDistance,
      maxPixels: DEFAULT_MAX_PIXELS,
      onProgress: ctx.term.progress('screen'),
    })) {
      if (!leftOut.has(id)) leftOut.set(id, why);
    }
    const skipped = dataset.records.filter((r) => leftOut.has(r.id));
    const records = dataset.records.filter((r) => !leftOut.has(r.id)).map((r) => ({ ...r, group: groups.groupOf(r.id) }));
    const groupCount = new Set(records.map((r) => r.group)).size;
    const { classOf } = classifier(ages, strategy.kind === 'distribution');

    ctx.term.info(
      `input: ${input} (${dataset.layout}, ${dataset.records.length} images in ${groupCount} source groups; ${skipped.length} left out: ` +
        `failed or below ${config.minSide} px${processingFile ? `, per ${path.relative(ctx.cwd, processingFile)}` : ''})`,
    );
    for (const r of skipped.slice(0, 5)) ctx.term.warn(`left out ${r.id}: ${leftOut.get(r.id)}`);
    if (skipped.length > 5) ctx.term.warn(`... and ${skipped.length - 5} more left out`);
    if (skipped.length > 0 && ctx.values['strict']) {
      ctx.term.error(`--strict: ${skipped.length} input image${skipped.length === 1 ? '' : 's'} left out (unreadable, failed or too small); nothing written`);
      return EXIT.failed;
    }
    ctx.term.info(`config: ${configFile ?? 'built-in defaults'}; seed ${seed}; ages ${ages.min}-${ages.max}${ages.binWidth > 1 ? ` in bins of ${ages.binWidth}` : ''}`);

    if (!records.some((r) => classOf(r) !== undefined)) {
      const groupsOnly = records.filter((r) => r.age === undefined).length;
      throw new DatasetError(
        input,
        `no image has a class for this target: none is aged ${ages.min}-${ages.max}` +
          (groupsOnly > 0 && strategy.kind === 'distribution' ? ` (${groupsOnly} images have age groups only; a distribution target needs ages: try --target not-majority)` : ''),
      );
    }
    const result = planDatasetResampling(records, {
      seed,
      ratios: config.split,
      strategy,
      classOf,
      total,
      augmentation: config.augmentation,
    });
    if (result.excluded.length > 0) {
      const outside = result.excluded.map((r) => r.age).filter((a): a is number => a !== undefined);
      ctx.term.info(`left out ${result.excluded.length} images outside the classes${outside.length ? ` (ages ${compactAges(outside)})` : ''}`);
    }
    ctx.term.info(
      `splits before resampling: train ${result.splitSizes.train}, val ${result.splitSizes.val}, test ${result.splitSizes.test} (grouped by source, stratified by class)`,
    );
    ctx.term.info(`plan (${result.plan.strategy}), training split ${result.plan.currentTotal} -> ${result.plan.total}:`);

    if (ctx.values['dry-run']) {
      ctx.term.info(planTable(result.plan));
      ctx.term.result({ input, dryRun: true, splitSizes: result.splitSizes, plan: result.plan });
      return EXIT.ok;
    }

    let written: Awaited<ReturnType<typeof writeResampledDataset>>;
    try {
      written = await writeResampledDataset(result.items, {
        outDir: outputs.path(resampledDir),
        concurrency,
        quality: config.output.quality,
        strict: Boolean(ctx.values['strict']),
        onCopyProgress: ctx.term.progress('copy'),
        onAugmentProgress: ctx.term.progress('augment'),
      });
    } catch (error) {
      // --strict: the first bad file stops the run; nothing was moved into place
      if (!ctx.values['strict']) throw error;
      ctx.term.error(`${describeError(error)}; nothing written to ${resampledDir}`);
      return EXIT.failed;
    }

    const csv = await CsvWriter.open(outputs.path(csvFile), RESAMPLING_CSV_COLUMNS);
    try {
      for (const item of written.items) {
        await csv.write({
          output: `resampled_dataset/${item.output}`,
          split: item.split,
          source: item.record.id,
          group: item.record.group,
          transform: item.transform,
          seed,
          age: item.record.age ?? item.record.ageGroup ?? '',
          label: item.label,
          error: item.error,
        });
      }
      await csv.close();
    } catch (error) {
      await csv.abort();
      throw error;
    }

    const achieved = new Map<string, number>();
    const sizes = { train: 0, val: 0, test: 0 };
    for (const item of written.items) {
      if (item.error) continue;
      sizes[item.split]++;
      if (item.split === 'train') achieved.set(item.label, (achieved.get(item.label) ?? 0) + 1);
    }
    const validation = validateResampling(result.plan, achieved);
    ctx.term.info(planTable(result.plan, validation));
    ctx.term.info(
      `validation: total variation distance ${validation.totalVariationDistance.toFixed(5)}; largest gap ${pct(Math.abs(validation.largestGap.gap))} at ${validation.largestGap.label}`,
    );
    ctx.term.info(`written: ${SPLIT_NAMES.map((s) => `${s} ${sizes[s]}`).join(', ')} -> ${resampledDir}`);
    const rate = written.augmentSeconds > 0 ? written.augmented / written.augmentSeconds : 0;
    ctx.term.info(
      `copies ${written.copied} in ${written.copySeconds.toFixed(1)} s; augmented ${written.augmented} in ${written.augmentSeconds.toFixed(1)} s (${rate.toFixed(1)} images/s, concurrency ${concurrency})`,
    );
    if (written.failed > 0) ctx.term.warn(`${written.failed} outputs failed (see the error column of ${csvFile})`);

    let chart: string | undefined;
    if (!ctx.values['no-chart']) {
      try {
        const { renderGroupedBarChart } = await import('@agekit/plot');
        const png = await renderGroupedBarChart({
          title: `Training split: target (${result.plan.strategy}) vs achieved, TV distance ${validation.totalVariationDistance.toFixed(4)}`,
          xLabel: 'age',
          yLabel: 'images',
          labels: result.plan.rows.map((r) => r.label),
          series: [
            { name: 'before', values: result.plan.rows.map((r) => r.currentCount) },
            { name: 'target', values: result.plan.rows.map((r) => r.targetCount) },
            { name: 'achieved', values: result.plan.rows.map((r) => achieved.get(r.label) ?? 0) },
          ],
        });
        await writeFileAtomic(outputs.path(chartFile), png);
        chart = chartFile;
        ctx.term.info(`chart: ${chartFile}`);
      } catch (error) {
        ctx.term.warn(`chart not written: ${(error as Error).message}`);
      }
    }
    await outputs.commit();
    ctx.term.info(`csv: ${csvFile}; total time ${formatDuration((performance.now() - started) / 1000)}`);
    ctx.term.result({
      input,
      output: resampledDir,
      csv: csvFile,
      chart,
      seed,
      splitSizes: result.splitSizes,
      written: sizes,
      plan: result.plan,
      validation,
      skipped: skipped.length,
      excluded: result.excluded.length,
      failed: written.failed,
      augmented: written.augmented,
      augmentImagesPerSecond: rate,
      seconds: (performance.now() - started) / 1000,
    });
    return written.failed > 0 && ctx.values['strict'] ? EXIT.failed : EXIT.ok;
  }
}

export const command: CliCommand = {
  name: 'resample',
  summary: 'split, then rebalance the training split to a target age distribution (seeded augmentation)',
  usage,
  options: {
    ...COMMON_OPTIONS,
    input: { type: 'string' },
    metadata: { type: 'string' },
    target: { type: 'string' },
    direction: { type: 'string' },
    total: { type: 'string' },
    'min-age': { type: 'string' },
    'max-age': { type: 'string' },
    'bin-width': { type: 'string' },
    concurrency: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'no-chart': { type: 'boolean', default: false },
  },
  run: async (ctx) => {
    try {
      return await run(ctx);
    } catch (error) {
      // a target the data cannot meet, or a bad distribution file: a clear message, not a stack
      if (error instanceof MissingClassesError || error instanceof DistributionError) {
        ctx.term.error(error.message);
        return EXIT.failed;
      }
      throw error;
    }
  },
};
