// Public API of @agekit/quality: metrics on decoded pixels (C engine, JS fallback), thresholds, checks, duplicate
// grouping, and the explore stage (exploreDataset).
export {
  brightnessPercentiles,
  HIGHLIGHT_CLIP_LEVEL,
  histogram,
  histogramEntropy,
  histogramStats,
  laplacianVariance,
  measureImage,
  opencvGray,
  SHADOW_CLIP_LEVEL,
  type ImageMetrics,
} from './lib/metrics';
export { hammingDistance, perceptualHash, popcount32, resampleArea } from './lib/phash';
export { findDuplicates, type DuplicateResult, type HashedItem } from './lib/duplicates';
export { checkQuality, FLAG_NAMES, type CheckInput, type QualityCheck, type QualityFlag } from './lib/checks';
export {
  DEFAULT_EXPLORE_WORKERS,
  DEFAULT_MAX_PIXELS,
  DEFAULT_THRESHOLDS,
  qualityConfigSchema,
  resolveThresholds,
  type QualityConfig,
  type QualityThresholds,
} from './lib/thresholds';
export {
  loadNativeQuality,
  METRIC_NAMES,
  NATIVE_ADDON_FILE,
  NATIVE_DISABLE_ENV,
  NATIVE_PATH_ENV,
  nativeQualityUnavailableReason,
  type NativeBatchResult,
  type NativeMeasureOptions,
  type NativeOutcome,
  type NativeQuality,
  type NativeStageTimes,
} from './lib/native';
export {
  EngineUnavailableError,
  exploreDataset,
  MIN_IMAGES_FOR_WORKERS,
  type ExploreDatasetOptions,
  type ExploreDatasetResult,
  type ExploreEngine,
} from './lib/explore/explore';
export { analyzeFiles, type AnalyzeFilesOptions, type AnalyzeFilesResult } from './lib/explore/pool';
export type { AnalyzedImage, AnalyzeFailure, AnalyzeOutcome } from './lib/explore/analyze';
export { runExploreWorker } from './lib/explore/explore-worker';
