import type { Schema } from '@agekit/dataset';
import type { EnhanceConfig, ProcessDatasetResult } from '@agekit/enhance';
import { qualityConfigSchema, type QualityConfig } from '@agekit/quality';
import { COMMON_OPTIONS, valueFlags, EXIT, failed, pathFlag, readStageConfig, UsageError, wholeNumberFlag, type CliCommand } from '../lib/command';
import { formatTable } from '../lib/terminal';

/** @agekit/enhance, loaded when the command runs (the CLI's main module loads it lazily for the process threads). */
type Enhance = typeof import('@agekit/enhance');

function formatSummary(s: ProcessDatasetResult, flags: Enhance['FIXABLE_FLAGS']): string[] {
  const rows = flags.map((flag) => {
    const f = s.perFlag[flag];
    return [flag, String(f.flagged), String(f.resolved), String(f.unresolved), String(f.passAll), `${(100 * f.passAllShare).toFixed(1)}%`];
  });
  return [
    `${s.images} images in ${s.seconds.toFixed(1)} s (${s.imagesPerSecond.toFixed(1)}/s): ${s.unchanged} unchanged (copied), ${s.resolved} resolved, ` +
      `${s.unresolved} unresolved, ${s.errors} errors (${s.skipped} skipped: unreadable in explore, or refused by the dataset reader)`,
    ...formatTable([['flag', 'flagged', 'resolved', 'unresolved', 'pass all', 'share'], ...rows], { widths: [16, 9, 10, 12, 10, 9], gap: '' }),
    '(resolved/unresolved: the flag is gone/still there; pass all: flagged images that pass every check afterwards)',
  ];
}

export const command: CliCommand = {
  usage: `[flags]

Reads the dataset (--data) and <out>/csv/metadata.csv (from agekit explore); writes
<out>/processed_dataset/ (same layout and ids; labels.csv for a labels-CSV dataset) and
<out>/csv/processing.csv. Images without flags are copied byte for byte; flagged ones get the
corrections of configs/enhance.json, re-measured against configs/quality.json's thresholds.

flags:
  --metadata FILE        metadata CSV (default <out>/csv/metadata.csv)
  --quality-config FILE  thresholds (default configs/quality.json, else the built-in defaults)
  --threads N            worker threads (default: the config's threads; 0 = one per core)
  --concurrency N        images in flight per thread (default: the config's concurrency)`,
  options: { ...COMMON_OPTIONS, ...valueFlags('metadata', 'quality-config', 'concurrency', 'threads') },
  async run(ctx) {
    const { term, cwd } = ctx;
    const enhance = await import('@agekit/enhance');
    const { config } = await readStageConfig<EnhanceConfig>(ctx, enhance.enhanceConfigSchema as Schema, 'configs/enhance.json');
    // the thresholds of the explore stage's config (its defaults without one; the reader's own pixel limit then)
    const quality = await readStageConfig<QualityConfig>(ctx, qualityConfigSchema, 'configs/quality.json', 'quality-config');
    const data = pathFlag(ctx, 'data');
    if (!data) throw new UsageError('--data DIR is required (the dataset explore measured)');
    const concurrency = wholeNumberFlag(ctx, 'concurrency', 1) ?? config.concurrency;
    const threads = wholeNumberFlag(ctx, 'threads', 0) ?? config.threads;

    const result = await enhance.processDataset({
      data,
      out: pathFlag(ctx, 'out') ?? cwd,
      metadata: pathFlag(ctx, 'metadata'),
      thresholds: quality.config.thresholds,
      maxPixels: quality.file ? quality.config.maxPixels : undefined,
      candidates: config.candidates,
      beamWidth: config.beamWidth,
      jpegQuality: config.jpegQuality,
      concurrency,
      threads,
      onStart(start) {
        for (const problem of start.problems) term.warn(`${problem.path}: ${problem.reason}`);
        if (start.missingMetadata > 0) term.warn(`${start.missingMetadata} images have no row in ${start.metadataFile}: they are measured here`);
        term.info(`process: ${start.images} images (${start.layout}) from ${start.dataRoot} -> ${start.processedDir}`);
      },
      onProgress: term.progress('process'),
    });
    if (result.threads < result.threadsRequested && result.threads < result.images) {
      term.warn(`ran on ${result.threads} thread: no worker module was found for the process threads`);
    }
    for (const r of result.rows) if (r.status === 'error' && !r.skipped) term.warn(`${r.id}: ${r.error}`);
    for (const line of formatSummary(result, enhance.FIXABLE_FLAGS)) term.info(line);
    term.info(`wrote ${result.processingCsv}`);
    const { rows: _rows, threadsRequested: _requested, processedDir, processingCsv, threads: used, ...summary } = result;
    term.result({ processedDir, processingCsv, threads: used, ...summary });
    if (ctx.values['strict'] && summary.errors > 0) return failed(ctx, `--strict: ${summary.errors} images could not be processed`);
    if (summary.errors === summary.images) return failed(ctx, `no image could be processed (${summary.errors} errors)`);
    return EXIT.ok;
  },
};
