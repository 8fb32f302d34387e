// Public API of @agekit/dataset
export * from './lib/errors';
export * from './lib/rng';
export * from './lib/image';
export * from './lib/layouts';
export * from './lib/split';
export * from './lib/csv';
export * from './lib/csv-text';
export * from './lib/files';
export * from './lib/config';
export * from './lib/progress';
export * from './lib/native-addon';
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
  METADATA_METRICS,
  metadataFieldText,
  parseMetadataRow,
  readMetadataCsv,
  writeMetadataCsv,
  type MetadataHashMetric,
  type MetadataMetric,
  type MetadataNumberMetric,
  type MetadataRow,
  type QualityFlag,
  type ReadMetadataOptions,
} from './lib/artifacts/metadata';
export { resolveWorkerEntry, startWorkerProcess, startWorkerThread, type WorkerEntry, type WorkerEntryOptions, type WorkerProcessOptions } from './lib/worker-pool';
export {
  RESAMPLE_CHART_FILE,
  RESAMPLED_DATASET_FOLDER,
  RESAMPLING_CSV_COLUMNS,
  RESAMPLING_CSV_FILE,
  readResamplingCsv,
  resampledSplitFolder,
  SPLIT_NAMES,
  writeResamplingCsv,
  type ResamplingRow,
  type SplitName,
} from './lib/artifacts/resampling';
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
