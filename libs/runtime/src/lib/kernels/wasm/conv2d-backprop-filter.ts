import * as tf from '@tensorflow/tfjs';
import { asTensor, pair, type Pad, type Rounding } from '../kernel';
import { convPadding, im2colLayout, padSpatial } from './convolution';
import type { WasmKernel } from './wasm-kernel';

/**
 * Gradient of conv2d with respect to its filter: a forward convolution of the transposed input (channels as batch)
 * with the transposed output gradient as the filter, dilation = stride. 1x1 stride-1 filters take a matrix product
 * instead (x^T dy over all pixels; measured 2.5-8x faster on wasm than the convolution form). Padding follows TF ('same' puts the extra
 * pixel at the bottom/right), taken from `computeConv2DInfo`.
 * (Measured and dropped: swapping the roles so that the narrower x is the packed filter was 1.5-2x slower.)
 */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw, ci, co] = filterShape;
    const { padInfo } = convPadding(x.shape, filterShape, s, pad, rounding, false);
    if (kh === 1 && kw === 1 && s[0] === 1 && s[1] === 1 && !padInfo.top && !padInfo.bottom && !padInfo.left && !padInfo.right) {
      // 1x1, stride 1: a plain matrix product x^T dy over all pixels
      const m = x.shape[0] * x.shape[1] * x.shape[2];
      return tf.matMul(x.reshape([m, ci]), dy.reshape([m, co]), true, false).reshape([1, 1, ci, co]) as tf.Tensor4D;
    }
    const xT = padSpatial(x, padInfo).transpose([3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, N]
    const dyT = dy.transpose([1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Co]
    const g = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', s); // [Ci, >=kh, >=kw, Co]
    const cropped = g.shape[1] === kh && g.shape[2] === kw ? g : g.slice([0, 0, 0, 0], [ci, kh, kw, co]);
    return cropped.transpose([1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/**
 * Gradient of conv2d with respect to its filter as im2col and one matrix product: dW^T[Co, K] = dy^T[Co, M] cols[M, K]
 * with K = kh*kw*Ci. XNNPACK packs the right operand per call, so this pays when K is small (the RGB stem: K = 27);
 * for wide inputs the convolution form (`conv2dFilterGradient`) is faster.
 */
export function conv2dFilterGradientIm2col(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  const { m, k, ci, co, colsPerImage, pixelsPerImage, taps } = im2colLayout(x.shape, filterShape, dy.shape, strides, pad, rounding);
  const xv = x.dataSync() as Float32Array;
  const cols = new Float32Array(m * k); // zero where the window hangs over the padding
  for (let b = 0; b < x.shape[0]; b++) {
    const colBase = b * colsPerImage;
    const pixelBase = b * pixelsPerImage;
    for (let t = 0; t < taps.col.length; t++) {
      const src = pixelBase + taps.pixel[t];
      const dst = colBase + taps.col[t];
      for (let c = 0; c < ci; c++) cols[dst + c] = xv[src + c];
    }
  }
  return tf.tidy(() => {
    const colsTensor = tf.tensor2d(cols, [m, k]);
    const dwT = tf.matMul(dy.reshape([m, co]).transpose() as tf.Tensor2D, colsTensor); // [Co, K]
    return dwT.transpose().reshape(filterShape) as tf.Tensor4D;
  });
}

/** Filter gradients with kh*kw*Ci up to this take im2col + matMul (measured faster only for narrow inputs). */
const IM2COL_MAX_K = 32;

/** Missing from wasm 4.x: composed (the convolution form, or im2col for narrow inputs while the fast paths are on). */
export const conv2dBackpropFilter: WasmKernel = {
  kernelName: 'Conv2DBackpropFilter',
  mode: 'add',
  kernelFunc: ({ inputs, attrs }, context) => {
    const a = attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; filterShape: [number, number, number, number]; dataFormat?: string };
    if (a.dataFormat && a.dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (composed): only NHWC');
    const [kh, kw, ci] = a.filterShape;
    if (context.fastPaths() && kh * kw * ci <= IM2COL_MAX_K) {
      return conv2dFilterGradientIm2col(asTensor(inputs.x) as tf.Tensor4D, asTensor(inputs.dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
    }
    return conv2dFilterGradient(asTensor(inputs.x) as tf.Tensor4D, asTensor(inputs.dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
  },
};
