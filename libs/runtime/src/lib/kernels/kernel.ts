import * as tf from '@tensorflow/tfjs';

/** What a kernel function receives from the tfjs engine (tensors as TensorInfo; Concat gets an array). */
export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** The wasm backend's public-by-convention helpers, as tfjs-backend-wasm's own JavaScript kernels (Identity, Cast) use them. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
}

export type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
export type Rounding = 'floor' | 'round' | 'ceil' | undefined;
export type Pair = [number, number];
export type Shape4 = [number, number, number, number];

export function pair(value: number | number[]): Pair {
  return typeof value === 'number' ? [value, value] : [value[0], value[1] ?? value[0]];
}

export function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Run the kernel a replacement took over from (for the cases the replacement leaves alone). */
export function callOriginal(original: tf.KernelConfig | undefined, args: KernelArgs, name: string): tf.TensorInfo | tf.TensorInfo[] {
  if (!original) throw new Error(`${name}: no kernel to fall back to`);
  return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
}

/** Composed kernels call tfjs ops, which take the engine's Tensors (what the engine passes to a kernel on wasm and cpu). */
export function asTensor(info: tf.TensorInfo | tf.Tensor): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  throw new Error('composed kernel: expected a Tensor input');
}

/** A float32 tensor's data on the wasm heap (valid until the next allocation). */
export function f32(backend: WasmHeapBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}
