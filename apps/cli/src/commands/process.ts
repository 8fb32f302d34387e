import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, metadataFieldText, readDataset, readMetadataCsv, validateConfig, DatasetError, StageOutputs, type Schema } from '@agekit/dataset';
import { enhanceConfigSchema, resolveCandidates, FIXABLE_FLAGS, type EnhanceConfig } from '@agekit/enhance';
import { DEFAULT_THRESHOLDS, qualityConfigSchema, type QualityConfig, type QualityThresholds } from '@agekit/quality';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand } from '../lib/command';
import { processJob } from '../process/pool';
import { summarize, writeProcessedLabels, writeProcessingCsv, type ProcessingRow, type ProcessSummary } from '../process/run';

/** The metadata.csv columns process reads. */
const METADATA_READ = ['flags', 'error', 'width', 'height', 'laplacian_variance', 'mean_intensity', 'std_intensity'];

async function loadEnhanceConfig(cwd: string, file: string | undefined): Promise<EnhanceConfig> {
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

function formatSummary(s: ProcessSummary): string[] {
  const lines = [
    `${s.images} images in ${s.seconds.toFixed(1)} s (${s.imagesPerSecond.toFixed(1)}/s): ${s.unchanged} unchanged (copied), ${s.resolved} resolved, ${s.unresolved} unresolved, ${s.errors} errors (${s.skipped} skipped: unreadable in explore, or refused by the dataset reader)`,
    `${'flag'.padEnd(16)}${'flagged'.padStart(9)}${'resolved'.padStart(10)}${'unresolved'.padStart(12)}${'pass all'.padStart(10)}${'share'.padStart(9)}`,
  ];
  for (const flag of FIXABLE_FLAGS) {
    const f = s.perFlag[flag];
    lines.push(
      `${flag.padEnd(16)}${String(f.flagged).padStart(9)}${String(f.resolved).padStart(10)}${String(f.unresolved).padStart(12)}${String(f.passAll).padStart(10)}${`${(100 * f.passAllShare).toFixed(1)}%`.padStart(9)}`,
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
    const config = await loadEnhanceConfig(cwd, stringFlag(ctx, 'config'));
    const { thresholds, maxPixels } = await loadThresholds(cwd, stringFlag(ctx, 'quality-config'));
    const dataFlag = stringFlag(ctx, 'data');
    if (!dataFlag) throw new UsageError('--data DIR is required (the dataset explore measured)');
    const dataRoot = path.resolve(cwd, dataFlag);
    const outRoot = path.resolve(cwd, stringFlag(ctx, 'out') ?? '.');
    const processedDir = path.join(outRoot, 'processed_dataset');
    const processingCsv = path.join(outRoot, 'csv', 'processing.csv');
    const concurrency = numberFlag(ctx, 'concurrency') ?? config.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a positive integer');
    const threadsWanted = numberFlag(ctx, 'threads') ?? config.threads;
    if (!Number.isInteger(threadsWanted) || threadsWanted < 0) throw new UsageError('--threads must be an integer >= 0');
    const threads = threadsWanted === 0 ? os.availableParallelism() : threadsWanted;

    // the dataset first: a missing --data is that, not a missing metadata file
    const dataset = await readDataset(dataRoot);
    const metadataFile = path.resolve(cwd, stringFlag(ctx, 'metadata') ?? path.join(outRoot, 'csv', 'metadata.csv'));
    const plan = { inputs: [dataRoot, metadataFile], folders: [processedDir], files: [processingCsv] };
    await StageOutputs.check(plan);
    if (!existsSync(metadataFile)) throw new DatasetError(metadataFile, 'no metadata CSV: run `agekit explore` first (or pass --metadata)');
    const { rows, used, seconds } = await StageOutputs.write(plan, async (outputs) => {
      const metadata = new Map<string, Record<string, string>>();
      for (const row of await readMetadataCsv(metadataFile)) {
        if (row.id) metadata.set(row.id, Object.fromEntries(METADATA_READ.map((c) => [c, metadataFieldText(row, c)])));
      }
      for (const problem of dataset.problems) term.warn(`${problem.path}: ${problem.reason}`);
      const missing = dataset.records.filter((r) => !metadata.has(r.id)).length;
      if (missing > 0) term.warn(`${missing} images have no row in ${metadataFile}: they are measured here`);
      term.info(`process: ${dataset.records.length} images (${dataset.layout}) from ${dataRoot} -> ${processedDir}`);
      const start = performance.now();
      const job = await processJob(
        {
          records: dataset.records,
          metadata: [...metadata],
          processedDir: outputs.path(processedDir),
          thresholds,
          candidates: resolveCandidates(config.candidates, thresholds.minSide),
          beamWidth: config.beamWidth,
          jpegQuality: config.jpegQuality,
          maxPixels,
          concurrency,
        },
        threads,
        term.progress('process'),
      );
      if (job.threads < threads) term.warn(`ran on 1 thread: worker threads need the TypeScript sources (npx tsx apps/cli/src/main.ts)`);
      if (dataset.layout === 'labels-csv') {
        const written = new Set(job.rows.filter((r) => r.status !== 'error').map((r) => r.id));
        await writeProcessedLabels(path.join(dataRoot, 'labels.csv'), dataRoot, outputs.path(processedDir), written);
      }
      // entries the dataset refused (outside the root, a link loop, a bad label): an error row each, as in metadata.csv
      const refused = dataset.problems.map((p): ProcessingRow => ({ id: p.path, status: 'error', flagsBefore: [], flagsAfter: [], operations: '', error: p.reason, skipped: true }));
      const rows = [...job.rows, ...refused];
      await writeProcessingCsv(outputs.path(processingCsv), rows);
      return { rows, used: job.threads, seconds: (performance.now() - start) / 1000 };
    });
    const summary = summarize(rows, seconds);
    for (const r of rows) if (r.status === 'error' && !r.skipped) term.warn(`${r.id}: ${r.error}`);
    for (const line of formatSummary(summary)) term.info(line);
    term.info(`wrote ${processingCsv}`);
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
