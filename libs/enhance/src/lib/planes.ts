import type { PixelImage } from '@agekit/dataset';
import { opencvGray } from '@agekit/quality';

/** Round and clamp a number to 0..255. */
export function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Gray plane of an image (OpenCV BGR2GRAY rounding, the plane @agekit/quality's metrics are computed on). */
export function luminance(image: PixelImage): Uint8Array {
  return opencvGray(image.data, image.width, image.height, image.channels);
}

/**
 * Replace an image's luminance and keep its colour. In YCbCr, holding Cb and Cr fixed while Y moves
 * by d moves R, G and B by d each, so every colour channel gets the pixel's change of Y added
 * (clamped to 0..255). Alpha (4th channel) is kept. Gray images get the new plane as is.
 */
export function withLuminance(image: PixelImage, oldY: Uint8Array, newY: Uint8Array): PixelImage {
  const n = image.width * image.height;
  if (image.channels === 1) return { ...image, data: newY.slice(0, n) };
  const c = image.channels;
  const out = new Uint8Array(image.data.length);
  for (let i = 0, j = 0; i < n; i++, j += c) {
    const d = newY[i] - oldY[i];
    out[j] = clampByte(image.data[j] + d);
    out[j + 1] = clampByte(image.data[j + 1] + d);
    out[j + 2] = clampByte(image.data[j + 2] + d);
    if (c === 4) out[j + 3] = image.data[j + 3];
  }
  return { ...image, data: out };
}

/** Apply a function to the luminance plane and put the result back (colour kept). */
export async function mapLuminance(
  image: PixelImage,
  fn: (y: Uint8Array, width: number, height: number) => Uint8Array | Promise<Uint8Array>,
): Promise<PixelImage> {
  const y = luminance(image);
  const next = await fn(y, image.width, image.height);
  return withLuminance(image, y, next);
}

/** Copy the alpha channel of `from` into `to` (same size, 4 channels), for filters that should not touch it. */
export function restoreAlpha(to: PixelImage, from: PixelImage): PixelImage {
  if (to.channels !== 4 || from.channels !== 4 || to.width !== from.width || to.height !== from.height) return to;
  const data = new Uint8Array(to.data);
  for (let i = 3; i < data.length; i += 4) data[i] = from.data[i];
  return { ...to, data };
}

/** Index of x reflected into 0..n-1 without repeating the edge (OpenCV BORDER_REFLECT_101). */
export function reflect101(x: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let r = x % period;
  if (r < 0) r += period;
  return r < n ? r : period - r;
}
