import type { DatasetRecord, ProgressCallback } from '@agekit/dataset';
import { analyzeFiles, findDuplicates, loadNativeQuality } from '@agekit/quality';
import type { GroupUnion } from './groups';

export interface ScreenOptions {
  /** Images whose shorter side is below this are left out. */
  minSide: number;
  /** Perceptual-hash distance up to which two images are near-duplicates (explore's nearDuplicateMaxDistance). */
  nearDuplicateMaxDistance: number;
  maxPixels: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * Measure every input image (the native engine of @agekit/quality when built, else decode + measureImage): byte-identical
 * and near-duplicate images are joined into one group in `groups`, and the unreadable and the too small are returned as
 * left out (id -> why).
 */
export async function screenImages(records: readonly DatasetRecord[], groups: GroupUnion, options: ScreenOptions): Promise<Map<string, string>> {
  // explore's own measuring (native engine when built, else decode + measureImage in this process)
  const { outcomes } = await analyzeFiles(
    records.map((r) => r.file),
    { native: loadNativeQuality(), workers: 1, maxPixels: options.maxPixels, onProgress: options.onProgress, signal: options.signal },
  );
  options.signal?.throwIfAborted();
  const leftOut = new Map<string, string>();
  const hashed = records.map((r, i) => {
    const o = outcomes[i];
    if (!o.ok) {
      leftOut.set(r.id, o.error.message);
      return { id: r.id };
    }
    const { width, height, pixelHash, phash } = o.value.metrics;
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
