// Public API of @agekit/dataset
export { ConfigError, DatasetError, describeError, ImageDecodeError, type ImageErrorReason } from './lib/errors';
export { createRng, hashString, type Rng } from './lib/rng';
export {
  assertImageBytes,
  decodeImage,
  DEFAULT_MAX_PIXELS,
  encodeFormatOf,
  encodeImage,
  formatForPath,
  readImageBytes,
  rgbToGray,
  sniffImageFormat,
  toGrayImage,
  type DecodeOptions,
  type EncodeFormat,
  type PixelImage,
} from './lib/image';
export {
  detectLayout,
  IMAGE_EXTENSIONS,
  labelOf,
  parseUtkName,
  readDataset,
  type Dataset,
  type DatasetLayout,
  type DatasetRecord,
  type ReadDatasetOptions,
} from './lib/layouts';
export { DEFAULT_SPLIT_RATIOS, holdOutMatcher, holdOutSchema, splitGrouped, type HoldOutSpec, type SplitOptions, type SplitRatios, type Splits } from './lib/split';
export { CsvWriter, readCsv, writeCsv, type CsvRow, type CsvValue } from './lib/csv';
export { csvField, csvLine, CsvTextWriter } from './lib/csv-text';
export { copyFileAtomic, isInside, writeFileAtomic } from './lib/files';
export { loadConfig, validateConfig, type JSONSchemaType, type Schema } from './lib/config';
export { formatDuration, mapSettled, ProgressTracker, type MapConcurrentOptions, type Progress, type ProgressCallback, type Settled } from './lib/progress';
export { loadNativeAddon, type NativeAddonResult, type NativeAddonSpec } from './lib/native-addon';
export {
  checkInsideRoot,
  datasetProblem,
  listImageFiles,
  realFolder,
  type DatasetProblem,
  type DatasetProblemCode,
  type ImageListing,
  type ListImagesOptions,
} from './lib/paths';
export { OutputPathError, removeStaleTemporaries, staleTemporaries, StageOutputs, type StageFolder, type StageOutputPlan } from './lib/stage-output';
export {
  emptyMetadataRow,
  FLAG_NAMES,
  formatMetadataRow,
  METADATA_COLUMNS,
  METADATA_CSV,
  metadataCsvPath,
  METADATA_METRICS,
  metadataFieldText,
  parseMetadataRow,
  readMetadataCsv,
  writeMetadataCsv,
  writeMetadataCsvLines,
  type MetadataHashMetric,
  type MetadataMetric,
  type MetadataNumberMetric,
  type MetadataRow,
  type QualityFlag,
  type ReadMetadataOptions,
} from './lib/artifacts/metadata';
export { resolveWorkerEntry, startWorkerProcess, startWorkerThread, type WorkerEntry, type WorkerEntryOptions, type WorkerProcessOptions } from './lib/worker-pool';
export {
  RESAMPLE_CHART_PNG,
  RESAMPLED_DATASET_DIR,
  RESAMPLING_CSV_COLUMNS,
  RESAMPLING_CSV,
  readResamplingCsv,
  resampledSplitFolder,
  SPLIT_NAMES,
  writeResamplingCsv,
  type ResamplingRow,
  type SplitName,
} from './lib/artifacts/resampling';
export { DEFAULT_THRESHOLDS, resolveThresholds, type QualityThresholds } from './lib/artifacts/thresholds';
export { clipToWidth, EXIT, exitCodeOf, integerFlag, packageVersion, parseFlags, UsageError } from './lib/cli';
export {
  PROCESSED_DATASET_DIR,
  PROCESSED_LABELS_CSV,
  PROCESSING_COLUMNS,
  PROCESSING_CSV,
  PROCESSING_MEASUREMENT_COLUMNS,
  PROCESSING_STATUSES,
  processingPaths,
  readProcessingCsv,
  splitFlagCell,
  writeProcessedLabels,
  writeProcessingCsv,
  type ProcessingMeasurement,
  type ProcessingRow,
  type ProcessingStatus,
} from './lib/artifacts/processing';
export { runThreadTasks, serveThreadTasks, type ThreadTaskResult, type ThreadTasksOptions } from './lib/worker-threads';
