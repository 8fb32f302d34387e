import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { f32, size, type KernelArgs, type WasmHeapBackend } from '../kernel';
import { channelVector } from './batch-norm-train';
import type { NativeKernel } from './native-kernel';

/** Name of the gradient kernel of the fused batch norm in training (batch-norm.ts) when the native kernels are on. */
export const NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL = 'AgekitNativeBatchNormTrainGrad';

/** inputs {dy, x, mean, variance, gamma?}, attrs {epsilon} -> [dx, dgamma, dbeta]. */
function batchNormTrainGrad(args: KernelArgs, _original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { dy, x, mean, variance, gamma } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const bind = native.binding.batchNormTrainGrad;
  const ok = bind && x.dtype === 'float32' && dy.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape) && x.shape.length >= 2 && c > 0 && size(x.shape) > 0;
  if (!ok || mean == null || variance == null || ![mean, variance, gamma].every((t) => channelVector(t, c))) {
    throw new Error(`${NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL}: float32 dy and x of one shape and per-channel mean, variance, gamma expected`);
  }
  const epsilon = (args.attrs as { epsilon: number }).epsilon;
  const backend = args.backend as WasmHeapBackend;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgamma = backend.makeOutput([c], 'float32');
  const dbeta = backend.makeOutput([c], 'float32');
  bind.call(native.binding, f32(backend, dy), f32(backend, x), f32(backend, mean), f32(backend, variance), gamma ? f32(backend, gamma) : null, epsilon, f32(backend, dx), f32(backend, dgamma), f32(backend, dbeta));
  return [dx, dgamma, dbeta];
}

export const nativeBatchNormTrainGrad: NativeKernel = { kernelName: NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL, needs: 'batchNormTrainGrad', kernelFunc: batchNormTrainGrad };
