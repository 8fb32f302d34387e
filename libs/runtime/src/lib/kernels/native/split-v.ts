import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { callOriginal, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import { FOUR_BYTES } from './concat';
import type { NativeKernel } from './native-kernel';

/** SplitV of a float32/int32 tensor along any axis: per part, one strided block copy in C (wasm slices each part). */
function splitV(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
  if (!FOUR_BYTES.has(x.dtype) || x.shape.length === 0 || size(x.shape) === 0) return callOriginal(original, args, 'SplitV');
  const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, a.numOrSizeSplits, axis);
  const backend = args.backend as WasmHeapBackend;
  const outs = sizes.map((s) => {
    const shape = x.shape.slice();
    shape[axis] = s;
    return backend.makeOutput(shape, x.dtype);
  });
  const rows = size(x.shape.slice(0, axis));
  const inner = size(x.shape.slice(axis + 1));
  const srcWidth = x.shape[axis] * inner;
  const src = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  let offset = 0;
  outs.forEach((out, i) => {
    const width = sizes[i] * inner;
    if (width > 0 && rows > 0) native.binding.copyColumns(src, srcWidth, offset, backend.typedArrayFromHeap(out) as Float32Array | Int32Array, width, 0, width, rows);
    offset += width;
  });
  return outs;
}

export const nativeSplitV: NativeKernel = { kernelName: 'SplitV', kernelFunc: splitV };
