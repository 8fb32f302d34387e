import { readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { ImageDecodeError } from '@agekit/dataset';
import { measureImage, type ImageMetrics } from '../metrics';
import { datasetIfLoaded, loadDataset } from './dataset-lazy';
import { decodeForMetrics } from './decode';

/** One image's measurements (as sent from a worker process). */
export interface AnalyzedImage {
  format: string;
  sourceChannels: number;
  /** native: read, decoded and measured by @agekit/quality's native engine. */
  decoder: 'canvas' | 'sharp' | 'native';
  metrics: ImageMetrics;
}

/** A failed image: the reason without the file path (the CSV row already names the file). */
export interface AnalyzeFailure {
  reason: string;
  message: string;
}

export type AnalyzeOutcome = { ok: true; value: AnalyzedImage } | { ok: false; error: AnalyzeFailure };

export interface AnalyzeOptions {
  maxPixels: number;
  sharpOnly?: boolean;
  /** Read files synchronously (worker processes: one fewer thread-pool round trip per file). */
  syncRead?: boolean;
}

/** The ImageDecodeError @agekit/dataset's readImageBytes gives for a read error. */
async function readError(file: string, error: unknown): Promise<ImageDecodeError> {
  const { ImageDecodeError: DecodeError } = loadDataset();
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DecodeError(file, 'not-found', 'no such file');
  if (code === 'EACCES' || code === 'EPERM') return new DecodeError(file, 'unreadable', 'permission denied');
  if (code === 'EISDIR') return new DecodeError(file, 'unreadable', 'is a directory');
  return new DecodeError(file, 'unreadable', (error as Error).message);
}

/** Read, decode and measure one file; never throws (a failure is an outcome). */
export async function analyzeFile(file: string, options: AnalyzeOptions): Promise<AnalyzeOutcome> {
  try {
    let bytes: Buffer;
    try {
      bytes = options.syncRead ? readFileSync(file) : await fsp.readFile(file);
    } catch (error) {
      throw await readError(file, error);
    }
    const decoded = await decodeForMetrics(bytes, file, options);
    return { ok: true, value: { format: decoded.format, sourceChannels: decoded.sourceChannels, decoder: decoded.decoder, metrics: measureImage(decoded.image) } };
  } catch (error) {
    loadDataset();
    return { ok: false, error: toFailure(file, error) };
  }
}

/** A failure without the file path; needs @agekit/dataset loaded (loadDataset) to recognise its errors. */
export function toFailure(file: string, error: unknown): AnalyzeFailure {
  const dataset = datasetIfLoaded();
  if (dataset && error instanceof dataset.ImageDecodeError) {
    const prefix = `${error.file}: `;
    return { reason: error.reason, message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message };
  }
  const message = dataset ? dataset.describeError(error) : error instanceof Error ? error.message : String(error);
  return { reason: 'error', message: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message };
}
