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
export {
  conv2dFilterGradient,
  conv2dFilterGradientIm2col,
  conv2dInputGradient,
  conv2dInputGradientCol2im,
  registerWasmTrainingKernels,
  setWasmTrainingFastPaths,
} from './lib/kernels';
// native oneDNN kernels (registered by initBackend on wasm when the addon loads) and the Adam that uses them
export {
  createAdam,
  loadNativeKernels,
  nativeKernelsEnabled,
  nativeKernelsUnavailableReason,
  NativeAdamOptimizer,
  type NativeCallCounts,
  type NativeKernels,
  type NativePrimitiveInfo,
} from './lib/native';
// fused batch norm (a training op and the layer that uses it)
export { batchNormTraining, FusedBatchNormalization, fusedBatchNormalization, type BatchNormalizationOptions, type BatchNormTrainingResult } from './lib/batch-norm';
