import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, describeError, hashString, mapSettled, rgbToGray, writeFileAtomic, type ProgressCallback, type Rng } from '@agekit/dataset';

/** ImageNet statistics in 0..255 units (RGB), and their mean for grayscale input. */
export const IMAGENET_MEAN = [0.485 * 255, 0.456 * 255, 0.406 * 255];
export const IMAGENET_STD = [0.229 * 255, 0.224 * 255, 0.225 * 255];
export const GRAYSCALE_MEAN = [0.449 * 255];
export const GRAYSCALE_STD = [0.226 * 255];

export interface Normalization {
  /** Per-channel mean, in 0..255 pixel units: x' = (x - mean) / std. */
  mean: number[];
  std: number[];
}

export function defaultNormalization(channels: 1 | 3): Normalization {
  return channels === 3 ? { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] } : { mean: [...GRAYSCALE_MEAN], std: [...GRAYSCALE_STD] };
}

/** An item to load: a stable id and its file. */
export interface ImageItem {
  id: string;
  file: string;
}

/** Decoded, resized images as one uint8 block, NHWC. */
export interface ImageSet {
  ids: string[];
  size: number;
  channels: 1 | 3;
  /** count * size * size * channels bytes. */
  pixels: Uint8Array;
  /** Items that failed to decode (not in ids/pixels). */
  failed: { id: string; file: string; error: string }[];
}

export interface LoadImagesOptions {
  size: number;
  channels: 1 | 3;
  /** Directory for the on-disk cache (absent: no cache). */
  cacheDir?: string;
  /** Cache file name prefix (e.g. the split name). */
  name?: string;
  concurrency?: number;
  onProgress?: ProgressCallback;
}

/** Decode one image (EXIF applied) and resize it to size x size (stretched, bilinear... sharp's default), RGB or gray. */
export async function loadImagePixels(file: string, size: number, channels: 1 | 3): Promise<Uint8Array> {
  const image = await decodeImage(file, { channels: 3 });
  const { data } = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return channels === 3 ? Uint8Array.from(rgb) : rgbToGray(rgb, size, size, 3);
}

interface CacheIndex {
  version: 1;
  key: string;
  size: number;
  channels: 1 | 3;
  ids: string[];
  failed: ImageSet['failed'];
}

/**
 * The cache key: the items' ids, file sizes and modification times, plus size and colour. A changed dataset
 * (added, removed or rewritten files) gives another key and therefore a rebuild.
 */
export async function imageCacheKey(items: ImageItem[], size: number, channels: 1 | 3): Promise<string> {
  const parts: string[] = [`v1|${size}|${channels}`];
  for (const item of items) {
    let stamp = 'missing';
    try {
      const st = await fs.stat(item.file);
      stamp = `${st.size}:${Math.round(st.mtimeMs)}`;
    } catch {
      // a missing file fails at decode time and is recorded as failed
    }
    parts.push(`${item.id}|${stamp}`);
  }
  const text = parts.join('\n');
  return `${hashString(text).toString(16).padStart(8, '0')}${hashString(text.split('').reverse().join('')).toString(16).padStart(8, '0')}`;
}

/**
 * Decode and resize every item once; with `cacheDir`, keep the result as `<name>-<key>.bin` (uint8 NHWC) +
 * `<name>-<key>.json` (ids, failures) and reuse it while the dataset, size and colour are unchanged.
 * A file that fails to decode is listed in `failed` and left out.
 */
export async function loadImageSet(items: ImageItem[], options: LoadImagesOptions): Promise<ImageSet & { fromCache: boolean }> {
  const { size, channels } = options;
  const key = await imageCacheKey(items, size, channels);
  const base = options.cacheDir ? path.join(options.cacheDir, `${options.name ?? 'images'}-${key}`) : undefined;
  if (base) {
    try {
      const index = JSON.parse(await fs.readFile(`${base}.json`, 'utf8')) as CacheIndex;
      const bytes = await fs.readFile(`${base}.bin`);
      if (index.key === key && bytes.length === index.ids.length * size * size * channels) {
        return { ids: index.ids, size, channels, pixels: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), failed: index.failed, fromCache: true };
      }
    } catch {
      // no usable cache: build it
    }
  }
  const results = await mapSettled(items, (item) => loadImagePixels(item.file, size, channels), {
    concurrency: options.concurrency ?? 2,
    onProgress: options.onProgress,
  });
  const ids: string[] = [];
  const failed: ImageSet['failed'] = [];
  const per = size * size * channels;
  const okCount = results.filter((r) => r.ok).length;
  const pixels = new Uint8Array(okCount * per);
  results.forEach((r, i) => {
    if (r.ok) {
      pixels.set(r.value, ids.length * per);
      ids.push(items[i].id);
    } else {
      failed.push({ id: items[i].id, file: items[i].file, error: describeError(r.error) });
    }
  });
  if (base && options.cacheDir) {
    await fs.mkdir(options.cacheDir, { recursive: true });
    await writeFileAtomic(`${base}.bin`, pixels);
    const index: CacheIndex = { version: 1, key, size, channels, ids, failed };
    await writeFileAtomic(`${base}.json`, JSON.stringify(index));
  }
  return { ids, size, channels, pixels, failed, fromCache: false };
}

/**
 * Random changes drawn per training image on the fly (after the flip), from the same seeded generator. Each is off at 0.
 */
export interface BatchAugmentation {
  /** Crop a random square of side in [cropScale, 1] x size at a random place and stretch it back (bilinear); 1 = off. */
  cropScale?: number;
  /** Multiply the pixels by a factor in [1 - brightness, 1 + brightness]. */
  brightness?: number;
  /** Scale the pixels' distance from mid-grey (128) by a factor in [1 - contrast, 1 + contrast]. */
  contrast?: number;
}

/** Where one output image samples its source: origin and step (pixels) of the crop, and the colour change. */
interface Sampling {
  flip: boolean;
  x0: number;
  y0: number;
  step: number;
  gain: number;
  contrast: number;
}

function drawSampling(size: number, flipRng: Rng | undefined, augmentation: BatchAugmentation | undefined): Sampling {
  const flip = flipRng ? flipRng.next() < 0.5 : false;
  const sampling: Sampling = { flip, x0: 0, y0: 0, step: 1, gain: 1, contrast: 1 };
  if (!flipRng || !augmentation) return sampling;
  const cropScale = augmentation.cropScale ?? 1;
  if (cropScale < 1) {
    const side = size * flipRng.uniform(cropScale, 1);
    sampling.step = side / size;
    sampling.x0 = flipRng.uniform(0, size - side);
    sampling.y0 = flipRng.uniform(0, size - side);
  }
  if (augmentation.brightness) sampling.gain = flipRng.uniform(1 - augmentation.brightness, 1 + augmentation.brightness);
  if (augmentation.contrast) sampling.contrast = flipRng.uniform(1 - augmentation.contrast, 1 + augmentation.contrast);
  return sampling;
}

/**
 * Normalised float32 NHWC batch from images `indices` of a set: (x - mean) / std per channel;
 * with `flipRng`, each image is mirrored left-right with probability 1/2 (seeded), and with `augmentation` also
 * cropped, rescaled and recoloured at random (drawn from `flipRng` too; without it there is no augmentation).
 */
export function normalizeBatch(
  set: Pick<ImageSet, 'size' | 'channels' | 'pixels'>,
  indices: ArrayLike<number>,
  norm: Normalization,
  flipRng?: Rng,
  augmentation?: BatchAugmentation,
): Float32Array {
  const { size, channels, pixels } = set;
  const per = size * size * channels;
  const out = new Float32Array(indices.length * per);
  const scale = norm.std.map((s) => 1 / s);
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b] * per;
    const dst = b * per;
    const s = drawSampling(size, flipRng, augmentation);
    if (s.step === 1 && s.gain === 1 && s.contrast === 1) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const sx = s.flip ? size - 1 - x : x;
          const so = src + (y * size + sx) * channels;
          const d = dst + (y * size + x) * channels;
          for (let c = 0; c < channels; c++) out[d + c] = (pixels[so + c] - norm.mean[c]) * scale[c];
        }
      }
      continue;
    }
    const at = (v: number): [number, number, number] => {
      const p = Math.min(size - 1, Math.max(0, v));
      const i = Math.min(size - 2, Math.floor(p));
      return [i, i + 1, p - i];
    };
    for (let y = 0; y < size; y++) {
      const [y1, y2, fy] = at(s.y0 + (y + 0.5) * s.step - 0.5);
      for (let x = 0; x < size; x++) {
        const [x1, x2, fx] = at(s.x0 + ((s.flip ? size - 1 - x : x) + 0.5) * s.step - 0.5);
        const d = dst + (y * size + x) * channels;
        for (let c = 0; c < channels; c++) {
          const p = (yy: number, xx: number): number => pixels[src + (yy * size + xx) * channels + c];
          const v = (1 - fy) * ((1 - fx) * p(y1, x1) + fx * p(y1, x2)) + fy * ((1 - fx) * p(y2, x1) + fx * p(y2, x2));
          const coloured = Math.min(255, Math.max(0, ((v - 128) * s.contrast + 128) * s.gain));
          out[d + c] = (coloured - norm.mean[c]) * scale[c];
        }
      }
    }
  }
  return out;
}
