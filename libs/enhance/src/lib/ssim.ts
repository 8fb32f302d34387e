import type { PixelImage } from '@agekit/dataset';
import { convolveSeparable, gaussianKernel } from './filters';
import { luminance } from './planes';

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

function squared(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] * b[i];
  return out;
}

/** Prepare a gray plane as an SSIM reference. */
export function ssimReference(gray: Uint8Array, width: number, height: number): SsimReference {
  if (gray.length !== width * height) throw new RangeError(`plane has ${gray.length} values, expected ${width}x${height}`);
  const plane = toFloat(gray);
  const mean = convolveSeparable(plane, width, height, WINDOW);
  const meanSq = convolveSeparable(squared(plane, plane), width, height, WINDOW);
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
  const plane = toFloat(gray);
  const mean = convolveSeparable(plane, width, height, WINDOW);
  const meanSq = convolveSeparable(squared(plane, plane), width, height, WINDOW);
  const cross = convolveSeparable(squared(plane, reference.plane), width, height, WINDOW);
  const half = (SSIM_WINDOW.size - 1) / 2;
  const validX = width >= SSIM_WINDOW.size;
  const validY = height >= SSIM_WINDOW.size;
  const x0 = validX ? half : 0;
  const x1 = validX ? width - half : width;
  const y0 = validY ? half : 0;
  const y1 = validY ? height - half : height;
  let sum = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * width + x;
      const mx = reference.mean[i];
      const my = mean[i];
      const vx = reference.variance[i];
      const vy = meanSq[i] - my * my;
      const cov = cross[i] - mx * my;
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
