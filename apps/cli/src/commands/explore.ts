import * as path from 'node:path';
import { EngineUnavailableError, exploreDataset, qualityConfigSchema, type ExploreDatasetResult, type QualityConfig } from '@agekit/quality';
import { choiceFlag, COMMON_OPTIONS, switchFlags, valueFlags, EXIT, failed, pathFlag, readStageConfig, stringFlag, UsageError, wholeNumberFlag, type CliCommand, type CommandContext } from '../lib/command';

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
  usage: `[--data DIR] [--config configs/quality.json] [--out DIR] [--engine E] [--workers N] [--limit N] [--layout L] [--labels CSV]

  --engine E      auto | native | js (default auto: the native engine when its addon is built, else js)
  --workers N     js engine: worker processes; native engine: threads (default: config, 0 = one per core; 1 = in-process)
  --limit N       measure only the first N images
  --layout L      auto | folder-per-label | utkface | labels-csv (default: config, auto)
  --labels CSV    labels CSV for the labels-csv layout
  --sharp-only    decode every file with sharp (no fast JPEG path, implies --engine js; for comparisons)`,
  options: { ...COMMON_OPTIONS, ...valueFlags('engine', 'workers', 'limit', 'layout', 'labels'), ...switchFlags('sharp-only') },
  async run(ctx) {
    const { config } = await readStageConfig<QualityConfig>(ctx, qualityConfigSchema, 'configs/quality.json');
    const dataFlag = stringFlag(ctx, 'data') ?? config.data;
    if (!dataFlag) throw new UsageError('no dataset: pass --data DIR or set "data" in the config');
    const layout = choiceFlag(ctx, 'layout', ['auto', 'folder-per-label', 'utkface', 'labels-csv'], config.layout);
    const labels = stringFlag(ctx, 'labels') ?? config.labelsCsv;
    const limit = wholeNumberFlag(ctx, 'limit', 1);
    const workers = wholeNumberFlag(ctx, 'workers', 0) ?? config.workers;
    const engine = choiceFlag(ctx, 'engine', ['auto', 'native', 'js'], 'auto');
    let summary: ExploreDatasetResult;
    try {
      summary = await exploreDataset({
        data: path.resolve(ctx.cwd, dataFlag),
        out: pathFlag(ctx, 'out') ?? path.resolve(ctx.cwd, config.out ?? '.'),
        layout,
        labelsCsv: labels ? path.resolve(ctx.cwd, labels) : undefined,
        thresholds: config.thresholds,
        workers,
        maxPixels: config.maxPixels,
        sharpOnly: Boolean(ctx.values['sharp-only']),
        engine,
        limit,
        onProgress: ctx.term.progress('explore'),
      });
    } catch (error) {
      if (error instanceof EngineUnavailableError) return failed(ctx, `explore: --engine native: ${error.message}`);
      throw error;
    }
    printSummary(ctx, summary);
    ctx.term.result(summary);
    if (summary.read === 0) return failed(ctx, `explore: no image could be read (${summary.failed} failed, ${summary.problems.length} entries skipped)`);
    if (summary.failed + summary.problems.length > 0 && ctx.values['strict']) {
      const entries = summary.problems.length === 1 ? 'entry was' : 'entries were';
      return failed(ctx, `--strict: ${summary.failed} image(s) could not be read and ${summary.problems.length} dataset ${entries} skipped`);
    }
    return EXIT.ok;
  },
};
