import type * as tf from '@tensorflow/tfjs';
import type { NativeBinding, LoadedNativeKernels } from '../../native-addon';
import type { KernelArgs } from '../kernel';

/**
 * One of agekit's native kernels (kernels/registry.ts registers them over the wasm backend's): `original` is the kernel
 * it replaced (undefined for agekit's own kernel names), `native` the loaded addon. `needs` names the binding function
 * it calls when older addons lack it (then it is not registered).
 */
export interface NativeKernel {
  kernelName: string;
  needs?: keyof NativeBinding;
  kernelFunc(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[];
}
