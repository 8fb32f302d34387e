import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { f32, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

/** Name of the forward kernel of the fused batch norm in training (batch-norm.ts) when the native kernels are on. */
export const NATIVE_BATCH_NORM_TRAIN_KERNEL = 'AgekitNativeBatchNormTrain';

/** A per-channel ([C]) float32 vector, or absent. */
export function channelVector(t: tf.TensorInfo | undefined, c: number): boolean {
  return t == null || (t.dtype === 'float32' && size(t.shape) === c);
}

/** inputs {x, gamma?, beta?}, attrs {epsilon} -> [y, mean, variance] with statistics over all but the last axis. */
function batchNormTrain(args: KernelArgs, _original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const bind = native.binding.batchNormTrain;
  if (!bind || x.dtype !== 'float32' || x.shape.length < 2 || !(c > 0) || size(x.shape) === 0 || !channelVector(gamma, c) || !channelVector(beta, c)) {
    throw new Error(`${NATIVE_BATCH_NORM_TRAIN_KERNEL}: a non-empty float32 x of rank >= 2 and per-channel gamma, beta expected`);
  }
  const epsilon = (args.attrs as { epsilon: number }).epsilon;
  const backend = args.backend as WasmHeapBackend;
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([c], 'float32');
  const variance = backend.makeOutput([c], 'float32');
  bind.call(native.binding, f32(backend, x), gamma ? f32(backend, gamma) : null, beta ? f32(backend, beta) : null, epsilon, f32(backend, y), f32(backend, mean), f32(backend, variance));
  return [y, mean, variance];
}

export const nativeBatchNormTrain: NativeKernel = { kernelName: NATIVE_BATCH_NORM_TRAIN_KERNEL, needs: 'batchNormTrain', kernelFunc: batchNormTrain };
