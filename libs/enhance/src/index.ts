// Public API of @agekit/enhance: corrections on PixelImages, SSIM, and the quality-guarded choice.
export {
  applyOperation,
  describeOperation,
  OPERATION_NAMES,
  resizeImage,
  upscaledSize,
  type OperationName,
  type OperationSpec,
  type UpscaleKernel,
} from './lib/operations';
export { ssim, ssimAgainst, ssimGray, ssimReference, SSIM_WINDOW, type SsimReference } from './lib/ssim';
export {
  FIXABLE_FLAGS,
  isFixableFlag,
  measureForGuard,
  qualityGuard,
  type FixableFlag,
  type GuardThresholds,
  type ImageMeasurement,
  type QualityGuard,
} from './lib/guard';
export {
  CORRECTION_STAGES,
  describeOperations,
  enhanceImage,
  type CandidateGrid,
  type EnhanceOptions,
  type EnhanceResult,
  type EnhanceStatus,
} from './lib/choose';
export {
  DEFAULT_CANDIDATES,
  DEFAULT_ENHANCE_CONFIG,
  enhanceConfigSchema,
  resolveCandidates,
  type ConfiguredOperation,
  type EnhanceConfig,
} from './lib/config';
export { luminance, withLuminance, mapLuminance } from './lib/planes';
export { gaussianKernel, convolveSeparable, equalizeLut, gammaLut, bilateralFilter, laplacianSharpen, addDetail } from './lib/filters';
export {
  processDataset,
  summarizeProcessing,
  type FlagSummary,
  type ProcessDatasetOptions,
  type ProcessDatasetResult,
  type ProcessDatasetStart,
  type ProcessSummary,
} from './lib/process-dataset';
export { processRecord, processContext, processMetadataOf, type ProcessContext, type ProcessJob, type ProcessMetadata } from './lib/process-record';
export { runProcessDatasetWorker } from './lib/process-worker';
