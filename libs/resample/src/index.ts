// Public API of @agekit/resample: the resample stage (resampleDataset), target age distributions, resampling plans,
// seeded augmentation, validation.
export {
  resampleDataset,
  resampleOptionsFromConfig,
  type ResampleChart,
  type ResampleDatasetOptions,
  type ResampleDatasetResult,
  type ResamplePhase,
} from './lib/resample-dataset';
export { defaultResampleConfig, resampleConfigSchema, type ResampleConfig, type TargetConfig } from './lib/config';
export { BUILT_IN_DISTRIBUTIONS, classifier, strategyFor, targetFromFlag } from './lib/target';
export { GroupUnion, linkMetadataGroups, readProcessingExclusions, type MetadataInfo } from './lib/groups';
export { screenImages, type ScreenOptions } from './lib/screen';
export { DistributionError, MissingClassesError } from './lib/errors';
export {
  ageClasses,
  buildDistributionFile,
  classLabel,
  classOfAge,
  compactAges,
  DEFAULT_AGE_RANGE,
  distributionFileSchema,
  distributionFromCounts,
  distributionFromFile,
  parseAgeCountCsv,
  parseDistributionFile,
  uniformDistribution,
  type AgeClass,
  type AgeCountRow,
  type AgeRangeOptions,
  type DistributionFile,
  type DistributionProvenance,
  type ParsedAgeCounts,
  type TargetDistribution,
} from './lib/distribution';
export {
  countByLabel,
  EQUALIZE_CLASSES,
  planResampling,
  type EqualizeClasses,
  type PlanOptions,
  type PlanRow,
  type ResamplingPlan,
  type SamplingStrategy,
} from './lib/plan';
export {
  augmentImage,
  DEFAULT_AUGMENTATION,
  drawAugmentation,
  formatTransform,
  parseTransform,
  type AugmentationOptions,
  type AugmentedImage,
  type AugmentImageOptions,
  type AugmentParams,
} from './lib/augment';
export { applyPlan, type ResampledItem, type SelectOptions } from './lib/select';
export { totalVariationDistance, validateResampling, type ResamplingValidation, type ValidationRow } from './lib/validate';
export {
  planDatasetResampling,
  writeResampledDataset,
  type DatasetResamplingPlan,
  type OutputItem,
  type PlanDatasetResamplingOptions,
  type WriteResampledOptions,
  type WriteResampledResult,
  type WrittenItem,
} from './lib/pipeline';
