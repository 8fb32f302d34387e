import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { callOriginal, f32, type KernelArgs, type Pad, type Rounding, type Shape4, type WasmHeapBackend } from '../kernel';
import type { NativeKernel } from './native-kernel';

function maxPoolGrad(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { dy, input, output } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
  if (input.shape.length !== 4 || [dy, input, output].some((t) => t.dtype !== 'float32')) return callOriginal(original, args, 'MaxPoolGrad');
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const g = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.effectiveFilterHeight,
    info.effectiveFilterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
  const shapeOk = [dy, output].every((t) => t.shape.length === 4 && t.shape[0] === g[0] && t.shape[1] === g[4] && t.shape[2] === g[5] && t.shape[3] === g[3]);
  if (!shapeOk || g.slice(0, 10).some((v) => !(v >= 1)) || g.slice(10).some((v) => !(v >= 0))) return callOriginal(original, args, 'MaxPoolGrad');
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(input.shape, 'float32');
  native.binding.maxPoolGrad(f32(backend, dy), f32(backend, input), f32(backend, output), f32(backend, out), Int32Array.from(g));
  return out;
}

/** MaxPoolGrad as a C loop (4-D float32); other cases go to the kernel replaced. */
export const nativeMaxPoolGrad: NativeKernel = { kernelName: 'MaxPoolGrad', kernelFunc: maxPoolGrad };
