import * as tf from '@tensorflow/tfjs';
import { nativeColumnSum } from './native';

/**
 * Faster wasm kernels for the shapes a training step runs (tfjs-backend-wasm 4.x). Each handles the fast case itself
 * and hands everything else to the kernel it replaces (`original`), so results are the same for every input.
 * Kernels working on the wasm heap use only the backend's public-by-convention helpers (makeOutput,
 * typedArrayFromHeap, incRef), as tfjs-backend-wasm's own JavaScript kernels (Identity, Cast) do.
 */

type TypedArray = Float32Array | Int32Array | Uint8Array;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): TypedArray;
  incRef(dataId: object): void;
}

export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

export type FastKernel = (args: KernelArgs, original: tf.KernelConfig | undefined) => tf.TensorInfo;

function callOriginal(original: tf.KernelConfig | undefined, args: KernelArgs, name: string): tf.TensorInfo {
  if (!original) throw new Error(`${name}: no original kernel to fall back to`);
  return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

function asTensor(info: tf.TensorInfo): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  throw new Error('composed kernel: expected a Tensor input');
}

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

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

const tile: FastKernel = (args, original) => {
  const x = args.inputs.x;
  const reps = (args.attrs as { reps: number[] }).reps;
  if (x.dtype === 'string' || reps.length !== x.shape.length) return callOriginal(original, args, 'Tile');
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(
    x.shape.map((d, i) => d * reps[i]),
    x.dtype,
  );
  // views after makeOutput: allocating can grow (and detach) the heap
  tileArray(backend.typedArrayFromHeap(x), x.shape, reps, backend.typedArrayFromHeap(out));
  return out;
};

/** Identity shares the input's data (as the cpu backend does); wasm's copies it. Tensors are immutable. */
const identity: FastKernel = (args, original) => {
  const x = args.inputs.x;
  if (x.dtype === 'string') return callOriginal(original, args, 'Identity');
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
};

/** Cast to the same dtype shares the data too (the engine's clone and moments' cast(x, 'float32')). */
const cast: FastKernel = (args, original) => {
  const x = args.inputs.x;
  const dtype = (args.attrs as { dtype: tf.DataType }).dtype;
  if (x.dtype !== dtype || x.dtype === 'string') return callOriginal(original, args, 'Cast');
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype };
};

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
function reduceLeading(args: KernelArgs, original: tf.KernelConfig | undefined, name: 'Sum' | 'Mean'): tf.TensorInfo {
  const x = args.inputs.x;
  const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
  const k = x.dtype === 'float32' ? leadingReduction(axis, x.shape) : 0;
  const rows = size(x.shape.slice(0, k));
  if (k === 0 || rows < 2 || size(x.shape) === 0) return callOriginal(original, args, name);
  const outShape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
  const columnSum = nativeColumnSum();
  if (columnSum) {
    // agekit's native kernels are on: one pass in C (float blocks added in double)
    const backend = args.backend as WasmBackendLike;
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

const sum: FastKernel = (args, original) => reduceLeading(args, original, 'Sum');
const mean: FastKernel = (args, original) => reduceLeading(args, original, 'Mean');

/** The fast wasm kernels, by kernel name. */
export const FAST_WASM_KERNELS: Readonly<Record<string, FastKernel>> = {
  Tile: tile,
  Identity: identity,
  Cast: cast,
  Sum: sum,
  Mean: mean,
};
