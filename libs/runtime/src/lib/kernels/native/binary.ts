import type * as tf from '@tensorflow/tfjs';
import { callOriginal, f32, size, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

/** Elementwise binary ops with at least this many output elements go native (smaller ones stay on wasm). */
const BINARY_MIN_SIZE = 4096;

/**
 * How `small` broadcasts along `big` (NumPy rules) when the native loop can do it: the count of its elements that
 * repeat along big (big's size: same shape; a trailing block: per channel; 1: scalar), else undefined.
 */
function repeatCount(big: number[], small: number[]): number | undefined {
  if (small.length > big.length) return undefined;
  let first = 0;
  while (first < small.length && small[first] === 1) first++;
  const core = small.slice(first);
  const n = size(core);
  if (n === 1) return 1;
  const tail = big.slice(big.length - core.length);
  return core.every((d, i) => d === tail[i]) ? n : undefined;
}

function binaryKernel(name: string, op: number, commutative: boolean): NativeKernel['kernelFunc'] {
  return (args, original, native) => {
    const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return callOriginal(original, args, name);
    let big = a;
    let small = b;
    if (size(b.shape) > size(a.shape) && commutative) {
      big = b;
      small = a;
    }
    const n = size(big.shape);
    const nb = n >= BINARY_MIN_SIZE ? repeatCount(big.shape, small.shape) : undefined;
    if (nb === undefined) return callOriginal(original, args, name);
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput(big.shape, 'float32');
    native.binding.binary(op, f32(backend, big), f32(backend, small), f32(backend, out));
    return out;
  };
}

/** Large float32 Add, Sub, Multiply (same shape, per-channel or scalar operand) as one C loop each; the rest stays on wasm. */
export const nativeAdd: NativeKernel = { kernelName: 'Add', kernelFunc: binaryKernel('Add', 0, true) };
export const nativeSub: NativeKernel = { kernelName: 'Sub', kernelFunc: binaryKernel('Sub', 1, false) };
export const nativeMultiply: NativeKernel = { kernelName: 'Multiply', kernelFunc: binaryKernel('Multiply', 2, true) };
