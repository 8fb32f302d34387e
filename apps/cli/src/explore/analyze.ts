import { readFileSync } from 'node:fs';
import { describeError, ImageDecodeError, readImageBytes } from '@agekit/dataset';
import { measureImage, type ImageMetrics } from '@agekit/quality';
import { decodeForMetrics } from './decode';

/** One image's measurements, as sent from a worker process. */
export interface AnalyzedImage {
  format: string;
  sourceChannels: number;
  decoder: 'canvas' | 'sharp';
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

/** fs.readFileSync with the errors @agekit/dataset's readImageBytes gives. */
function readSync(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageDecodeError(file, 'not-found', 'no such file');
    if (code === 'EACCES' || code === 'EPERM') throw new ImageDecodeError(file, 'unreadable', 'permission denied');
    if (code === 'EISDIR') throw new ImageDecodeError(file, 'unreadable', 'is a directory');
    throw new ImageDecodeError(file, 'unreadable', (error as Error).message);
  }
}

/** Read, decode and measure one file; never throws (a failure is an outcome). */
export async function analyzeFile(file: string, options: AnalyzeOptions): Promise<AnalyzeOutcome> {
  try {
    const bytes = options.syncRead ? readSync(file) : await readImageBytes(file);
    const decoded = await decodeForMetrics(bytes, file, options);
    return { ok: true, value: { format: decoded.format, sourceChannels: decoded.sourceChannels, decoder: decoded.decoder, metrics: measureImage(decoded.image) } };
  } catch (error) {
    return { ok: false, error: toFailure(file, error) };
  }
}

export function toFailure(file: string, error: unknown): AnalyzeFailure {
  if (error instanceof ImageDecodeError) {
    const prefix = `${error.file}: `;
    return { reason: error.reason, message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message };
  }
  const message = describeError(error);
  return { reason: 'error', message: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message };
}
