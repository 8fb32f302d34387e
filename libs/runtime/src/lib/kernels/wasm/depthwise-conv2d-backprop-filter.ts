import * as tf from '@tensorflow/tfjs';
import { asTensor, pair, type Pad, type Rounding } from '../kernel';
import { assertNoDilation, convPadding, padSpatial } from './convolution';
import type { WasmKernel } from './wasm-kernel';

/**
 * Gradient of a depthwise conv with respect to its filter: the batch is folded into the channels of one image,
 * dy becomes a depthwise filter (dilation = stride), and the per-image results are summed.
 */
export function depthwiseFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw, c, m] = filterShape;
    const [n] = x.shape;
    const { padInfo } = convPadding(x.shape, filterShape, s, pad, rounding, true);
    const xp = padSpatial(x, padInfo);
    const xR = xp.transpose([1, 2, 0, 3]).reshape([1, xp.shape[1], xp.shape[2], n * c]) as tf.Tensor4D;
    const [, ho, wo] = dy.shape;
    const dyR = dy.transpose([1, 2, 0, 3]).reshape([ho, wo, n * c, m]) as tf.Tensor4D;
    const g = tf.depthwiseConv2d(xR, dyR, 1, 'valid', 'NHWC', s); // [1, >=kh, >=kw, N*C*M]
    const cropped = g.shape[1] === kh && g.shape[2] === kw ? g : g.slice([0, 0, 0, 0], [1, kh, kw, n * c * m]);
    return cropped.reshape([kh, kw, n, c, m]).sum(2) as tf.Tensor4D;
  });
}

/** Missing from wasm 4.x: composed from a depthwise convolution. */
export const depthwiseConv2dBackpropFilter: WasmKernel = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  mode: 'add',
  kernelFunc: ({ inputs, attrs }) => {
    const a = attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; filterShape: [number, number, number, number]; dilations?: number | number[] };
    assertNoDilation(a.dilations, 'DepthwiseConv2dNativeBackpropFilter');
    return depthwiseFilterGradient(asTensor(inputs.x) as tf.Tensor4D, asTensor(inputs.dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
  },
};
