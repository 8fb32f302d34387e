import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { formatDuration } from '@agekit/dataset';
import { qualityConfigSchema, type QualityConfig } from '@agekit/quality';
import { COMMON_OPTIONS, valueFlags, EXIT, failed, pathFlag, readStageConfig, UsageError, wholeNumberFlag, type CliCommand, type CommandContext } from '../lib/command';

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

async function run(ctx: CommandContext): Promise<number> {
  const { term, cwd } = ctx;
  const out = pathFlag(ctx, 'out') ?? cwd;
  const relative = (file: string): string => path.relative(cwd, file) || file;
  const processing = pathFlag(ctx, 'processing');
  const dataRoot = pathFlag(ctx, 'data');
  const sheetSize = wholeNumberFlag(ctx, 'sheet-size', 0, 200) ?? 24;
  if (dataRoot && !existsSync(dataRoot)) throw new UsageError(`--data ${dataRoot}: no such folder`);
  if (processing && !existsSync(processing)) throw new UsageError(`--processing ${processing}: no such file`);
  const strict = ctx.values['strict'] === true;
  // the thresholds drawn: those of the explore stage's config (missing fields defaulted), else the defaults
  const { config, file: source } = await readStageConfig<QualityConfig>(ctx, qualityConfigSchema, 'configs/quality.json');
  const { thresholds } = config;

  const { DRAWN_THRESHOLDS, visualizeDataset } = await import('@agekit/plot');
  const result = await visualizeDataset({
    out,
    data: dataRoot,
    metadata: pathFlag(ctx, 'metadata'),
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
  if (strict && warnings.length > 0) return failed(ctx, `--strict: ${warnings.length} images could not be read for the contact sheets`);
  return EXIT.ok;
}

export const command: CliCommand = {
  usage,
  options: { ...COMMON_OPTIONS, ...valueFlags('metadata', 'processing', 'sheet-size') },
  run,
};
