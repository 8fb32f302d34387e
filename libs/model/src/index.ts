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
  type BatchAugmentation,
  type ImageItem,
  type ImageSet,
  type LoadImagesOptions,
  type Normalization,
} from './lib/images';
export { prepareSplit, type PreparedSplit, type PrepareOptions } from './lib/dataset';
export { distilledAge, distilledTrainingSet, teacherAges, type DistilledSet, type DistilledSetOptions, type Distillation, type TeacherAges, type TeacherAgesOptions } from './lib/distillation';
export { resolveSplits, type ResolvedSplits, type ResolveSplitsOptions } from './lib/splits';
// training
export {
  balancedClassWeights,
  epochMetrics,
  fitModel,
  learningRateAt,
  type EpochMetrics,
  type EpochRecord,
  type FitOptions,
  type FitResult,
  type LearningRateSchedule,
  type MonitorMetric,
} from './lib/train';
export { createLoss, labelDistributionLoss, seedDropout, softTargets, threadCpuMs, type LabelDistribution, type LabelDistributionLoss, type LossSpec } from './lib/parallel-loss';
export { DataParallelStep, GradientWorkers, resolveWorkerCount, type GradientWorkersOptions, type WorkerCount } from './lib/parallel';
export { runParallelTrainWorker } from './lib/parallel-worker';
export { beginRunFolder } from './lib/run-folder';
export { augmentationSchema, distillationSchema, labelDistributionSchema, scheduleSchema, splitSchema, taskSpecSchema, trainConfigSchema, trainingRunProperties, TRAIN_DEFAULTS, type TrainConfig, type TrainingRunConfig, type TrainTraining } from './lib/config-schemas';
export { trainModel, type TrainChart, type TrainChartInput, type TrainEvent, type TrainModelOptions, type TrainModelResult } from './lib/train-model';
export { evaluateSavedModel, type EvaluateSavedModelOptions, type EvaluateSavedModelResult } from './lib/evaluate-saved';
export { describeBands, describeEpoch, describeEvaluation, describeTrainingBackend, evaluationFigures, formatMetric } from './lib/report';
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
  readModelMetadata,
  resolveModelFolder,
  saveModel,
  WEIGHTS_BIN,
  type AgekitModelMetadata,
  type LoadedModel,
} from './lib/io';
