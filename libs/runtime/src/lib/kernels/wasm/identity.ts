import * as tf from '@tensorflow/tfjs';
import { callOriginal, type KernelArgs, type WasmHeapBackend } from '../kernel';
import type { WasmKernel } from './wasm-kernel';

function identityKernel(args: KernelArgs, original: tf.KernelConfig | undefined): tf.TensorInfo {
  const x = args.inputs.x;
  if (x.dtype === 'string') return callOriginal(original, args, 'Identity') as tf.TensorInfo;
  (args.backend as WasmHeapBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

/** Identity shares the input's data (as the cpu backend does); wasm's copies it. Tensors are immutable. */
export const identity: WasmKernel = { kernelName: 'Identity', mode: 'fast-path', kernelFunc: (args, context) => identityKernel(args, context.original) };
