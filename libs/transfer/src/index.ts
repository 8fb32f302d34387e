// Public API of @agekit/transfer
export { transferModel, type FineTuneRecord, type TransferEvent, type TransferModelOptions, type TransferModelResult, type TransferTaskResult } from './lib/transfer-model';
export {
  TRANSFER_DEFAULTS,
  transferConfigSchema,
  type TransferConfig,
  type TransferFineTune,
  type TransferTask,
  type TransferTraining,
} from './lib/config';
export {
  applyFaceApiXception,
  bindFaceApiWeights,
  buildFaceApiXception,
  defaultFaceApiModelDir,
  FACEAPI_FEATURES,
  FACEAPI_INPUT_SIZE,
  FACEAPI_NORMALIZATION,
  loadFaceApiXception,
  readWeightsManifest,
  type DecodedWeight,
  type FaceApiXceptionOptions,
} from './lib/faceapi-xception';
export { FACEAPI_AGE_LAYER, fineTuneWholeNet, standardizeAgeOutput, type FineTuneWholeOptions, type FineTuneWholeResult } from './lib/whole-net';
export { buildFineTuneModel, FINE_TUNE_POINTS, fineTuneCutLayer, fineTunedBackboneParameters, trunkModel, type FineTuneFrom } from './lib/finetune';
export {
  BACKBONES,
  backboneInfo,
  buildHead,
  cachedFeatures,
  composeTransferModel,
  evaluateHead,
  extractFeatures,
  improvesOn,
  monitoredScore,
  rowShape,
  trainHead,
  transferMetadata,
  type BackboneInfo,
  type BackboneName,
  type CachedFeaturesOptions,
  type ExtractFeaturesOptions,
  type FeatureSet,
  type HeadEpochRecord,
  type HeadSpec,
  type LabelledFeatures,
  type TrainHeadOptions,
  type TrainHeadResult,
  type TransferMetadataOptions,
} from './lib/heads';
