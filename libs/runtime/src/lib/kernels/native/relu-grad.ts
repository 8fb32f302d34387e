import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { f32, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

/** Name of the kernel the ReLU gradient runs when the native kernels are on (one pass instead of Step + Multiply). */
export const NATIVE_RELU_GRAD_KERNEL = 'AgekitNativeReluGrad';

function reluGrad(args: KernelArgs, _original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { dy, x } = args.inputs as Record<string, tf.TensorInfo>;
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || !tf.util.arraysEqual(dy.shape, x.shape)) throw new Error(`${NATIVE_RELU_GRAD_KERNEL}: float32 dy and x of one shape expected`);
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(x.shape, 'float32');
  native.binding.reluGrad(f32(backend, dy), f32(backend, x), f32(backend, out));
  return out;
}

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;
let reluGradientOriginal: GradConfig | undefined;

/**
 * The ReLU gradient (global, every backend): where the active backend has the native kernel, dy * step(x) in one
 * native pass; elsewhere tfjs-core's own (Step, Cast, Multiply). Same values either way (native.spec.ts).
 */
export function installReluGradient(): void {
  if (reluGradientOriginal) return;
  const original = tf.getGradient('Relu');
  if (!original) return;
  reluGradientOriginal = original;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      if (g.dtype === 'float32' && x.dtype === 'float32' && tf.getKernel(NATIVE_RELU_GRAD_KERNEL, tf.getBackend())) {
        return { x: () => tf.engine().runKernel(NATIVE_RELU_GRAD_KERNEL, { dy: g, x }, {}) as tf.Tensor };
      }
      return original.gradFunc(dy, saved, attrs);
    },
  });
}

export const nativeReluGrad: NativeKernel = { kernelName: NATIVE_RELU_GRAD_KERNEL, kernelFunc: reluGrad };
