// Public API of @agekit/enhance: corrections on PixelImages, SSIM, and the quality-guarded choice.
export * from './lib/operations';
export * from './lib/ssim';
export * from './lib/guard';
export * from './lib/choose';
export * from './lib/config';
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
export { processRecord, processContext, PROCESS_METADATA_COLUMNS, type ProcessContext, type ProcessJob } from './lib/process-record';
export { runProcessDatasetWorker } from './lib/process-worker';
