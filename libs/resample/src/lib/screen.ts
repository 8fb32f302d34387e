import { decodeImage, DatasetError, mapSettled, ProgressTracker, type DatasetRecord, type ProgressCallback } from '@agekit/dataset';
import { findDuplicates, loadNativeQuality, measureImage, type ImageMetrics, type NativeQuality } from '@agekit/quality';
import type { GroupUnion } from './groups';

export interface ScreenOptions {
  /** Images whose shorter side is below this are left out. */
  minSide: number;
  /** Perceptual-hash distance up to which two images are near-duplicates (explore's nearDuplicateMaxDistance). */
  nearDuplicateMaxDistance: number;
  maxPixels: number;
  /** Files decoded at once on the JS path (default 4). */
  concurrency?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

type Measured = { ok: true; metrics: ImageMetrics } | { ok: false; message: string };

/** The reason and detail of a failure, without the file path (the caller names the file). */
function failureMessage(file: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

/** The native engine's files in batches; the indices it does not handle are left undefined for the JS path. */
async function measureNative(native: NativeQuality, files: readonly string[], maxPixels: number, out: Measured[], tick: (ok: boolean) => void, signal?: AbortSignal): Promise<void> {
  const batchSize = 128;
  for (let start = 0; start < files.length; start += batchSize) {
    signal?.throwIfAborted();
    let result: Awaited<ReturnType<NativeQuality['measureFiles']>>;
    try {
      result = await native.measureFiles(files.slice(start, start + batchSize), { maxPixels, threads: 2 });
    } catch {
      continue; // the engine could not take this batch at all (out of memory, ...): the JS path measures it
    }
    result.outcomes.forEach((o, k) => {
      if (o.status === 'ok') out[start + k] = { ok: true, metrics: o.metrics };
      else if (o.status === 'failed') out[start + k] = { ok: false, message: `${o.reason}: ${o.detail}` };
      else return;
      tick(o.status === 'ok');
    });
  }
}

/** Decode with @agekit/dataset (sharp) and measure in JS: files the native engine did not handle, or all without it. */
async function measureJs(files: readonly string[], indices: number[], options: ScreenOptions, out: Measured[], tick: (ok: boolean) => void): Promise<void> {
  await mapSettled(
    indices,
    async (index) => {
      const file = files[index];
      try {
        const image = await decodeImage(file, { maxPixels: options.maxPixels, channels: 'keep' });
        out[index] = { ok: true, metrics: measureImage(image) };
      } catch (error) {
        out[index] = { ok: false, message: failureMessage(file, error) };
      }
      tick(out[index].ok);
    },
    { concurrency: options.concurrency ?? 4, signal: options.signal },
  );
}

/**
 * Measure every input image (the native engine of @agekit/quality when built, else decode + measureImage): byte-identical
 * and near-duplicate images are joined into one group in `groups`, and the unreadable and the too small are returned as
 * left out (id -> why).
 */
export async function screenImages(records: readonly DatasetRecord[], groups: GroupUnion, options: ScreenOptions): Promise<Map<string, string>> {
  const files = records.map((r) => r.file);
  const measured: Measured[] = new Array(files.length);
  const tracker = new ProgressTracker(files.length, options.onProgress);
  const tick = (ok: boolean): void => tracker.tick(ok);
  const native = loadNativeQuality();
  if (native) await measureNative(native, files, options.maxPixels, measured, tick, options.signal);
  const rest = files.map((_, i) => i).filter((i) => measured[i] === undefined);
  await measureJs(files, rest, options, measured, tick);
  if (measured.some((m) => m === undefined)) throw new DatasetError(files[measured.findIndex((m) => m === undefined)], 'was not measured');
  const leftOut = new Map<string, string>();
  const hashed = records.map((r, i) => {
    const m = measured[i];
    if (!m.ok) {
      leftOut.set(r.id, m.message);
      return { id: r.id };
    }
    const { width, height, pixelHash, phash } = m.metrics;
    if (Math.min(width, height) < options.minSide) leftOut.set(r.id, `${width}x${height}: below minSide ${options.minSide}`);
    return { id: r.id, pixelHash, phash };
  });
  const duplicates = findDuplicates(hashed, options.nearDuplicateMaxDistance);
  records.forEach((r, i) => {
    for (const link of [duplicates.duplicateOf[i], duplicates.nearDuplicateOf[i]]) {
      for (const other of (link ?? '').split(';').filter(Boolean)) groups.union(r.id, other);
    }
  });
  return leftOut;
}
