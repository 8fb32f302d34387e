import * as path from 'node:path';
import {
  CsvWriter,
  decodeImage,
  describeError,
  encodeImage,
  encodeFormatOf,
  mapSettled,
  readCsv,
  readImageBytes,
  copyFileAtomic,
  writeCsv,
  writeFileAtomic,
  type Dataset,
  type DatasetRecord,
  type EncodeFormat,
  type PixelImage,
  type ProgressCallback,
} from '@agekit/dataset';
import {
  describeOperations,
  enhanceImage,
  FIXABLE_FLAGS,
  isFixableFlag,
  ssimToOriginal,
  type CandidateGrid,
  type FixableFlag,
  type ImageMeasurement,
  type QualityGuard,
} from '@agekit/enhance';

/** Columns of csv/processing.csv (CONTRACTS.md). */
export const PROCESSING_COLUMNS = [
  'id',
  'status',
  'flags_before',
  'flags_after',
  'operations',
  'laplacian_variance_before',
  'laplacian_variance_after',
  'mean_intensity_before',
  'mean_intensity_after',
  'std_intensity_before',
  'std_intensity_after',
  'width_before',
  'width_after',
  'height_before',
  'height_after',
  'ssim',
  'error',
] as const;

export type ProcessingStatus = 'unchanged' | 'resolved' | 'unresolved' | 'error';

export interface ProcessingRow {
  id: string;
  status: ProcessingStatus;
  flagsBefore: FixableFlag[];
  flagsAfter: FixableFlag[];
  operations: string;
  before?: ImageMeasurement;
  after?: ImageMeasurement;
  ssim?: number;
  error?: string;
  /** Not processed: its metadata row had an error, or the dataset refused the entry (a DatasetProblem). */
  skipped?: boolean;
}

export interface ProcessOptions {
  dataset: Dataset;
  /** metadata.csv rows by id. */
  metadata: Map<string, Record<string, string>>;
  processedDir: string;
  guard: QualityGuard;
  candidates: CandidateGrid;
  beamWidth: number;
  jpegQuality: number;
  concurrency: number;
  maxPixels?: number;
  onProgress?: ProgressCallback;
}

function splitFlags(text: string | undefined): FixableFlag[] {
  const set = new Set((text ?? '').split(';').map((f) => f.trim()));
  return FIXABLE_FLAGS.filter((f) => set.has(f) && isFixableFlag(f));
}

function metricsFromRow(row: Record<string, string>): ImageMeasurement | undefined {
  const n = (key: string): number => (row[key] === undefined || row[key] === '' ? NaN : Number(row[key]));
  const m = {
    width: n('width'),
    height: n('height'),
    laplacianVariance: n('laplacian_variance'),
    meanIntensity: n('mean_intensity'),
    stdIntensity: n('std_intensity'),
  };
  return Object.values(m).every(Number.isFinite) ? m : undefined;
}

function roundTripFor(format: EncodeFormat, quality: number): ((image: PixelImage) => Promise<PixelImage>) | undefined {
  if (format === 'png') return undefined;
  return async (image) => decodeImage(await encodeImage(image, format, quality), { channels: 'keep' });
}

/** Process one record: byte copy when it has no fixable flag, else the quality-guarded correction. */
export async function processRecord(record: DatasetRecord, options: ProcessOptions): Promise<ProcessingRow> {
  const row = options.metadata.get(record.id);
  if (row?.['error']) {
    return { id: record.id, status: 'error', flagsBefore: [], flagsAfter: [], operations: '', error: `skipped: explore could not read it: ${row['error']}`, skipped: true };
  }
  const target = path.join(options.processedDir, ...record.id.split('/'));
  const known = row ? splitFlags(row['flags']) : undefined;
  if (known && known.length === 0) {
    await readImageBytes(record.file); // a clear error naming the file if it is gone
    await copyFileAtomic(record.file, target);
    const m = metricsFromRow(row ?? {});
    return { id: record.id, status: 'unchanged', flagsBefore: [], flagsAfter: [], operations: '', before: m, after: m, ssim: 1 };
  }
  const original = await decodeImage(record.file, { channels: 'keep', maxPixels: options.maxPixels });
  // a GIF, BMP or TIFF cannot be written back under its own name (its id): its bytes are kept as they are
  const format = encodeFormatOf(record.id);
  const result = await enhanceImage(original, {
    guard: options.guard,
    candidates: options.candidates,
    beamWidth: options.beamWidth,
    flags: known,
    roundTrip: format ? roundTripFor(format, options.jpegQuality) : undefined,
  });
  if (result.operations.length === 0 || !format) {
    // nothing helped (or nothing to do): keep the original bytes rather than re-encode them
    await copyFileAtomic(record.file, target);
    return {
      id: record.id,
      status: format ? result.status : result.flagsBefore.length ? 'unresolved' : 'unchanged',
      flagsBefore: result.flagsBefore,
      flagsAfter: format ? result.flagsAfter : result.flagsBefore,
      operations: '',
      before: result.before,
      after: result.before,
      ssim: 1,
    };
  }
  const bytes = await encodeImage(result.image, format, options.jpegQuality);
  await writeFileAtomic(target, bytes);
  // the after-metrics are those of the file as written (after lossy compression)
  const written = await decodeImage(bytes, { channels: 'keep', file: target });
  const after = await options.guard.measure(written);
  const flagsAfter = FIXABLE_FLAGS.filter((f) => options.guard.flags(after).includes(f));
  return {
    id: record.id,
    status: flagsAfter.length === 0 ? 'resolved' : 'unresolved',
    flagsBefore: result.flagsBefore,
    flagsAfter,
    operations: describeOperations(result.operations),
    before: result.before,
    after,
    ssim: await ssimToOriginal(original, written, result.operations),
  };
}

/** Process every record (bounded concurrency, results in dataset order). */
export async function processRecords(options: ProcessOptions): Promise<ProcessingRow[]> {
  const settled = await mapSettled(options.dataset.records, (record) => processRecord(record, options), {
    concurrency: options.concurrency,
    onProgress: options.onProgress,
  });
  return settled.map((s, i) =>
    s.ok
      ? s.value
      : { id: options.dataset.records[i].id, status: 'error', flagsBefore: [], flagsAfter: [], operations: '', error: describeError(s.error) },
  );
}

const r4 = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 1e4) / 1e4);

/** Write csv/processing.csv (atomically). */
export async function writeProcessingCsv(file: string, rows: readonly ProcessingRow[]): Promise<void> {
  const writer = await CsvWriter.open(file, PROCESSING_COLUMNS);
  try {
    for (const r of rows) {
      await writer.write({
        id: r.id,
        status: r.status,
        flags_before: r.flagsBefore.join(';'),
        flags_after: r.flagsAfter.join(';'),
        operations: r.operations,
        laplacian_variance_before: r4(r.before?.laplacianVariance),
        laplacian_variance_after: r4(r.after?.laplacianVariance),
        mean_intensity_before: r4(r.before?.meanIntensity),
        mean_intensity_after: r4(r.after?.meanIntensity),
        std_intensity_before: r4(r.before?.stdIntensity),
        std_intensity_after: r4(r.after?.stdIntensity),
        width_before: r.before?.width,
        width_after: r.after?.width,
        height_before: r.before?.height,
        height_after: r.after?.height,
        ssim: r4(r.ssim),
        error: r.error ?? '',
      });
    }
    await writer.close();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * For a labels-CSV dataset, write `<processed>/labels.csv`: the original's rows (same columns) for
 * the images that were written.
 */
export async function writeProcessedLabels(labelsCsv: string, dataRoot: string, processedDir: string, written: ReadonlySet<string>): Promise<number> {
  const rows = await readCsv(labelsCsv);
  if (rows.length === 0) return 0;
  const columns = Object.keys(rows[0]);
  const fileCol = ['file', 'path', 'filename', 'image', 'ID', 'id'].find((c) => columns.includes(c));
  const csvDir = path.dirname(path.resolve(labelsCsv));
  const keep = rows.filter((r) => {
    if (!fileCol || !r[fileCol]) return false;
    const id = path.relative(dataRoot, path.resolve(csvDir, r[fileCol].trim())).split(path.sep).join('/');
    return written.has(id);
  });
  return writeCsv(path.join(processedDir, 'labels.csv'), keep, columns);
}

export interface FlagSummary {
  flagged: number;
  /** Flagged images that no longer have this flag. */
  resolved: number;
  /** Flagged images that still have it. */
  unresolved: number;
  /** Flagged images that pass every check after processing. */
  passAll: number;
  /** passAll / flagged. */
  passAllShare: number;
}

export interface ProcessSummary {
  images: number;
  unchanged: number;
  resolved: number;
  unresolved: number;
  errors: number;
  /** Of the errors: entries skipped (a metadata error row, or refused by the dataset reader). */
  skipped: number;
  perFlag: Record<FixableFlag, FlagSummary>;
  seconds: number;
  imagesPerSecond: number;
}

export function summarize(rows: readonly ProcessingRow[], seconds: number): ProcessSummary {
  const perFlag = Object.fromEntries(
    FIXABLE_FLAGS.map((f) => [f, { flagged: 0, resolved: 0, unresolved: 0, passAll: 0, passAllShare: 0 }]),
  ) as Record<FixableFlag, FlagSummary>;
  for (const r of rows) {
    if (r.status === 'error') continue;
    for (const f of r.flagsBefore) {
      const s = perFlag[f];
      s.flagged++;
      if (r.flagsAfter.includes(f)) s.unresolved++;
      else s.resolved++;
      if (r.flagsAfter.length === 0) s.passAll++;
    }
  }
  for (const s of Object.values(perFlag)) s.passAllShare = s.flagged > 0 ? s.passAll / s.flagged : 0;
  const count = (status: ProcessingStatus): number => rows.filter((r) => r.status === status).length;
  return {
    images: rows.length,
    unchanged: count('unchanged'),
    resolved: count('resolved'),
    unresolved: count('unresolved'),
    errors: count('error'),
    skipped: rows.filter((r) => r.skipped).length,
    perFlag,
    seconds,
    imagesPerSecond: seconds > 0 ? rows.length / seconds : 0,
  };
}
