import type { PixelImage } from '@agekit/dataset';
import { gaussianKernel } from './filters';
import { luminance, reflect101 } from './planes';

/** SSIM constants and window of Wang, Bovik, Sheikh & Simoncelli (2004): 11x11 Gaussian, sigma 1.5, K1 0.01, K2 0.03, L 255. */
export const SSIM_WINDOW = { size: 11, sigma: 1.5, k1: 0.01, k2: 0.03, dynamicRange: 255 } as const;

const WINDOW = gaussianKernel(SSIM_WINDOW.size, SSIM_WINDOW.sigma);
const C1 = (SSIM_WINDOW.k1 * SSIM_WINDOW.dynamicRange) ** 2;
const C2 = (SSIM_WINDOW.k2 * SSIM_WINDOW.dynamicRange) ** 2;

/**
 * A reference plane prepared for repeated SSIM comparisons (its local means and variances are
 * computed once).
 */
export interface SsimReference {
  width: number;
  height: number;
  plane: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
}

function toFloat(plane: Uint8Array): Float64Array {
  const out = new Float64Array(plane.length);
  for (let i = 0; i < plane.length; i++) out[i] = plane[i];
  return out;
}

/**
 * Row-pass sums kept between calls (one thread runs one call at a time; SSIM runs for every candidate of process), up
 * to KEPT_ROW_SUMS values: a larger image gets its own, so one huge photo does not hold its buffer for the whole run.
 */
let keptRowSums = new Float64Array(0);
const KEPT_ROW_SUMS = 3 << 20; // 3 sums a pixel of a 1-Mpx image: 24 MiB

/**
 * Sums under the window (WINDOW, rows then columns, BORDER_REFLECT_101) of a, a * a and (with b) a * b at the pixels
 * [x0, x1) x [y0, y1), row-major: [mean, meanSq, cross] (cross empty without b). Each value is computed as convolveSeparable computes it on the plane of
 * those products (the same products, added in the same order from +0), so it is bit for bit that function's value at the
 * pixel; one pass makes all three and skips the pixels SSIM does not average.
 */
function windowMoments(a: Float64Array, b: Float64Array | undefined, width: number, height: number, x0: number, x1: number, y0: number, y1: number): Float64Array[] {
  const taps = WINDOW.length;
  const half = (taps - 1) / 2;
  const w = x1 - x0;
  const size = w * height;
  let rowSums = keptRowSums;
  if (rowSums.length < 3 * size) {
    rowSums = new Float64Array(3 * size);
    if (rowSums.length <= KEPT_ROW_SUMS) keptRowSums = rowSums;
  }
  const xs = new Int32Array(w * taps);
  for (let x = 0; x < w; x++) for (let k = 0; k < taps; k++) xs[x * taps + k] = reflect101(x0 + x + k - half, width);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < w; x++) {
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0, j = x * taps; k < taps; k++, j++) {
        const weight = WINDOW[k];
        const i = row + xs[j];
        const v = a[i];
        s1 += weight * v;
        s2 += weight * (v * v);
        if (b) s3 += weight * (v * b[i]);
      }
      const t = y * w + x;
      rowSums[t] = s1;
      rowSums[size + t] = s2;
      rowSums[2 * size + t] = s3;
    }
  }
  const count = w * (y1 - y0);
  const mean = new Float64Array(count);
  const meanSq = new Float64Array(count);
  const cross = new Float64Array(b ? count : 0);
  const rows = new Int32Array(taps);
  for (let y = y0; y < y1; y++) {
    const dst = (y - y0) * w;
    for (let k = 0; k < taps; k++) rows[k] = reflect101(y + k - half, height) * w;
    for (let x = 0; x < w; x++) {
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < taps; k++) {
        const weight = WINDOW[k];
        const t = rows[k] + x;
        s1 += weight * rowSums[t];
        s2 += weight * rowSums[size + t];
        if (b) s3 += weight * rowSums[2 * size + t];
      }
      mean[dst + x] = s1;
      meanSq[dst + x] = s2;
      if (b) cross[dst + x] = s3;
    }
  }
  return [mean, meanSq, cross];
}

/** Prepare a gray plane as an SSIM reference. */
export function ssimReference(gray: Uint8Array, width: number, height: number): SsimReference {
  if (gray.length !== width * height) throw new RangeError(`plane has ${gray.length} values, expected ${width}x${height}`);
  const plane = toFloat(gray);
  const [mean, meanSq] = windowMoments(plane, undefined, width, height, 0, width, 0, height);
  const variance = new Float64Array(plane.length);
  for (let i = 0; i < plane.length; i++) variance[i] = meanSq[i] - mean[i] * mean[i];
  return { width, height, plane, mean, variance };
}

/**
 * Mean SSIM between a prepared reference and a gray plane of the same size (Wang et al. 2004: local
 * statistics under an 11x11 Gaussian window, sigma 1.5). The mean is taken over the pixels whose
 * window lies fully inside the image (MATLAB's 'valid'); an image smaller than the window in a
 * dimension is averaged over all pixels, with reflected borders. 1 = identical.
 */
export function ssimAgainst(reference: SsimReference, gray: Uint8Array): number {
  const { width, height } = reference;
  if (gray.length !== width * height) throw new RangeError(`SSIM needs planes of one size (${width}x${height}, got ${gray.length} values)`);
  const half = (SSIM_WINDOW.size - 1) / 2;
  const validX = width >= SSIM_WINDOW.size;
  const validY = height >= SSIM_WINDOW.size;
  const x0 = validX ? half : 0;
  const x1 = validX ? width - half : width;
  const y0 = validY ? half : 0;
  const y1 = validY ? height - half : height;
  const [mean, meanSq, cross] = windowMoments(toFloat(gray), reference.plane, width, height, x0, x1, y0, y1);
  const w = x1 - x0;
  let sum = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * width + x;
      const j = (y - y0) * w + (x - x0);
      const mx = reference.mean[i];
      const my = mean[j];
      const vx = reference.variance[i];
      const vy = meanSq[j] - my * my;
      const cov = cross[j] - mx * my;
      sum += ((2 * mx * my + C1) * (2 * cov + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
    }
  }
  return sum / ((x1 - x0) * (y1 - y0));
}

/** Mean SSIM of two gray planes of the same size. */
export function ssimGray(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  return ssimAgainst(ssimReference(a, width, height), b);
}

/** Mean SSIM of two images of the same size, on their gray (BT.601) planes. */
export function ssim(a: PixelImage, b: PixelImage): number {
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`SSIM needs images of one size (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  }
  return ssimGray(luminance(a), luminance(b), a.width, a.height);
}
