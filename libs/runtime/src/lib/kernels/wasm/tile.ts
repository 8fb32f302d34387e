import * as tf from '@tensorflow/tfjs';
import { callOriginal, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { WasmKernel } from './wasm-kernel';

type TypedArray = Float32Array | Int32Array | Uint8Array;

/**
 * Tile into `dst` (row-major): each axis's first block is filled recursively and then copied (doubling copyWithin),
 * so the common broadcast of a [1, 1, 1, C] vector to [N, H, W, C] is a handful of memory copies.
 */
export function tileArray<T extends TypedArray>(src: T, shape: number[], reps: number[], dst: T): T {
  const rank = shape.length;
  const outShape = shape.map((d, i) => d * reps[i]);
  const srcStride = new Array<number>(rank);
  const dstStride = new Array<number>(rank);
  let s = 1;
  let t = 1;
  for (let i = rank - 1; i >= 0; i--) {
    srcStride[i] = s;
    dstStride[i] = t;
    s *= shape[i];
    t *= outShape[i];
  }
  // from this axis on, nothing repeats: the source block is contiguous
  let firstPlain = rank;
  while (firstPlain > 0 && reps[firstPlain - 1] === 1) firstPlain--;
  const fill = (axis: number, srcOff: number, dstOff: number): void => {
    if (axis >= firstPlain) {
      const n = axis === 0 ? src.length : srcStride[axis - 1];
      dst.set(src.subarray(srcOff, srcOff + n), dstOff);
      return;
    }
    for (let i = 0; i < shape[axis]; i++) fill(axis + 1, srcOff + i * srcStride[axis], dstOff + i * dstStride[axis]);
    const block = shape[axis] * dstStride[axis];
    const total = block * reps[axis];
    for (let filled = block; filled < total; ) {
      const n = Math.min(filled, total - filled);
      dst.copyWithin(dstOff + filled, dstOff, dstOff + n);
      filled += n;
    }
  };
  if (src.length > 0 && dst.length > 0) fill(0, 0, 0);
  return dst;
}

function tileKernel(args: KernelArgs, original: tf.KernelConfig | undefined): tf.TensorInfo {
  const x = args.inputs.x;
  const reps = (args.attrs as { reps: number[] }).reps;
  if (x.dtype === 'string' || reps.length !== x.shape.length) return callOriginal(original, args, 'Tile') as tf.TensorInfo;
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(
    x.shape.map((d, i) => d * reps[i]),
    x.dtype,
  );
  // views after makeOutput: allocating can grow (and detach) the heap
  tileArray(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
  return out;
}

/** Tile by memory copies (wasm's is very slow for the broadcasts of training). */
export const tile: WasmKernel = { kernelName: 'Tile', mode: 'fast-path', kernelFunc: (args, context) => tileKernel(args, context.original) };
