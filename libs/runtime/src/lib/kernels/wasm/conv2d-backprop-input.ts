import * as tf from '@tensorflow/tfjs';
import { asTensor, pair, type Pad, type Rounding } from '../kernel';
import { convPadding, dilateSpatial, flipSpatial, im2colLayout, padForTransposedConv } from './convolution';
import type { WasmKernel } from './wasm-kernel';

/** Gradient of conv2d with respect to its input: a stride-1 correlation of the zero-dilated dy with the flipped, transposed filter. */
export function conv2dInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw] = filter.shape;
    const { padInfo } = convPadding(inputShape, filter.shape, s, pad, rounding, false);
    const flipped = flipSpatial(filter).transpose([0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, Co, Ci]
    const padded = padForTransposedConv(dilateSpatial(dy, s), kh, kw, padInfo, inputShape[1], inputShape[2]);
    return tf.conv2d(padded, flipped, 1, 'valid');
  });
}

/**
 * Gradient of conv2d with respect to its input as a matrix product and a scatter-add: cols = dy[M, Co] W^T[Co, kh*kw*Ci]
 * (M = N*Ho*Wo; the small filter is the matrix product's packed operand), then each row of cols is added into its
 * receptive field (col2im, a JavaScript loop). No zero-dilation, so strided convolutions cost what stride 1 does.
 */
export function conv2dInputGradientCol2im(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  const { m, k, ci, co, colsPerImage, pixelsPerImage, taps } = im2colLayout(inputShape, filter.shape, dy.shape, strides, pad, rounding);
  const colsTensor = tf.tidy(() => tf.matMul(dy.reshape([m, co]) as tf.Tensor2D, filter.reshape([k, co]).transpose() as tf.Tensor2D));
  const cols = colsTensor.dataSync() as Float32Array;
  colsTensor.dispose();
  const dx = new Float32Array(inputShape[0] * pixelsPerImage);
  for (let b = 0; b < inputShape[0]; b++) {
    const colBase = b * colsPerImage;
    const pixelBase = b * pixelsPerImage;
    for (let t = 0; t < taps.col.length; t++) {
      const src = colBase + taps.col[t];
      const dst = pixelBase + taps.pixel[t];
      for (let c = 0; c < ci; c++) dx[dst + c] += cols[src + c];
    }
  }
  return tf.tensor4d(dx, inputShape);
}

/**
 * Replaces wasm's: stride 1 by a forward convolution of the padded dy; other strides by col2im while the fast paths are
 * on, else wasm's own (AGEKIT_NATIVE_BPI keeps wasm's for every stride).
 */
export const conv2dBackpropInput: WasmKernel = {
  kernelName: 'Conv2DBackpropInput',
  mode: 'replace',
  kernelFunc: (args, context) => {
    const a = args.attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; inputShape: [number, number, number, number]; dataFormat?: string };
    const s = pair(a.strides);
    const nhwc = !a.dataFormat || a.dataFormat === 'NHWC';
    if (nhwc && (s[0] !== 1 || s[1] !== 1) && context.fastPaths()) {
      return conv2dInputGradientCol2im(asTensor(args.inputs.dy) as tf.Tensor4D, asTensor(args.inputs.filter) as tf.Tensor4D, a.inputShape, s, a.pad, a.dimRoundingMode);
    }
    if (context.original && (process.env.AGEKIT_NATIVE_BPI || s[0] !== 1 || s[1] !== 1 || !nhwc)) {
      return context.original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    }
    return conv2dInputGradient(asTensor(args.inputs.dy) as tf.Tensor4D, asTensor(args.inputs.filter) as tf.Tensor4D, a.inputShape, s, a.pad, a.dimRoundingMode);
  },
};
