import * as tf from '@tensorflow/tfjs';
import { callOriginal, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { WasmKernel } from './wasm-kernel';

function castKernel(args: KernelArgs, original: tf.KernelConfig | undefined): tf.TensorInfo {
  const x = args.inputs.x;
  const dtype = (args.attrs as { dtype: tf.DataType }).dtype;
  if (x.dtype !== dtype || x.dtype === 'string') return callOriginal(original, args, 'Cast') as tf.TensorInfo;
  (args.backend as WasmHeapBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype };
}

/** Cast to the same dtype shares the data too (the engine's clone and moments' cast(x, 'float32')). */
export const cast: WasmKernel = { kernelName: 'Cast', mode: 'fast-path', kernelFunc: (args, context) => castKernel(args, context.original) };
