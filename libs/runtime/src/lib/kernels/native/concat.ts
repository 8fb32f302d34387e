import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { callOriginal, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

/** The dtypes the block copies handle (four bytes an element). */
export const FOUR_BYTES = new Set<tf.DataType>(['float32', 'int32']);

/** Concat of float32/int32 tensors along any axis: per input, one strided block copy in C. */
function concat(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const inputs = args.inputs as unknown as tf.TensorInfo[];
  if (!Array.isArray(inputs) || inputs.length < 2) return callOriginal(original, args, 'Concat');
  const dtype = inputs[0].dtype;
  const rank = inputs[0].shape.length;
  if (!FOUR_BYTES.has(dtype) || rank === 0 || inputs.some((t) => t.dtype !== dtype || t.shape.length !== rank)) return callOriginal(original, args, 'Concat');
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
  const lead = inputs[0].shape.slice(0, axis);
  const tail = inputs[0].shape.slice(axis + 1);
  const sameOtherAxes = inputs.every((t) => t.shape.every((d, i) => i === axis || d === (i < axis ? lead[i] : tail[i - axis - 1])));
  const nonEmpty = inputs.filter((t) => size(t.shape) > 0);
  if (!sameOtherAxes || nonEmpty.length < 2) return callOriginal(original, args, 'Concat');
  const outShape = inputs[0].shape.slice();
  outShape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(outShape, dtype);
  const rows = size(lead);
  const outWidth = size(outShape.slice(axis));
  const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  let offset = 0;
  for (const t of nonEmpty) {
    const width = size(t.shape.slice(axis));
    native.binding.copyColumns(backend.typedArrayFromHeap(t) as Float32Array | Int32Array, width, 0, dst, outWidth, offset, width, rows);
    offset += width;
  }
  return out;
}

export const nativeConcat: NativeKernel = { kernelName: 'Concat', kernelFunc: concat };
