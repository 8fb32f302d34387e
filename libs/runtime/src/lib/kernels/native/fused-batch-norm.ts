import type * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { callOriginal, f32, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

/** FusedBatchNorm with per-channel (last-axis) statistics: one pass in C instead of wasm's kernel. */
function batchNorm(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const perChannel = (t: tf.TensorInfo | undefined): boolean => t == null || (t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === c);
  const ok = x.dtype === 'float32' && x.shape.length >= 1 && c > 0 && size(x.shape) > 0 && mean != null && variance != null && [mean, variance, offset, scale].every(perChannel);
  if (!ok) return callOriginal(original, args, 'FusedBatchNorm');
  const epsilon = (args.attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001;
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(x.shape, 'float32');
  native.binding.batchNorm(f32(backend, x), f32(backend, mean), f32(backend, variance), offset ? f32(backend, offset) : null, scale ? f32(backend, scale) : null, epsilon, f32(backend, out));
  return out;
}

export const nativeFusedBatchNorm: NativeKernel = { kernelName: 'FusedBatchNorm', kernelFunc: batchNorm };
