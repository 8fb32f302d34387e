import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describeError, formatDuration, ProgressTracker, StageOutputs, writeFileAtomic } from '@agekit/dataset';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand, type CommandContext } from '../lib/command';
import { buildFigures, type FigureSpec } from '../visualize/figures';
import { renderIndexHtml, type HtmlSection } from '../visualize/html';
import { readMetadata, readProcessing } from '../visualize/metadata';
import { loadThresholds } from '../visualize/thresholds';

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

/** The thresholds the figures draw (the summary lists these). */
const DRAWN_THRESHOLDS = ['blurryBelow', 'noisyLaplacianAbove', 'darkBelow', 'brightAbove', 'lowTextureBelow', 'noisyStdAbove', 'minSide'] as const;

const SECTIONS: Record<FigureSpec['section'], { title: string; intro: string }> = {
  original: { title: 'Original images', intro: 'Distributions over the raw dataset; dashed lines are the quality thresholds, shaded ranges are flagged.' },
  flagged: { title: 'Flagged examples', intro: 'The worst examples of each quality flag, read from the dataset.' },
  processed: { title: 'After processing', intro: 'Before/after comparison from csv/processing.csv.' },
};

/** Folders of visualizations/ that other stages write (resample's chart): kept when visualize replaces the rest. */
const OTHER_STAGES = ['resample'];

async function listPngs(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith('.png')) out.push(path.relative(dir, p).split(path.sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

async function run(ctx: CommandContext): Promise<number> {
  const started = performance.now();
  const out = path.resolve(ctx.cwd, stringFlag(ctx, 'out') ?? '.');
  const metadataFile = path.resolve(ctx.cwd, stringFlag(ctx, 'metadata') ?? path.join(out, 'csv', 'metadata.csv'));
  const processingFlag = stringFlag(ctx, 'processing');
  const processingFile = path.resolve(ctx.cwd, processingFlag ?? path.join(out, 'csv', 'processing.csv'));
  const dataFlag = stringFlag(ctx, 'data');
  const dataRoot = dataFlag ? path.resolve(ctx.cwd, dataFlag) : undefined;
  const sheetSize = numberFlag(ctx, 'sheet-size') ?? 24;
  if (!Number.isInteger(sheetSize) || sheetSize < 0 || sheetSize > 200) throw new UsageError(`--sheet-size must be an integer in 0..200 (got ${sheetSize})`);
  if (dataRoot && !existsSync(dataRoot)) throw new UsageError(`--data ${dataRoot}: no such folder`);
  const strict = ctx.values['strict'] === true;

  const configFlag = stringFlag(ctx, 'config');
  const { thresholds, source } = await loadThresholds(
    path.resolve(ctx.cwd, configFlag ?? path.join('configs', 'quality.json')),
    configFlag !== undefined,
  );

  const vizDir = path.join(out, 'visualizations');
  const plan = { inputs: [metadataFile, processingFile, dataRoot], folders: [{ path: vizDir, keep: OTHER_STAGES }] };
  await StageOutputs.check(plan); // an --out it may not use fails before any work or output
  const rows = await readMetadata(metadataFile);
  const failed = rows.filter((r) => r.error);
  ctx.term.info(`visualize: ${rows.length} rows from ${path.relative(ctx.cwd, metadataFile) || metadataFile}${failed.length ? ` (${failed.length} unreadable images)` : ''}; thresholds from ${source ? path.relative(ctx.cwd, source) : 'the defaults'}`);
  if (strict && failed.length > 0) {
    ctx.term.error(`--strict: ${failed.length} rows of ${metadataFile} have an error, e.g. ${failed[0].id}: ${failed[0].error}`);
    return EXIT.failed;
  }
  if (processingFlag && !existsSync(processingFile)) throw new UsageError(`--processing ${processingFile}: no such file`);
  const processing = existsSync(processingFile) ? await readProcessing(processingFile) : undefined;
  if (processing) ctx.term.info(`visualize: ${processing.length} rows from ${path.relative(ctx.cwd, processingFile) || processingFile}`);
  if (!dataRoot && sheetSize > 0) ctx.term.warn('no --data: contact sheets of flagged images skipped (ids in metadata.csv are relative to the dataset root)');

  const { written, warnings, flagged, figureCount } = await StageOutputs.write(
    plan,
    async (outputs) => {
      const staging = outputs.path(vizDir);
      const plot = await import('@agekit/plot');
      const figures = buildFigures({ rows, processing, thresholds, dataRoot: sheetSize > 0 ? dataRoot : undefined, sheetSize }, plot);
      const tracker = new ProgressTracker(figures.length, ctx.term.progress('visualize'), 0);
      const written: FigureSpec[] = [];
      const warnings: string[] = [];
      for (const figure of figures) {
        try {
          const { png, warnings: w } = await figure.render();
          await writeFileAtomic(path.join(staging, figure.file), png);
          written.push(figure);
          for (const line of w ?? []) {
            warnings.push(line);
            ctx.term.warn(line);
          }
          tracker.tick(true);
        } catch (error) {
          const line = `${figure.file}: not rendered: ${describeError(error)}`;
          warnings.push(line);
          ctx.term.warn(line);
          tracker.tick(false);
        }
      }

      // index.html: our figures by section, then any other PNGs under visualizations/ (e.g. from resample or train).
      const others = (await Promise.all(OTHER_STAGES.map(async (d) => (await listPngs(path.join(vizDir, d))).map((f) => `${d}/${f}`)))).flat();
      const sections: HtmlSection[] = (Object.keys(SECTIONS) as FigureSpec['section'][]).map((s) => ({
        ...SECTIONS[s],
        figures: written.filter((f) => f.section === s).map((f) => ({ file: f.file, caption: f.caption })),
      }));
      sections.push({
        title: 'Other stages',
        intro: 'Figures written by other agekit stages into the same folder.',
        figures: others.map((f) => ({ file: f, caption: f.replace(/\.png$/, '').replace(/[/_]/g, ' ') })),
      });
      const flagged = rows.filter((r) => r.flags.length > 0).length;
      const summary = [
        `${rows.length.toLocaleString('en-US')} images in ${path.basename(metadataFile)}; ${flagged.toLocaleString('en-US')} with at least one quality flag; ${failed.length.toLocaleString('en-US')} unreadable.`,
        `Thresholds: ${DRAWN_THRESHOLDS.map((k) => `${k} ${thresholds[k]}`).join(', ')} (${source ? path.basename(source) : 'defaults'}).`,
        processing ? `${processing.length.toLocaleString('en-US')} rows in ${path.basename(processingFile)}.` : 'No processing.csv: before/after figures not drawn.',
      ];
      await writeFileAtomic(path.join(staging, 'index.html'), renderIndexHtml('agekit: dataset visualizations', summary, sections));

      return { written, warnings, flagged, figureCount: figures.length };
    },
  );
  const seconds = (performance.now() - started) / 1000;
  ctx.term.info(`visualize: wrote ${written.length} figures + index.html to ${path.relative(ctx.cwd, vizDir) || vizDir} in ${formatDuration(seconds)}${warnings.length ? ` (${warnings.length} warnings)` : ''}`);
  ctx.term.result({
    visualizations: vizDir,
    index: path.join(vizDir, 'index.html'),
    figures: written.map((f) => ({ file: f.file, caption: f.caption })),
    images: rows.length,
    unreadable: failed.length,
    flagged,
    thresholds: Object.fromEntries(DRAWN_THRESHOLDS.map((k) => [k, thresholds[k]])),
    thresholdsSource: source ?? null,
    warnings,
    seconds: Number(seconds.toFixed(2)),
  });
  const notRendered = figureCount - written.length;
  if (notRendered > 0) return EXIT.failed;
  if (strict && warnings.length > 0) {
    ctx.term.error(`--strict: ${warnings.length} images could not be read for the contact sheets`);
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
