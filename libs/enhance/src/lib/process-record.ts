/** One image of the process stage: a byte copy when it carries no fixable flag, else the quality-guarded correction. */
import * as path from 'node:path';
import {
  copyFileAtomic,
  decodeImage,
  encodeFormatOf,
  encodeImage,
  readImageBytes,
  writeFileAtomic,
  type DatasetRecord,
  type EncodeFormat,
  type MetadataRow,
  type PixelImage,
  type ProcessingRow,
} from '@agekit/dataset';
import type { QualityThresholds } from '@agekit/quality';
import { describeOperations, enhanceImage, ssimToOriginal, type CandidateGrid } from './choose';
import { FIXABLE_FLAGS, isFixableFlag, qualityGuard, type FixableFlag, type ImageMeasurement, type QualityGuard } from './guard';

/** The fields of a metadata.csv row (the contract's MetadataRow) that process reads. */
export type ProcessMetadata = Pick<MetadataRow, 'flags' | 'error' | 'width' | 'height' | 'laplacianVariance' | 'meanIntensity' | 'stdIntensity'>;

/** The fields process reads of a metadata row, as plain data for a worker thread. */
export function processMetadataOf(row: MetadataRow): ProcessMetadata {
  const { flags, error, width, height, laplacianVariance, meanIntensity, stdIntensity } = row;
  return { flags, error, width, height, laplacianVariance, meanIntensity, stdIntensity };
}

/** Everything the work on one image needs, as plain data (structured-clone safe: it is sent to worker threads). */
export interface ProcessJob {
  records: DatasetRecord[];
  /** metadata.csv rows by id (the fields process reads). */
  metadata: Array<[string, ProcessMetadata]>;
  /** Where the images are written (the staging folder of processed_dataset/). */
  processedDir: string;
  thresholds: QualityThresholds;
  candidates: CandidateGrid;
  beamWidth: number;
  jpegQuality: number;
  maxPixels?: number;
}

/** A job made ready to run in one thread: the metadata as a map, the guard built from the thresholds. */
export interface ProcessContext {
  job: ProcessJob;
  metadata: Map<string, ProcessMetadata>;
  guard: QualityGuard;
}

export function processContext(job: ProcessJob): ProcessContext {
  return { job, metadata: new Map(job.metadata), guard: qualityGuard(job.thresholds) };
}

function fixableFlagsOf(flags: readonly string[]): FixableFlag[] {
  return FIXABLE_FLAGS.filter((f) => flags.includes(f) && isFixableFlag(f));
}

function measurementOfRow(row: ProcessMetadata | undefined): ImageMeasurement | undefined {
  if (!row) return undefined;
  const m = { width: row.width, height: row.height, laplacianVariance: row.laplacianVariance, meanIntensity: row.meanIntensity, stdIntensity: row.stdIntensity };
  return Object.values(m).every(Number.isFinite) ? m : undefined;
}

function roundTripFor(format: EncodeFormat, quality: number): ((image: PixelImage) => Promise<PixelImage>) | undefined {
  if (format === 'png') return undefined;
  return async (image) => decodeImage(await encodeImage(image, format, quality), { channels: 'keep' });
}

/** A row for an image that could not be processed. */
export function processingErrorRow(id: string, error: string, skipped?: boolean): ProcessingRow<FixableFlag> {
  return { id, status: 'error', flagsBefore: [], flagsAfter: [], operations: '', error, ...(skipped ? { skipped } : {}) };
}

/** Process one record: byte copy when it has no fixable flag, else the quality-guarded correction. */
export async function processRecord(record: DatasetRecord, context: ProcessContext): Promise<ProcessingRow<FixableFlag>> {
  const { job, guard } = context;
  const row = context.metadata.get(record.id);
  if (row?.error) return processingErrorRow(record.id, `skipped: explore could not read it: ${row.error}`, true);
  const target = path.join(job.processedDir, ...record.id.split('/'));
  const known = row ? fixableFlagsOf(row.flags) : undefined;
  if (known && known.length === 0) {
    await readImageBytes(record.file); // a clear error naming the file if it is gone
    await copyFileAtomic(record.file, target);
    const m = measurementOfRow(row);
    return { id: record.id, status: 'unchanged', flagsBefore: [], flagsAfter: [], operations: '', before: m, after: m, ssim: 1 };
  }
  const original = await decodeImage(record.file, { channels: 'keep', maxPixels: job.maxPixels });
  // a GIF, BMP or TIFF cannot be written back under its own name (its id): its bytes are kept as they are
  const format = encodeFormatOf(record.id);
  const result = await enhanceImage(original, {
    guard,
    candidates: job.candidates,
    beamWidth: job.beamWidth,
    flags: known,
    roundTrip: format ? roundTripFor(format, job.jpegQuality) : undefined,
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
  const bytes = await encodeImage(result.image, format, job.jpegQuality);
  await writeFileAtomic(target, bytes);
  // the after-metrics are those of the file as written (after lossy compression)
  const written = await decodeImage(bytes, { channels: 'keep', file: target });
  const after = await guard.measure(written);
  const flagsAfter = FIXABLE_FLAGS.filter((f) => guard.flags(after).includes(f));
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
