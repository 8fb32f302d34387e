import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { formatDuration, loadConfig } from '@agekit/dataset';
import { DEFAULT_THRESHOLDS, qualityConfigSchema, type QualityConfig, type QualityThresholds } from '@agekit/quality';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand, type CommandContext } from '../lib/command';

const usage = `[--metadata FILE] [--processing FILE] [--sheet-size N]

Figures for a report from the CSVs of 'agekit explore' (and 'agekit process'). Writes under <out>/visualizations/:
  original_image/   age distribution; Laplacian variance, mean intensity, standard deviation and shorter
                    side histograms with the quality thresholds drawn; images per flag
  flagged/<flag>.png  contact sheet of the worst examples per flag (needs --data: ids are relative to it)
  processed_image/  before/after histograms, outcome and flags before/after (when csv/processing.csv exists)
  index.html        every figure with a one-line caption (also lists other PNGs under visualizations/)

flags:
  --metadata FILE    default <out>/csv/metadata.csv
  --processing FILE  default <out>/csv/processing.csv (skipped when absent)
  --sheet-size N     thumbnails per contact sheet (default 24; 0 = no contact sheets)
config: --config FILE or configs/quality.json when present (the explore stage's config, same schema): the thresholds drawn
        are blurryBelow, noisyLaplacianAbove, darkBelow, brightAbove, lowTextureBelow, noisyStdAbove, minSide
--strict: an unreadable image (an 'error' row, or an image a contact sheet cannot read) fails the run`;

/**
 * The thresholds drawn: those of the explore stage's config (`file`, validated with its schema, missing fields
 * defaulted), or DEFAULT_THRESHOLDS when the default file does not exist.
 */
async function loadThresholds(file: string, explicit: boolean): Promise<{ thresholds: QualityThresholds; source?: string }> {
  if (!explicit && !existsSync(file)) return { thresholds: { ...DEFAULT_THRESHOLDS } };
  const config = await loadConfig<QualityConfig>(file, qualityConfigSchema);
  return { thresholds: { ...DEFAULT_THRESHOLDS, ...config.thresholds }, source: file };
}

async function run(ctx: CommandContext): Promise<number> {
  const { term, cwd } = ctx;
  const out = path.resolve(cwd, stringFlag(ctx, 'out') ?? '.');
  const relative = (file: string): string => path.relative(cwd, file) || file;
  const processingFlag = stringFlag(ctx, 'processing');
  const processing = processingFlag === undefined ? undefined : path.resolve(cwd, processingFlag);
  const metadataFlag = stringFlag(ctx, 'metadata');
  const dataFlag = stringFlag(ctx, 'data');
  const dataRoot = dataFlag ? path.resolve(cwd, dataFlag) : undefined;
  const sheetSize = numberFlag(ctx, 'sheet-size') ?? 24;
  if (!Number.isInteger(sheetSize) || sheetSize < 0 || sheetSize > 200) throw new UsageError(`--sheet-size must be an integer in 0..200 (got ${sheetSize})`);
  if (dataRoot && !existsSync(dataRoot)) throw new UsageError(`--data ${dataRoot}: no such folder`);
  if (processing && !existsSync(processing)) throw new UsageError(`--processing ${processing}: no such file`);
  const strict = ctx.values['strict'] === true;
  const configFlag = stringFlag(ctx, 'config');
  const { thresholds, source } = await loadThresholds(path.resolve(cwd, configFlag ?? path.join('configs', 'quality.json')), configFlag !== undefined);

  const { DRAWN_THRESHOLDS, visualizeDataset } = await import('@agekit/plot');
  const result = await visualizeDataset({
    out,
    data: dataRoot,
    metadata: metadataFlag === undefined ? undefined : path.resolve(cwd, metadataFlag),
    processing,
    thresholds,
    thresholdsSource: source ? path.basename(source) : 'defaults',
    sheetSize,
    strict,
    onStart(start) {
      const unreadable = start.unreadable ? ` (${start.unreadable} unreadable images)` : '';
      term.info(`visualize: ${start.images} rows from ${relative(start.metadataFile)}${unreadable}; thresholds from ${source ? relative(source) : 'the defaults'}`);
      if (start.processingFile) term.info(`visualize: ${start.processingRows} rows from ${relative(start.processingFile)}`);
      if (!dataRoot && sheetSize > 0) term.warn('no --data: contact sheets of flagged images skipped (ids in metadata.csv are relative to the dataset root)');
    },
    onWarning: (line) => term.warn(line),
    onProgress: term.progress('visualize'),
  });
  const { warnings } = result;
  const warned = warnings.length ? ` (${warnings.length} warnings)` : '';
  term.info(`visualize: wrote ${result.figures.length} figures + index.html to ${relative(result.visualizations)} in ${formatDuration(result.seconds)}${warned}`);
  term.result({
    visualizations: result.visualizations,
    index: result.index,
    figures: result.figures.map((f) => ({ file: f.file, caption: f.caption })),
    images: result.images,
    unreadable: result.unreadable,
    flagged: result.flagged,
    thresholds: Object.fromEntries(DRAWN_THRESHOLDS.map((k) => [k, thresholds[k]])),
    thresholdsSource: source ?? null,
    warnings,
    seconds: Number(result.seconds.toFixed(2)),
  });
  if (result.notRendered > 0) return EXIT.failed;
  if (strict && warnings.length > 0) {
    term.error(`--strict: ${warnings.length} images could not be read for the contact sheets`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

export const command: CliCommand = {
  name: 'visualize',
  summary: 'figures (PNG) and an index.html from csv/metadata.csv and csv/processing.csv',
  usage,
  options: {
    ...COMMON_OPTIONS,
    metadata: { type: 'string' },
    processing: { type: 'string' },
    'sheet-size': { type: 'string' },
  },
  run,
};
