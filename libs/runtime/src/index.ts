// Public API of @agekit/runtime: the tfjs backend agekit runs on and what it adds to it.

// backend choice
export {
  BACKEND_CHOICES,
  backendChoiceFlag,
  currentBackend,
  initBackend,
  type BackendAttempt,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  type BackendOptions,
  type NativeKernelsInfo,
} from './lib/backend';
// wasm training kernels (registered by initBackend on wasm) and the composed gradients, for A/B benchmarks
export { nativeKernelsEnabled, registerWasmTrainingKernels, setWasmTrainingFastPaths } from './lib/kernels/registry';
export { conv2dFilterGradient, conv2dFilterGradientIm2col } from './lib/kernels/wasm/conv2d-backprop-filter';
export { conv2dInputGradient, conv2dInputGradientCol2im } from './lib/kernels/wasm/conv2d-backprop-input';
// native oneDNN kernels (registered by initBackend on wasm when the addon loads) and the Adam that uses them
export { loadNativeKernels, nativeKernelsUnavailableReason, type NativeCallCounts, type NativeKernels, type NativePrimitiveInfo } from './lib/native-addon';
export { createAdam, NativeAdamOptimizer } from './lib/adam';
// fused batch norm (a training op and the layer that uses it)
export { batchNormTraining, FusedBatchNormalization, fusedBatchNormalization, type BatchNormalizationOptions, type BatchNormTrainingResult } from './lib/batch-norm';
