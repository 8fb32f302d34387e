// Public API of @agekit/onnx
export {
  convertLayersModel,
  UnsupportedLayerError,
  samePadding,
  hwioToOihw,
  depthwiseToOihw,
  type ConvertOptions,
  type ConvertResult,
  type InputLayout,
} from './lib/convert';
export { OPSET_VERSION, IR_VERSION, decodeModel } from './lib/graph';
export {
  readImagePixels,
  writePresizedImage,
  normalizePixels,
  nhwcToNchw,
  validatePreprocessSpec,
  type PreprocessSpec,
  type ResizeKernel,
} from './lib/preprocess';
export {
  createOnnxSession,
  runOnnx,
  runTfjs,
  verifyAgainstTfjs,
  checkWithPythonOnnx,
  type VerifyOptions,
  type VerifyReport,
  type CheckerReport,
  type ImageProblem,
  type CountCallback,
} from './lib/verify';
export {
  writeBundle,
  readBundle,
  isBundleFolder,
  BUNDLE_ENTRIES,
  verifyBundle,
  compareCppWithOnnx,
  describeLabels,
  type ExportModelDescription,
  type LabelsSpec,
  type BundleManifest,
  type Bundle,
  type WriteBundleOptions,
  type CppComparison,
  type BundleVerification,
} from './lib/bundle';
export {
  CPP_MAIN,
  CPP_CMAKELISTS,
  findCppToolchain,
  findOnnxRuntimeC,
  buildCppExample,
  runCppExample,
  type CppPrediction,
  type CppToolchain,
  type OnnxRuntimeC,
} from './lib/cpp';
export { describeAgekitModel } from './lib/agekit-model';
export { rgbToGrayOpenCv } from './lib/preprocess';
export {
  loadBundlePredictor,
  preparePixels,
  interpretOutput,
  type BundlePredictor,
  type BundlePredictorOptions,
  type AgePrediction,
  type ClassProbability,
  type PredictorImage,
} from './lib/predict';
export {
  convertToFloat16,
  quantizeInt8,
  float16Bits,
  float16Value,
  DEFAULT_INT8_PLACEMENT,
  ALL_INT8_PLACEMENT,
  INT8_PLACEMENT_CHOICES,
  type Int8Choice,
  type Int8Placement,
  type ModelFormat,
  type CalibrationMethod,
  type CalibrationData,
  type QuantizeInt8Options,
  type QuantizeInt8Report,
} from './lib/quantize';
export { exportBundle, expectedAgeOf, DEFAULT_TOLERANCE, DEFAULT_CPP_TOLERANCE, defaultTolerance, INT8_REGRESSION_TOLERANCE_YEARS } from './lib/bundle';
export { type MaeComparison } from './lib/verify';
export {
  describeConversion,
  describeVerification,
  exportModel,
  sampleImageFiles,
  verifyBundleOnData,
  type ExportEvent,
  type ExportModelOptions,
  type ExportModelResult,
  type StageProgress,
  type VerifyOnDataOptions,
} from './lib/export-model';
