import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, validateConfig, type Schema } from '@agekit/dataset';
import type { EnhanceConfig, ProcessDatasetResult } from '@agekit/enhance';
import { DEFAULT_THRESHOLDS, qualityConfigSchema, type QualityConfig, type QualityThresholds } from '@agekit/quality';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand } from '../lib/command';

/** @agekit/enhance, loaded when the command runs (the CLI's main module loads it lazily for the process threads). */
type Enhance = typeof import('@agekit/enhance');

async function loadEnhanceConfig(enhance: Enhance, cwd: string, file: string | undefined): Promise<EnhanceConfig> {
  const { enhanceConfigSchema } = enhance;
  const chosen = file ?? path.join(cwd, 'configs', 'enhance.json');
  if (!file && !existsSync(chosen)) return validateConfig<EnhanceConfig>({}, enhanceConfigSchema as Schema, '<defaults>');
  return loadConfig<EnhanceConfig>(path.resolve(cwd, chosen), enhanceConfigSchema as Schema);
}

async function loadThresholds(cwd: string, file: string | undefined): Promise<{ thresholds: QualityThresholds; maxPixels?: number }> {
  const chosen = file ?? path.join(cwd, 'configs', 'quality.json');
  if (!file && !existsSync(chosen)) return { thresholds: { ...DEFAULT_THRESHOLDS } };
  const config = await loadConfig<QualityConfig>(path.resolve(cwd, chosen), qualityConfigSchema);
  return { thresholds: config.thresholds, maxPixels: config.maxPixels };
}

function formatSummary(s: ProcessDatasetResult, flags: Enhance['FIXABLE_FLAGS']): string[] {
  const lines = [
    `${s.images} images in ${s.seconds.toFixed(1)} s (${s.imagesPerSecond.toFixed(1)}/s): ${s.unchanged} unchanged (copied), ${s.resolved} resolved, ` +
      `${s.unresolved} unresolved, ${s.errors} errors (${s.skipped} skipped: unreadable in explore, or refused by the dataset reader)`,
    `${'flag'.padEnd(16)}${'flagged'.padStart(9)}${'resolved'.padStart(10)}${'unresolved'.padStart(12)}${'pass all'.padStart(10)}${'share'.padStart(9)}`,
  ];
  for (const flag of flags) {
    const f = s.perFlag[flag];
    const share = `${(100 * f.passAllShare).toFixed(1)}%`;
    lines.push(
      `${flag.padEnd(16)}${String(f.flagged).padStart(9)}${String(f.resolved).padStart(10)}${String(f.unresolved).padStart(12)}${String(f.passAll).padStart(10)}${share.padStart(9)}`,
    );
  }
  lines.push('(resolved/unresolved: the flag is gone/still there; pass all: flagged images that pass every check afterwards)');
  return lines;
}

export const command: CliCommand = {
  name: 'process',
  summary: 'correct flagged images (quality-guarded) into processed_dataset/ + csv/processing.csv',
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
  options: {
    ...COMMON_OPTIONS,
    metadata: { type: 'string' },
    'quality-config': { type: 'string' },
    concurrency: { type: 'string' },
    threads: { type: 'string' },
  },
  async run(ctx) {
    const { term, cwd } = ctx;
    const enhance = await import('@agekit/enhance');
    const config = await loadEnhanceConfig(enhance, cwd, stringFlag(ctx, 'config'));
    const { thresholds, maxPixels } = await loadThresholds(cwd, stringFlag(ctx, 'quality-config'));
    const dataFlag = stringFlag(ctx, 'data');
    if (!dataFlag) throw new UsageError('--data DIR is required (the dataset explore measured)');
    const concurrency = numberFlag(ctx, 'concurrency') ?? config.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a positive integer');
    const threads = numberFlag(ctx, 'threads') ?? config.threads;
    if (!Number.isInteger(threads) || threads < 0) throw new UsageError('--threads must be an integer >= 0');
    const metadataFlag = stringFlag(ctx, 'metadata');

    const result = await enhance.processDataset({
      data: path.resolve(cwd, dataFlag),
      out: path.resolve(cwd, stringFlag(ctx, 'out') ?? '.'),
      metadata: metadataFlag === undefined ? undefined : path.resolve(cwd, metadataFlag),
      thresholds,
      maxPixels,
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
    if (ctx.values['strict'] && summary.errors > 0) {
      term.error(`--strict: ${summary.errors} images could not be processed`);
      return EXIT.failed;
    }
    if (summary.errors === summary.images) {
      term.error(`no image could be processed (${summary.errors} errors)`);
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};
