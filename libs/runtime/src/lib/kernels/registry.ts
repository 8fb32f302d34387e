import * as tf from '@tensorflow/tfjs';
import { installFastGradients, restoreOriginalGradients } from '../gradients';
import { loadedNativeKernels, type LoadedNativeKernels, type NativeKernels } from '../native-addon';
import type { KernelArgs } from './kernel';
import { nativeAdam } from './native/adam';
import { nativeBatchNormTrain } from './native/batch-norm-train';
import { nativeBatchNormTrainGrad } from './native/batch-norm-train-grad';
import { nativeAdd, nativeMultiply, nativeSub } from './native/binary';
import { nativeConcat } from './native/concat';
import { nativeConv2d } from './native/conv2d';
import { nativeConv2dBackpropFilter } from './native/conv2d-backprop-filter';
import { nativeConv2dBackpropInput } from './native/conv2d-backprop-input';
import { nativeFusedBatchNorm } from './native/fused-batch-norm';
import { nativeFusedConv2d } from './native/fused-conv2d';
import { nativeMaxPoolGrad } from './native/max-pool-grad';
import type { NativeKernel } from './native/native-kernel';
import { installReluGradient, nativeReluGrad } from './native/relu-grad';
import { nativeSplitV } from './native/split-v';
import { batchMatMul } from './wasm/batch-mat-mul';
import { cast } from './wasm/cast';
import { conv2dBackpropFilter } from './wasm/conv2d-backprop-filter';
import { conv2dBackpropInput } from './wasm/conv2d-backprop-input';
import { depthwiseConv2dBackpropFilter } from './wasm/depthwise-conv2d-backprop-filter';
import { depthwiseConv2dBackpropInput } from './wasm/depthwise-conv2d-backprop-input';
import { identity } from './wasm/identity';
import { maxPoolGrad } from './wasm/max-pool-grad';
import { mean } from './wasm/mean';
import { sum } from './wasm/sum';
import { tile } from './wasm/tile';
import { unsortedSegmentSum } from './wasm/unsorted-segment-sum';
import type { WasmKernel, WasmKernelContext } from './wasm/wasm-kernel';

/**
 * The one place agekit's kernels are registered (one kernel per file in wasm/ and native/):
 * - WASM_TRAINING_KERNELS: what tfjs-backend-wasm 4.x lacks for training or runs slowly, composed from forward ops or
 *   written on its heap (registerWasmTrainingKernels; the 'fast-path' ones switch with setWasmTrainingFastPaths);
 * - NATIVE_KERNELS: agekit's oneDNN and C kernels over wasm's (registerNativeKernels, when the addon loads).
 * Each handles its fast case and hands everything else to the kernel it replaced, so results are the same for every
 * input (kernels.spec.ts, gradients.spec.ts, native.spec.ts check them against the cpu backend).
 */

/** In registration order: the composed gradients first, then the fast paths. */
const WASM_TRAINING_KERNELS: readonly WasmKernel[] = [
  conv2dBackpropFilter,
  conv2dBackpropInput,
  depthwiseConv2dBackpropFilter,
  depthwiseConv2dBackpropInput,
  maxPoolGrad,
  unsortedSegmentSum,
  batchMatMul,
  tile,
  identity,
  cast,
  sum,
  mean,
];

/** agekit's own kernel names first (NATIVE_RELU_GRAD_KERNEL, NATIVE_ADAM_KERNEL, NATIVE_BATCH_NORM_TRAIN*), then wasm's replaced. */
const NATIVE_KERNELS: readonly NativeKernel[] = [
  nativeReluGrad,
  nativeAdam,
  nativeBatchNormTrain,
  nativeBatchNormTrainGrad,
  nativeConv2d,
  nativeFusedConv2d,
  nativeConv2dBackpropInput,
  nativeConv2dBackpropFilter,
  nativeMaxPoolGrad,
  nativeFusedBatchNorm,
  nativeAdd,
  nativeSub,
  nativeMultiply,
  nativeConcat,
  nativeSplitV,
];

// ---------------------------------------------------------------------------------------------------------------
// wasm training kernels

interface FastPath {
  kernelName: string;
  original: tf.KernelConfig | undefined;
  fast: tf.KernelConfig;
}
const registeredOn = new Set<string>();
const fastPaths = new Map<string, FastPath[]>();
const fastPathsOn = new Map<string, boolean>();
const KERNELS_REGISTERED: string[] = [];

function wasmContext(original: tf.KernelConfig | undefined, backendName: string): WasmKernelContext {
  return { original, fastPaths: () => fastPathsOn.get(backendName) === true, columnSum: () => nativeColumnSum() };
}

function kernelConfig(kernelName: string, backendName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): tf.KernelConfig {
  return { kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc };
}

/**
 * Register, on the wasm backend, the gradient kernels training needs that it lacks or runs slowly:
 * Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input, UnsortedSegmentSum (missing), and
 * Conv2DBackpropInput (replaced for stride 1 by a forward conv), MaxPoolGrad (a JavaScript loop) and BatchMatMul with transposeA/B
 * (replaced by an explicit transpose then the fast path), then switches on the speed-only fast paths
 * (`setWasmTrainingFastPaths`). Idempotent; returns the kernel (and gradient) names registered.
 */
export function registerWasmTrainingKernels(backendName = 'wasm'): string[] {
  const names: string[] = [];
  if (registeredOn.has(backendName)) return [...KERNELS_REGISTERED];
  for (const kernel of WASM_TRAINING_KERNELS.filter((k) => k.mode !== 'fast-path')) {
    const existing = tf.getKernel(kernel.kernelName, backendName);
    if ((existing && kernel.mode === 'add') || (!existing && kernel.mode === 'wrap')) continue;
    const context = wasmContext(existing, backendName);
    if (existing) tf.unregisterKernel(kernel.kernelName, backendName);
    tf.registerKernel(kernelConfig(kernel.kernelName, backendName, (args) => kernel.kernelFunc(args, context)));
    names.push(kernel.kernelName);
  }
  registeredOn.add(backendName);
  const fast: FastPath[] = WASM_TRAINING_KERNELS.filter((k) => k.mode === 'fast-path').map((kernel) => {
    const original = tf.getKernel(kernel.kernelName, backendName);
    const context = wasmContext(original, backendName);
    return { kernelName: kernel.kernelName, original, fast: kernelConfig(kernel.kernelName, backendName, (args) => kernel.kernelFunc(args, context)) };
  });
  fastPaths.set(backendName, fast);
  fastPathsOn.set(backendName, false);
  names.push(...setWasmTrainingFastPaths(true, backendName));
  KERNELS_REGISTERED.push(...names);
  return names;
}

/**
 * Switch the speed-only training paths on or off (default on once `registerWasmTrainingKernels` ran): wasm kernels
 * for Tile, Identity, Cast, Sum and Mean over leading axes (the 'fast-path' kernels of wasm/); the FusedBatchNorm and
 * Mean gradients (gradients.ts; global, every backend); strided Conv2DBackpropInput by col2im (instead of wasm's
 * native kernel), the RGB stem's filter gradient by im2col, and operand-swapped transposed matMuls
 * (`swapMatMulOperands`). Off restores tfjs's own kernels and gradients and the previous choices; for A/B benchmarks
 * (tools/bench/train/fast-paths-ab.ts). Returns the names of the kernels and gradients switched.
 */
export function setWasmTrainingFastPaths(enabled: boolean, backendName = 'wasm'): string[] {
  const paths = fastPaths.get(backendName);
  if (!paths) return [];
  const switched: string[] = [];
  if (fastPathsOn.get(backendName) !== enabled) {
    for (const p of paths) {
      if (tf.getKernel(p.kernelName, backendName)) tf.unregisterKernel(p.kernelName, backendName);
      const config = enabled ? p.fast : p.original;
      if (config) tf.registerKernel(config);
      switched.push(p.kernelName);
    }
    fastPathsOn.set(backendName, enabled);
  }
  if (enabled) switched.push(...installFastGradients().map((n) => `${n} gradient`));
  else restoreOriginalGradients();
  return switched;
}

// ---------------------------------------------------------------------------------------------------------------
// native kernels

interface Replaced {
  kernelName: string;
  original: tf.KernelConfig | undefined;
  native: tf.KernelConfig;
}
const replacedOn = new Map<string, Replaced[]>();
const enabledOn = new Map<string, boolean>();

/**
 * Names of the kernels the native set registers (all replace a wasm kernel but NATIVE_RELU_GRAD_KERNEL,
 * NATIVE_ADAM_KERNEL and the NATIVE_BATCH_NORM_TRAIN* kernels, agekit's own).
 */
export const NATIVE_KERNEL_NAMES: readonly string[] = NATIVE_KERNELS.map((k) => k.kernelName);

/**
 * Replace the kernels of NATIVE_KERNEL_NAMES on `backendName` (a backend keeping tensors on the wasm heap) with the
 * native ones, each falling back to the kernel registered before it. Register after registerWasmTrainingKernels so
 * the composed gradients are the fallbacks. Idempotent; returns the kernel names now native.
 */
export function registerNativeKernels(kernels: NativeKernels, backendName = 'wasm'): string[] {
  const native = kernels as LoadedNativeKernels;
  if (!native.binding) throw new Error('registerNativeKernels: not a NativeKernels from loadNativeKernels()');
  if (!replacedOn.has(backendName)) {
    replacedOn.set(
      backendName,
      NATIVE_KERNELS.filter((kernel) => kernel.needs === undefined || typeof native.binding[kernel.needs] === 'function').map((kernel) => {
        const original = tf.getKernel(kernel.kernelName, backendName);
        return { kernelName: kernel.kernelName, original, native: kernelConfig(kernel.kernelName, backendName, (args) => kernel.kernelFunc(args, original, native)) };
      }),
    );
  }
  installReluGradient();
  setNativeKernelsEnabled(true, backendName);
  return (replacedOn.get(backendName) ?? []).map((r) => r.kernelName);
}

/** Switch the registered native kernels on or off (off restores the kernels they replaced; for A/B benchmarks). */
export function setNativeKernelsEnabled(enabled: boolean, backendName = 'wasm'): void {
  const list = replacedOn.get(backendName);
  if (!list || enabledOn.get(backendName) === enabled) return;
  for (const r of list) {
    if (tf.getKernel(r.kernelName, backendName)) tf.unregisterKernel(r.kernelName, backendName);
    const config = enabled ? r.native : r.original;
    if (config) tf.registerKernel(config);
  }
  enabledOn.set(backendName, enabled);
}

/** Whether the native kernels are registered and on for `backendName`. */
export function nativeKernelsEnabled(backendName = 'wasm'): boolean {
  return enabledOn.get(backendName) === true;
}

/**
 * Column sums in C (out[k] = scale * sum over rows of x[r][k]) when the native kernels are on for `backendName`, for
 * the Sum/Mean-over-leading-axes fast path (wasm/reduce-leading.ts); undefined otherwise.
 */
function nativeColumnSum(backendName = 'wasm'): ((x: Float32Array, columns: number, out: Float32Array, scale: number) => void) | undefined {
  const loaded = loadedNativeKernels();
  if (!enabledOn.get(backendName) || !loaded) return undefined;
  const binding = loaded.binding;
  return (x, columns, out, scale) => binding.columnSum(x, columns, out, scale);
}
