import type * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { f32, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

/** Name of the kernel NativeAdamOptimizer runs per variable when the native kernels are on (one pass, three outputs). */
export const NATIVE_ADAM_KERNEL = 'AgekitNativeAdam';

function adamKernel(args: KernelArgs, _original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { value, gradient, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const n = size(value.shape);
  if ([value, gradient, m, v].some((t) => t.dtype !== 'float32' || size(t.shape) !== n)) throw new Error(`${NATIVE_ADAM_KERNEL}: float32 operands of one size expected`);
  const a = args.attrs as { params: number[] };
  const backend = args.backend as WasmHeapBackend;
  const outs = [value, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  native.binding.adam(f32(backend, value), f32(backend, gradient), f32(backend, m), f32(backend, v), f32(backend, outs[0]), f32(backend, outs[1]), f32(backend, outs[2]), Float64Array.from(a.params));
  return outs;
}

export const nativeAdam: NativeKernel = { kernelName: NATIVE_ADAM_KERNEL, kernelFunc: adamKernel };
