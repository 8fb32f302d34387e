import * as tf from '@tensorflow/tfjs';
import { asTensor, callOriginal, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { WasmKernelContext } from './wasm-kernel';

/**
 * Number of leading axes reduced when `axis` names exactly [0, k) with 0 < k < rank, else 0. wasm's Sum/Mean
 * transpose such inputs (slowly: ~50x the time of the reduction) to make the axes innermost.
 */
function leadingReduction(axis: number | number[], shape: number[]): number {
  const axes = tf.util.parseAxisParam(axis, shape).slice().sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= shape.length) return 0;
  return axes.every((a, i) => a === i) ? axes.length : 0;
}

/**
 * Sum or mean over leading axes as one average pool whose window is the whole (reshaped) input: XNNPACK's pooling
 * reads the data in place. (A ones-vector matMul is no good: XNNPACK packs the big operand as new weights per call.)
 */
export function reduceLeading(args: KernelArgs, context: WasmKernelContext, name: 'Sum' | 'Mean'): tf.TensorInfo {
  const x = args.inputs.x;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const k = x.dtype === 'float32' ? leadingReduction(axis, x.shape) : 0;
  const rows = size(x.shape.slice(0, k));
  if (k === 0 || rows < 2 || size(x.shape) === 0) return callOriginal(context.original, args, name) as tf.TensorInfo;
  const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
  const columnSum = context.columnSum();
  if (columnSum) {
    // agekit's native kernels are on: one pass in C (float blocks added in double)
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput(outShape, 'float32');
    columnSum(backend.typedArrayFromHeap(x) as Float32Array, size(x.shape.slice(k)), backend.typedArrayFromHeap(out) as Float32Array, name === 'Sum' ? 1 : 1 / rows);
    return out;
  }
  return tf.tidy(() => {
    const rest = x.shape.slice(k);
    const b = k >= 2 ? x.shape[k - 1] : 1;
    const a = rows / b;
    const pooled = tf.avgPool(tf.reshape(asTensor(x), [1, a, b, size(rest)]) as tf.Tensor4D, [a, b], 1, 'valid');
    const reduced = name === 'Sum' ? tf.mul(pooled, tf.scalar(rows)) : pooled;
    return tf.reshape(reduced, outShape);
  });
}
