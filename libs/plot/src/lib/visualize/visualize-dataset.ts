/**
 * The visualize stage as a library call: figures (PNG) and an index.html from explore's metadata.csv and, when there
 * is one, process's processing.csv, written under <out>/visualizations/ whole or not at all.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  DatasetError,
  describeError,
  metadataCsvPath,
  processingPaths,
  ProgressTracker,
  readProcessingCsv,
  resolveThresholds,
  StageOutputs,
  writeFileAtomic,
  type ProcessingRow,
  type ProgressCallback,
  type QualityThresholds,
} from '@agekit/dataset';
import { buildFigures, DRAWN_THRESHOLDS, type FigureSpec } from './figures';
import { renderIndexHtml, type HtmlSection } from './html';
import { readFigureMetadata } from './metadata';

/** The folder visualize writes under a stage's out folder. */
export const VISUALIZATIONS_DIR = 'visualizations';
/** Folders of visualizations/ that other stages write (resample's chart): kept when visualize replaces the rest. */
export const OTHER_STAGE_FIGURES = ['resample'] as const;

export interface VisualizeDatasetOptions {
  /** The stage folder: reads <out>/csv/*.csv, writes <out>/visualizations/. */
  out: string;
  /** The dataset explore measured, for the contact sheets of flagged images (ids are relative to it); none: no sheets. */
  data?: string;
  /** explore's metadata CSV (default <out>/csv/metadata.csv). */
  metadata?: string;
  /** process's CSV (default <out>/csv/processing.csv, skipped when absent; a file named here must exist). */
  processing?: string;
  /** The quality thresholds drawn on the figures: explore's config's (default: the contract's DEFAULT_THRESHOLDS). */
  thresholds?: Partial<QualityThresholds>;
  /** Where the thresholds came from, for index.html (default 'as given', or 'defaults' without thresholds). */
  thresholdsSource?: string;
  /** Thumbnails per contact sheet, 0..200 (default 24; 0 = no contact sheets). */
  sheetSize?: number;
  /** A metadata row with an error (an unreadable image) fails the run before anything is written. */
  strict?: boolean;
  /** Called once the CSVs are read, before any figure is drawn. */
  onStart?: (start: VisualizeDatasetStart) => void;
  /** Called with each warning (an image a contact sheet cannot read, a figure that could not be drawn) as it happens. */
  onWarning?: (line: string) => void;
  onProgress?: ProgressCallback;
  /** Stop early: the new figures are dropped, the previous ones kept. */
  signal?: AbortSignal;
}

export interface VisualizeDatasetStart {
  metadataFile: string;
  images: number;
  /** Rows with an error (unreadable images). */
  unreadable: number;
  /** processing.csv and its row count, when read. */
  processingFile?: string;
  processingRows?: number;
  /** Whether contact sheets are drawn (a dataset folder was given and sheetSize > 0). */
  contactSheets: boolean;
}

export interface VisualizeFigure {
  /** Relative to the visualizations folder. */
  file: string;
  caption: string;
  section: FigureSpec['section'];
}

export interface VisualizeDatasetResult {
  visualizations: string;
  index: string;
  /** The figures written, in drawing order. */
  figures: VisualizeFigure[];
  /** Figures planned but not drawn (each has a warning). */
  notRendered: number;
  images: number;
  unreadable: number;
  /** Images with at least one quality flag. */
  flagged: number;
  /** Rows of processing.csv, when one was read. */
  processingRows?: number;
  warnings: string[];
  seconds: number;
}

const SECTIONS: Record<FigureSpec['section'], { title: string; intro: string }> = {
  original: { title: 'Original images', intro: 'Distributions over the raw dataset; dashed lines are the quality thresholds, shaded ranges are flagged.' },
  flagged: { title: 'Flagged examples', intro: 'The worst examples of each quality flag, read from the dataset.' },
  processed: { title: 'After processing', intro: 'Before/after comparison from csv/processing.csv.' },
};

/** Every PNG under `dir`, relative to it, sorted (none when the folder does not exist). */
async function listPngs(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
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

/**
 * The visualize stage: `visualizeDataset({ out })` draws the figures of <out>/csv/metadata.csv (and of
 * processing.csv when present) into <out>/visualizations/ with an index.html, keeping resample's folder there.
 * DatasetError when metadata.csv (or a named processing.csv or dataset folder) is missing, or under `strict` when a
 * row has an error.
 */
export async function visualizeDataset(options: VisualizeDatasetOptions): Promise<VisualizeDatasetResult> {
  const started = performance.now();
  const out = path.resolve(options.out);
  const metadataFile = path.resolve(options.metadata ?? metadataCsvPath(out));
  const processingFile = path.resolve(options.processing ?? processingPaths(out).processingCsv);
  const dataRoot = options.data === undefined ? undefined : path.resolve(options.data);
  const sheetSize = options.sheetSize ?? 24;
  const thresholds = resolveThresholds(options.thresholds);
  if (!Number.isInteger(sheetSize) || sheetSize < 0 || sheetSize > 200) throw new RangeError(`sheetSize must be an integer in 0..200 (got ${sheetSize})`);
  if (dataRoot && !existsSync(dataRoot)) throw new DatasetError(dataRoot, 'no such folder');

  const rows = await readFigureMetadata(metadataFile);
  const failed = rows.filter((r) => r.error);
  if (options.strict && failed.length > 0) {
    throw new DatasetError(metadataFile, `${failed.length} rows have an error (strict run), e.g. ${failed[0].id}: ${failed[0].error}`);
  }
  if (options.processing !== undefined && !existsSync(processingFile)) throw new DatasetError(processingFile, 'no such file');
  const processing: ProcessingRow[] | undefined = existsSync(processingFile) ? await readProcessingCsv(processingFile) : undefined;
  const contactSheets = dataRoot !== undefined && sheetSize > 0;
  const vizDir = path.join(out, VISUALIZATIONS_DIR);
  const plan = { inputs: [metadataFile, processing ? processingFile : undefined, dataRoot], folders: [{ path: vizDir, keep: OTHER_STAGE_FIGURES }] };
  // an --out that cannot be used is refused before anything else is said
  await StageOutputs.check(plan);
  options.onStart?.({
    metadataFile,
    images: rows.length,
    unreadable: failed.length,
    processingFile: processing ? processingFile : undefined,
    processingRows: processing?.length,
    contactSheets,
  });

  const warnings: string[] = [];
  const warn = (line: string): void => {
    warnings.push(line);
    options.onWarning?.(line);
  };
  const { written, figureCount } = await StageOutputs.write(plan, async (outputs) => {
    const staging = outputs.path(vizDir);
    const figures = buildFigures({ rows, processing, thresholds, dataRoot: contactSheets ? dataRoot : undefined, sheetSize });
    const tracker = new ProgressTracker(figures.length, options.onProgress, 0);
    const written: FigureSpec[] = [];
    for (const figure of figures) {
      options.signal?.throwIfAborted();
      try {
        const { png, warnings: lines } = await figure.render();
        await writeFileAtomic(path.join(staging, figure.file), png);
        written.push(figure);
        for (const line of lines ?? []) warn(line);
        tracker.tick(true);
      } catch (error) {
        warn(`${figure.file}: not rendered: ${describeError(error)}`);
        tracker.tick(false);
      }
    }

    // index.html: our figures by section, then any other PNGs under visualizations/ (e.g. from resample or train).
    const others = (await Promise.all(OTHER_STAGE_FIGURES.map(async (d) => (await listPngs(path.join(vizDir, d))).map((f) => `${d}/${f}`)))).flat();
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
      `${rows.length.toLocaleString('en-US')} images in ${path.basename(metadataFile)}; ${flagged.toLocaleString('en-US')} with at least one quality flag; ` +
        `${failed.length.toLocaleString('en-US')} unreadable.`,
      `Thresholds: ${DRAWN_THRESHOLDS.map((k) => `${k} ${thresholds[k]}`).join(', ')} (${options.thresholdsSource ?? (options.thresholds ? 'as given' : 'defaults')}).`,
      processing ? `${processing.length.toLocaleString('en-US')} rows in ${path.basename(processingFile)}.` : 'No processing.csv: before/after figures not drawn.',
    ];
    await writeFileAtomic(path.join(staging, 'index.html'), renderIndexHtml('agekit: dataset visualizations', summary, sections));
    options.signal?.throwIfAborted();
    return { written, figureCount: figures.length };
  });
  return {
    visualizations: vizDir,
    index: path.join(vizDir, 'index.html'),
    figures: written.map((f) => ({ file: f.file, caption: f.caption, section: f.section })),
    notRendered: figureCount - written.length,
    images: rows.length,
    unreadable: failed.length,
    flagged: rows.filter((r) => r.flags.length > 0).length,
    processingRows: processing?.length,
    warnings,
    seconds: (performance.now() - started) / 1000,
  };
}
