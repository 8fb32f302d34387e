// Public API of @agekit/model: architectures, tasks, training, evaluation and the saved-model format.
// The tfjs backend and its kernels are @agekit/runtime's.

// architectures
export {
  ARCHITECTURES,
  buildModel,
  countParameters,
  EXPORTABLE_LAYER_CLASSES,
  layerSeed,
  type ArchitectureName,
  type ArchitectureOptions,
  type HeadKind,
} from './lib/architectures';
// tasks
export { expectedAge, isClassification, outputToAge, resolveTask, targetOf, trueAgeOf, type Task, type TaskKind, type TaskSpec } from './lib/tasks';
// input pipeline
export {
  defaultNormalization,
  loadImagePixels,
  loadImageSet,
  normalizeBatch,
  type ImageItem,
  type ImageSet,
  type LoadImagesOptions,
  type Normalization,
} from './lib/images';
export { prepareSplit, type PreparedSplit, type PrepareOptions } from './lib/dataset';
export { resolveSplits, type ResolvedSplits } from './lib/splits';
// training
export {
  balancedClassWeights,
  epochMetrics,
  learningRateAt,
  trainModel,
  type EpochMetrics,
  type EpochRecord,
  type LearningRateSchedule,
  type MonitorMetric,
  type TrainOptions,
  type TrainResult,
} from './lib/train';
export { createLoss, seedDropout, threadCpuMs, type LossSpec } from './lib/parallel-loss';
export { DataParallelStep, GradientWorkers, resolveWorkerCount, type GradientWorkersOptions, type WorkerCount } from './lib/parallel';
export { runParallelTrainWorker } from './lib/parallel-worker';
export { beginRunFolder } from './lib/run-folder';
export { scheduleSchema, splitSchema } from './lib/config-schemas';
// evaluation and metrics
export { evaluateModel, predictOutputs, scoreOutputs, type EvaluateOptions, type Evaluation, type LabelledImages } from './lib/evaluate';
export {
  accuracy,
  binaryAuc,
  confusionMatrix,
  cumulativeScore,
  macroAucOvr,
  maeByAgeBand,
  meanAbsoluteError,
  type BandError,
  type MacroAucResult,
} from './lib/metrics';
// saved models
export {
  fileLoadHandler,
  fileSaveHandler,
  loadModel,
  METADATA_JSON,
  MODEL_JSON,
  readMetadata,
  saveModel,
  WEIGHTS_BIN,
  type AgekitModelMetadata,
  type LoadedModel,
} from './lib/io';
