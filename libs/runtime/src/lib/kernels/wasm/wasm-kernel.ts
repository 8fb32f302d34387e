import type * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../kernel';

/**
 * A kernel agekit registers on the wasm backend (kernels/registry.ts). `mode` says when:
 * - 'add': only where the backend has no kernel of that name;
 * - 'replace': over the backend's own (or added where there is none);
 * - 'wrap': only where the backend has one (the kernel hands cases back to it);
 * - 'fast-path': a speed-only replacement, switched with setWasmTrainingFastPaths (off restores the backend's own).
 */
export interface WasmKernel {
  kernelName: string;
  mode: 'add' | 'replace' | 'wrap' | 'fast-path';
  kernelFunc(args: KernelArgs, context: WasmKernelContext): tf.TensorInfo;
}

export interface WasmKernelContext {
  /** The kernel registered under this name before agekit's (undefined where there was none). */
  original: tf.KernelConfig | undefined;
  /** Whether the speed-only training paths are on for this backend (setWasmTrainingFastPaths). */
  fastPaths(): boolean;
  /** Column sums in C when agekit's native kernels are on for this backend, else undefined. */
  columnSum(): ((x: Float32Array, columns: number, out: Float32Array, scale: number) => void) | undefined;
}
