import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, validateConfig } from '@agekit/dataset';
import { EngineUnavailableError, exploreDataset, qualityConfigSchema, type ExploreDatasetResult, type ExploreEngine, type QualityConfig } from '@agekit/quality';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand, type CommandContext } from '../lib/command';

const DEFAULT_CONFIG = 'configs/quality.json';

async function readConfig(ctx: CommandContext): Promise<QualityConfig> {
  const given = stringFlag(ctx, 'config');
  const file = given ? path.resolve(ctx.cwd, given) : path.join(ctx.cwd, DEFAULT_CONFIG);
  if (given || existsSync(file)) return loadConfig<QualityConfig>(file, qualityConfigSchema);
  return validateConfig<QualityConfig>({}, qualityConfigSchema, '<defaults>');
}

function printSummary(ctx: CommandContext, s: ExploreDatasetResult): void {
  const { term } = ctx;
  term.info(`explore: ${s.images} images (${s.layout}) from ${s.dataset}`);
  term.info(`  read ${s.read}, failed ${s.failed}, clean (no flag) ${s.clean}`);
  const where =
    s.engine === 'native'
      ? `native engine on ${s.workers} thread${s.workers === 1 ? '' : 's'}: ${s.engineCounts.native} files, js path ${s.engineCounts.js}`
      : `js engine, ${s.workers ? `${s.workers} worker processes` : 'in-process'}`;
  term.info(`  ${s.imagesPerSecond.toFixed(0)} img/s in ${s.seconds.toFixed(1)}s (${where}; decoded by native ${s.decoders.native}, canvas ${s.decoders.canvas}, sharp ${s.decoders.sharp})`);
  if (s.engineNote) term.info(`  note: ${s.engineNote}`);
  const flags = Object.entries(s.flags).filter(([, n]) => n > 0);
  term.info(`  flags: ${flags.length ? flags.map(([f, n]) => `${f} ${n}`).join(', ') : 'none'}`);
  for (const f of s.failures.slice(0, 20)) term.info(`  failed: ${f.id}: ${f.message}`);
  if (s.failures.length > 20) term.info(`  ... and ${s.failures.length - 20} more failures (see the error column)`);
  for (const p of s.problems.slice(0, 10)) term.info(`  skipped: ${p.path}: ${p.reason}`);
  if (s.problems.length > 10) term.info(`  ... and ${s.problems.length - 10} more skipped entries`);
  term.info(`  wrote ${s.csv}`);
}

export const command: CliCommand = {
  name: 'explore',
  summary: 'measure image quality (OpenCV-compatible metrics, flags, duplicates) -> csv/metadata.csv',
  usage: `[--data DIR] [--config configs/quality.json] [--out DIR] [--engine E] [--workers N] [--limit N] [--layout L] [--labels CSV]

  --engine E      auto | native | js (default auto: the native engine when its addon is built, else js)
  --workers N     js engine: worker processes; native engine: threads (default: config, 0 = one per core; 1 = in-process)
  --limit N       measure only the first N images
  --layout L      auto | folder-per-label | utkface | labels-csv (default: config, auto)
  --labels CSV    labels CSV for the labels-csv layout
  --sharp-only    decode every file with sharp (no fast JPEG path, implies --engine js; for comparisons)`,
  options: {
    ...COMMON_OPTIONS,
    engine: { type: 'string' },
    workers: { type: 'string' },
    limit: { type: 'string' },
    layout: { type: 'string' },
    labels: { type: 'string' },
    'sharp-only': { type: 'boolean', default: false },
  },
  async run(ctx) {
    const config = await readConfig(ctx);
    const dataFlag = stringFlag(ctx, 'data') ?? config.data;
    if (!dataFlag) throw new UsageError('no dataset: pass --data DIR or set "data" in the config');
    const data = path.resolve(ctx.cwd, dataFlag);
    const out = path.resolve(ctx.cwd, stringFlag(ctx, 'out') ?? config.out ?? '.');
    const layout = (stringFlag(ctx, 'layout') ?? config.layout) as QualityConfig['layout'];
    if (!['auto', 'folder-per-label', 'utkface', 'labels-csv'].includes(layout)) throw new UsageError(`--layout must be auto, folder-per-label, utkface or labels-csv (got '${layout}')`);
    const labels = stringFlag(ctx, 'labels') ?? config.labelsCsv;
    const limit = numberFlag(ctx, 'limit');
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new UsageError(`--limit must be a positive integer (got ${limit})`);
    const workersFlag = numberFlag(ctx, 'workers');
    if (workersFlag !== undefined && !(Number.isInteger(workersFlag) && workersFlag >= 0)) throw new UsageError(`--workers must be a whole number >= 0 (got ${workersFlag})`);
    const engine = (stringFlag(ctx, 'engine') ?? 'auto') as ExploreEngine;
    if (!['auto', 'native', 'js'].includes(engine)) throw new UsageError(`--engine must be auto, native or js (got '${engine}')`);
    let summary: ExploreDatasetResult;
    try {
      summary = await exploreDataset({
        data,
        out,
        layout,
        labelsCsv: labels ? path.resolve(ctx.cwd, labels) : undefined,
        thresholds: config.thresholds,
        workers: workersFlag ?? config.workers,
        maxPixels: config.maxPixels,
        sharpOnly: Boolean(ctx.values['sharp-only']),
        engine,
        limit,
        onProgress: ctx.term.progress('explore'),
      });
    } catch (error) {
      if (error instanceof EngineUnavailableError) {
        ctx.term.error(`explore: --engine native: ${error.message}`);
        return EXIT.failed;
      }
      throw error;
    }
    printSummary(ctx, summary);
    ctx.term.result(summary);
    if (summary.read === 0) {
      ctx.term.error(`explore: no image could be read (${summary.failed} failed, ${summary.problems.length} entries skipped)`);
      return EXIT.failed;
    }
    const bad = summary.failed + summary.problems.length;
    if (bad > 0 && ctx.values['strict']) {
      ctx.term.error(`--strict: ${summary.failed} image(s) could not be read and ${summary.problems.length} dataset entr${summary.problems.length === 1 ? 'y was' : 'ies were'} skipped`);
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};
