import * as tf from '@tensorflow/tfjs';
import { asTensor } from '../kernel';
import type { WasmKernel } from './wasm-kernel';

/** unsortedSegmentSum as a one-hot matrix product (segment ids outside [0, numSegments) are dropped, as in TF). */
export function unsortedSegmentSumByMatMul(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const ids = segmentIds.reshape([-1]).cast('int32') as tf.Tensor1D;
    const rows = ids.shape[0];
    const rest = x.shape.slice(segmentIds.rank);
    const flat = x.cast('float32').reshape([rows, -1]) as tf.Tensor2D;
    const oneHot = tf.oneHot(ids, numSegments).cast('float32') as tf.Tensor2D;
    const out = tf.matMul(oneHot, flat, true, false).reshape([numSegments, ...rest]);
    return x.dtype === 'float32' ? out : out.cast(x.dtype);
  });
}

/** Missing from wasm 4.x (gather's gradient). */
export const unsortedSegmentSum: WasmKernel = {
  kernelName: 'UnsortedSegmentSum',
  mode: 'add',
  kernelFunc: ({ inputs, attrs }) => unsortedSegmentSumByMatMul(asTensor(inputs.x), asTensor(inputs.segmentIds), (attrs as { numSegments: number }).numSegments),
};
