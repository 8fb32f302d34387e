import type { PixelImage } from '@agekit/dataset';
import { applyOperation } from '../lib/operations';

// Synthetic test images (used by the specs only; excluded from the build).

/** A clean synthetic "photo": smooth shading, a few edges and some fine texture, in colour. */
export function cleanImage(width = 100, height = 104): PixelImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const shade = 60 + (110 * (x + y)) / (width + height);
      const disk = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (width / 4) ** 2 ? 45 : 0;
      const texture = 16 * Math.sin(x * 0.8) * Math.cos(y * 0.6) + 10 * Math.sin((x + 2 * y) * 0.45);
      const v = shade + disk + texture;
      const i = (y * width + x) * 3;
      data[i] = Math.max(0, Math.min(255, Math.round(v + 18)));
      data[i + 1] = Math.max(0, Math.min(255, Math.round(v)));
      data[i + 2] = Math.max(0, Math.min(255, Math.round(v - 22)));
    }
  }
  return { width, height, channels: 3, data };
}

export function mapValues(image: PixelImage, fn: (v: number, i: number) => number): PixelImage {
  return { ...image, data: image.data.map((v, i) => Math.max(0, Math.min(255, Math.round(fn(v, i))))) };
}

/** Deterministic pseudo-noise in -1..1 (an LCG), so tests need no RNG state. */
function noise(i: number): number {
  return ((((i + 1) * 1103515245 + 12345) >>> 0) % 2001) / 1000 - 1;
}

export const darkImage = (): PixelImage => mapValues(cleanImage(), (v) => v * 0.37);
export const brightImage = (): PixelImage => mapValues(cleanImage(), (v) => 255 - (255 - v) * 0.3);
export const flatImage = (): PixelImage => mapValues(cleanImage(), (v) => 110 + (v - 110) * 0.12);
export const noisyImage = (): PixelImage => mapValues(cleanImage(), (v, i) => v + 30 * noise(Math.floor(i / 3)));
export const blurredImage = async (): Promise<PixelImage> => applyOperation(cleanImage(), { op: 'gaussian', sigma: 1.2 });

