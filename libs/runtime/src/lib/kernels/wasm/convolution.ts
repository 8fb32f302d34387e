import * as tf from '@tensorflow/tfjs';
import { pair, type Pad, type Pair, type Rounding } from '../kernel';

/** Geometry shared by the composed convolution gradients (NHWC tensors; HWIO or [kh, kw, C, multiplier] filters). */

export interface PadInfo {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export function convPadding(
  xShape: number[],
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  rounding: Rounding,
  depthwise: boolean,
): { padInfo: PadInfo; outHeight: number; outWidth: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    rounding,
    depthwise,
  );
  return { padInfo: info.padInfo, outHeight: info.outHeight, outWidth: info.outWidth };
}

export function padSpatial(x: tf.Tensor4D, p: PadInfo): tf.Tensor4D {
  if (p.top === 0 && p.bottom === 0 && p.left === 0 && p.right === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ]);
}

/** Rotate a [kh, kw, a, b] filter by 180 degrees, in JavaScript (filters are small; wasm's Reverse and GatherV2 are slow). */
export function flipSpatial(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, a, b] = filter.shape;
  if (kh * kw === 1) return filter;
  const src = filter.dataSync() as Float32Array;
  const dst = new Float32Array(src.length);
  const block = a * b;
  for (let i = 0; i < kh * kw; i++) dst.set(src.subarray(i * block, (i + 1) * block), (kh * kw - 1 - i) * block);
  return tf.tensor4d(dst, filter.shape);
}

/** Insert (stride - 1) zeros between the pixels of dy: the input of a transposed convolution. */
export function dilateSpatial(dy: tf.Tensor4D, strides: Pair): tf.Tensor4D {
  const [sh, sw] = strides;
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const spread = tf.pad(dy.reshape([n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return spread.reshape([n, h * sh, w * sw, c]).slice([0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

/**
 * Pad (or crop, for negative amounts) the dilated output gradient so that a stride-1 'valid' correlation
 * with the flipped filter yields the input gradient of shape [inH, inW].
 */
export function padForTransposedConv(dyDilated: tf.Tensor4D, kh: number, kw: number, p: PadInfo, inH: number, inW: number): tf.Tensor4D {
  const top = kh - 1 - p.top;
  const left = kw - 1 - p.left;
  const bottom = inH + kh - 1 - dyDilated.shape[1] - top;
  const right = inW + kw - 1 - dyDilated.shape[2] - left;
  let t = dyDilated;
  const crop = { top: Math.max(0, -top), bottom: Math.max(0, -bottom), left: Math.max(0, -left), right: Math.max(0, -right) };
  if (crop.top || crop.bottom || crop.left || crop.right) {
    const [n, h, w, c] = t.shape;
    t = t.slice([0, crop.top, crop.left, 0], [n, h - crop.top - crop.bottom, w - crop.left - crop.right, c]);
  }
  return padSpatial(t, { top: Math.max(0, top), bottom: Math.max(0, bottom), left: Math.max(0, left), right: Math.max(0, right) });
}

/**
 * Every (output pixel, filter tap) pair whose input pixel lies inside the image, for one image, in the order
 * oy, ox, ky, kx: `col` is the offset in the im2col row-major [Ho*Wo, kh*kw*Ci] matrix, `pixel` the offset of the
 * input pixel in [H, W, Ci]. im2col gathers along these pairs, col2im scatter-adds along them.
 */
export function windowTaps(g: { h: number; w: number; ho: number; wo: number; kh: number; kw: number; sh: number; sw: number; top: number; left: number; ci: number }): { col: Int32Array; pixel: Int32Array } {
  const col: number[] = [];
  const pixel: number[] = [];
  const k = g.kh * g.kw * g.ci;
  for (let oy = 0; oy < g.ho; oy++) {
    for (let ox = 0; ox < g.wo; ox++) {
      for (let ky = 0; ky < g.kh; ky++) {
        const iy = oy * g.sh - g.top + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (let kx = 0; kx < g.kw; kx++) {
          const ix = ox * g.sw - g.left + kx;
          if (ix < 0 || ix >= g.w) continue;
          col.push((oy * g.wo + ox) * k + (ky * g.kw + kx) * g.ci);
          pixel.push((iy * g.w + ix) * g.ci);
        }
      }
    }
  }
  return { col: Int32Array.from(col), pixel: Int32Array.from(pixel) };
}

/**
 * What im2col and col2im share for a convolution of `inputShape` by `filterShape` giving `outShape`: the matrix sizes
 * (M = N*Ho*Wo rows, K = kh*kw*Ci columns), the per-image strides of the cols matrix and of the input, and the taps.
 */
export function im2colLayout(
  inputShape: number[],
  filterShape: [number, number, number, number],
  outShape: number[],
  strides: number | number[],
  pad: Pad,
  rounding: Rounding,
): { m: number; k: number; ci: number; co: number; colsPerImage: number; pixelsPerImage: number; taps: { col: Int32Array; pixel: Int32Array } } {
  const [sh, sw] = pair(strides);
  const [kh, kw, ci, co] = filterShape;
  const { padInfo } = convPadding(inputShape, filterShape, [sh, sw], pad, rounding, false);
  const [n, h, w] = inputShape;
  const [, ho, wo] = outShape;
  const k = kh * kw * ci;
  const taps = windowTaps({ h, w, ho, wo, kh, kw, sh, sw, top: padInfo.top, left: padInfo.left, ci });
  return { m: n * ho * wo, k, ci, co, colsPerImage: ho * wo * k, pixelsPerImage: h * w * ci, taps };
}

export function assertNoDilation(dilations: number | number[] | undefined, name: string): void {
  const d = dilations === undefined ? [1, 1] : pair(dilations);
  if (d[0] !== 1 || d[1] !== 1) throw new Error(`${name} (composed): dilations other than 1 are not supported`);
}
