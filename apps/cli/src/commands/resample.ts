import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { formatDuration, processingPaths, RESAMPLED_DATASET_DIR, SPLIT_NAMES } from '@agekit/dataset';
import {
  compactAges,
  resampleConfigSchema,
  resampleDataset,
  resampleOptionsFromConfig,
  targetFromFlag,
  type ResampleConfig,
  type ResampleDatasetResult,
  type ResamplingPlan,
  type ResamplingValidation,
} from '@agekit/resample';
import { choiceFlag, COMMON_OPTIONS, switchFlags, valueFlags, EXIT, failed, pathFlag, plural, readStageConfig, stringFlag, UsageError, wholeNumberFlag, type CliCommand, type CommandContext } from '../lib/command';
import { formatTable } from '../lib/terminal';

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
  --target T         uniform | australia-erp-2021 | a distribution .json/.csv | all | not-majority | not-minority | minority | majority
  --direction D      over | under, for the strategy targets (default over)
  --total N          training-split size after resampling (default: its size before)
  --min-age A, --max-age B, --bin-width W   age range and class width (default 20, 50, 1)
  --concurrency N    images in flight (default from the config, 4)
  --dry-run          print the plan only; write nothing
  --no-chart         skip the target-vs-achieved chart
config: configs/resample.json when present (paths in it are relative to the config file)`;

/** The config and the folder its relative paths are relative to (without a file: the workspace's configs/). */
async function resolveConfig(ctx: CommandContext): Promise<{ config: ResampleConfig; baseDir: string; file?: string }> {
  const { config, file } = await readStageConfig<ResampleConfig>(ctx, resampleConfigSchema, path.join('configs', 'resample.json'));
  return { config, baseDir: file ? path.dirname(file) : path.join(ctx.cwd, 'configs'), file };
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

function planTable(plan: ResamplingPlan, validation?: ResamplingValidation): string {
  const header = ['class', 'target %', 'target', 'current', 'difference', ...(validation ? ['achieved', 'achieved %'] : [])];
  const rows = plan.rows.map((r) => {
    const v = validation?.rows.find((x) => x.label === r.label);
    const difference = r.difference > 0 ? `+${r.difference}` : String(r.difference);
    const achieved = validation ? [String(v?.achievedCount ?? 0), pct(v?.achievedShare ?? 0)] : [];
    return [r.label, pct(r.targetShare), String(r.targetCount), String(r.currentCount), difference, ...achieved];
  });
  return formatTable([header, ...rows]).join('\n');
}

/** The summary lines of a run, as they were printed when the stage lived here. */
function report(ctx: CommandContext, r: ResampleDatasetResult, configFile: string | undefined): void {
  for (const p of r.datasetProblems.slice(0, 5)) ctx.term.warn(`${p.path}: ${p.reason}`);
  if (r.datasetProblems.length > 5) ctx.term.warn(`... and ${r.datasetProblems.length - 5} more problems in ${r.input}`);
  const per = r.processingCsv ? `, per ${path.relative(ctx.cwd, r.processingCsv)}` : '';
  ctx.term.info(`input: ${r.input} (${r.layout}, ${r.inputImages} images in ${r.sourceGroups} source groups; ${r.leftOut.length} left out: failed or below ${r.minSide} px${per})`);
  for (const x of r.leftOut.slice(0, 5)) ctx.term.warn(`left out ${x.id}: ${x.reason}`);
  if (r.leftOut.length > 5) ctx.term.warn(`... and ${r.leftOut.length - 5} more left out`);
  if (!r.plan || !r.splitSizes) return;
  const { ages } = r;
  ctx.term.info(`config: ${configFile ?? 'built-in defaults'}; seed ${r.seed}; ages ${ages.min}-${ages.max}${ages.binWidth > 1 ? ` in bins of ${ages.binWidth}` : ''}`);
  if (r.excluded.length > 0) {
    const outside = r.excluded.map((x) => x.age).filter((a): a is number => a !== undefined);
    ctx.term.info(`left out ${r.excluded.length} images outside the classes${outside.length ? ` (ages ${compactAges(outside)})` : ''}`);
  }
  const s = r.splitSizes;
  ctx.term.info(`splits before resampling: train ${s.train}, val ${s.val}, test ${s.test} (grouped by source, stratified by class)`);
  ctx.term.info(`plan (${r.plan.strategy}), training split ${r.plan.currentTotal} -> ${r.plan.total}:`);
  if (r.outcome === 'planned') ctx.term.info(planTable(r.plan));
  if (!r.validation || !r.copies || !r.written) return;
  const v = r.validation;
  ctx.term.info(planTable(r.plan, v));
  ctx.term.info(`validation: total variation distance ${v.totalVariationDistance.toFixed(5)}; largest gap ${pct(Math.abs(v.largestGap.gap))} at ${v.largestGap.label}`);
  ctx.term.info(`written: ${SPLIT_NAMES.map((x) => `${x} ${r.written?.[x]}`).join(', ')} -> ${r.output}`);
  const c = r.copies;
  const rate = c.augmentSeconds > 0 ? c.augmented / c.augmentSeconds : 0;
  ctx.term.info(
    `copies ${c.copied} in ${c.copySeconds.toFixed(1)} s; augmented ${c.augmented} in ${c.augmentSeconds.toFixed(1)} s (${rate.toFixed(1)} images/s, concurrency ${r.concurrency})`,
  );
  if (c.failed > 0) ctx.term.warn(`${c.failed} outputs failed (see the error column of ${r.csv})`);
  if (r.chart) ctx.term.info(`chart: ${r.chart}`);
  if (r.chartError) ctx.term.warn(`chart not written: ${r.chartError}`);
  ctx.term.info(`csv: ${r.csv}; total time ${formatDuration(r.seconds)}`);
}

async function run(ctx: CommandContext): Promise<number> {
  const { config, baseDir, file: configFile } = await resolveConfig(ctx);
  const ages = {
    min: wholeNumberFlag(ctx, 'min-age', 0) ?? config.ages.min,
    max: wholeNumberFlag(ctx, 'max-age', 0) ?? config.ages.max,
    binWidth: wholeNumberFlag(ctx, 'bin-width', 1) ?? config.ages.binWidth,
  };
  if (ages.min > ages.max) throw new UsageError(`bad age range ${ages.min}..${ages.max} (bin width ${ages.binWidth})`);
  const seed = wholeNumberFlag(ctx, 'seed', 0) ?? config.seed;
  const direction = stringFlag(ctx, 'direction') === undefined ? undefined : choiceFlag(ctx, 'direction', ['over', 'under'], 'over');
  const targetFlag = stringFlag(ctx, 'target');
  const out = pathFlag(ctx, 'out') ?? ctx.cwd;
  const inputDir = pathFlag(ctx, 'input');
  const data = pathFlag(ctx, 'data') ?? (config.data ? path.resolve(baseDir, config.data) : undefined);
  const processed = processingPaths(out).processedDir;
  if (!inputDir && !data && !existsSync(processed)) throw new UsageError(`no input: ${processed} does not exist; give --data DIR or --input DIR`);
  const strict = Boolean(ctx.values['strict']);
  const bars = { screen: ctx.term.progress('screen'), copy: ctx.term.progress('copy'), augment: ctx.term.progress('augment') };
  const fromConfig = resampleOptionsFromConfig(config, baseDir);
  const result = await resampleDataset({
    ...fromConfig,
    ...{ data, out, input: inputDir, metadata: pathFlag(ctx, 'metadata'), seed, ages, total: wholeNumberFlag(ctx, 'total', 1) ?? config.total },
    ...(targetFlag && { target: targetFromFlag(targetFlag, direction), baseDir: ctx.cwd }),
    concurrency: wholeNumberFlag(ctx, 'concurrency', 1) ?? fromConfig.concurrency,
    strict,
    dryRun: Boolean(ctx.values['dry-run']),
    renderChart: ctx.values['no-chart'] ? undefined : async (chart) => (await import('@agekit/plot')).renderGroupedBarChart(chart),
    onProgress: (p, phase) => bars[phase](p),
  });
  report(ctx, result, configFile);
  if (result.outcome === 'refused') {
    const n = result.leftOut.length;
    if (!result.plan) return failed(ctx, `--strict: ${plural(n, 'input image')} left out (unreadable, failed or too small); nothing written`);
    return failed(ctx, `${result.refusal}; nothing written to ${path.join(out, RESAMPLED_DATASET_DIR)}`);
  }
  const { input, splitSizes, plan } = result;
  if (result.outcome === 'planned') {
    ctx.term.result({ input, dryRun: true, splitSizes, plan });
    return EXIT.ok;
  }
  const c = result.copies;
  ctx.term.result({
    ...{ input, output: result.output, csv: result.csv, chart: result.chart, seed, splitSizes, written: result.written, plan, validation: result.validation },
    ...{ skipped: result.leftOut.length, excluded: result.excluded.length, failed: c?.failed, augmented: c?.augmented },
    augmentImagesPerSecond: c && c.augmentSeconds > 0 ? c.augmented / c.augmentSeconds : 0,
    seconds: result.seconds,
  });
  return (c?.failed ?? 0) > 0 && strict ? EXIT.failed : EXIT.ok;
}

export const command: CliCommand = {
  usage,
  options: {
    ...COMMON_OPTIONS,
    ...valueFlags('input', 'metadata', 'target', 'direction', 'total', 'min-age', 'max-age', 'bin-width', 'concurrency'),
    ...switchFlags('dry-run', 'no-chart'),
  },
  // a target the data cannot meet (MissingClassesError) or a bad distribution file (DistributionError) is one line and exit 1
  run,
};
