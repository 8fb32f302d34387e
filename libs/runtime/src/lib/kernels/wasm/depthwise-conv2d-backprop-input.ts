import * as tf from '@tensorflow/tfjs';
import { asTensor, pair, type Pad, type Rounding } from '../kernel';
import { assertNoDilation, convPadding, dilateSpatial, flipSpatial, padForTransposedConv } from './convolution';
import type { WasmKernel } from './wasm-kernel';

/** Gradient of a depthwise conv with respect to its input. */
export function depthwiseInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw, c, m] = filter.shape;
    const { padInfo } = convPadding(inputShape, filter.shape, s, pad, rounding, true);
    const flipped = flipSpatial(filter).reshape([kh, kw, c * m, 1]) as tf.Tensor4D;
    const padded = padForTransposedConv(dilateSpatial(dy, s), kh, kw, padInfo, inputShape[1], inputShape[2]);
    const out = tf.depthwiseConv2d(padded, flipped, 1, 'valid'); // [N, H, W, C*M]
    if (m === 1) return out;
    const [n, h, w] = out.shape;
    return out.reshape([n, h, w, c, m]).sum(4) as tf.Tensor4D;
  });
}

/** Missing from wasm 4.x: composed from a depthwise convolution. */
export const depthwiseConv2dBackpropInput: WasmKernel = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  mode: 'add',
  kernelFunc: ({ inputs, attrs }) => {
    const a = attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; inputShape: [number, number, number, number]; dilations?: number | number[] };
    assertNoDilation(a.dilations, 'DepthwiseConv2dNativeBackpropInput');
    return depthwiseInputGradient(asTensor(inputs.dy) as tf.Tensor4D, asTensor(inputs.filter) as tf.Tensor4D, a.inputShape, a.strides, a.pad, a.dimRoundingMode);
  },
};
