import { holdOutSchema, validateConfig, type HoldOutSpec } from '@agekit/dataset';
import type { AugmentationOptions } from './augment';
import type { EqualizeClasses } from './plan';

/** The target of the resample stage (one of the three forms). */
export type TargetConfig =
  /**
   * A built-in distribution ('uniform', or a name of BUILT_IN_DISTRIBUTIONS such as 'australia-erp-2021'), or a
   * distribution file: a .json as tools/distributions writes them, or an age,count / age_min,count .csv.
   */
  | { distribution: string }
  /** Explicit target counts per class label ("25" or "20-24"). */
  | { counts: Record<string, number> }
  /** imbalanced-learn style: equalize the selected classes by over- or under-sampling. */
  | { strategy: EqualizeClasses; direction?: 'over' | 'under' };

/** The resample stage's config (configs/resample.json). Relative paths are relative to the config file's folder. */
export interface ResampleConfig {
  /** Dataset folder when there is no `<out>/processed_dataset` (overridden by --data). */
  data?: string;
  seed: number;
  ages: { min: number; max: number; binWidth: number };
  target: TargetConfig;
  /** Training-split size after resampling (default: the training split's size). */
  total?: number;
  split: { train: number; val: number; test: number };
  /**
   * Records held out of train/val/test (with their groups) into `resampled_dataset/heldout/`, an evaluation set never
   * trained on: e.g. { "field": "race", "values": ["2"] } holds out UTKFace's Asian faces.
   */
  holdOut?: HoldOutSpec;
  augmentation: Required<AugmentationOptions>;
  output: { quality: number; concurrency: number };
  /** Images whose shorter side (before processing) is below this many pixels are left out. */
  minSide: number;
}

const ratio = { type: 'number', minimum: 0, maximum: 1 } as const;

export const resampleConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    description: { type: 'string' },
    data: { type: 'string' },
    seed: { type: 'integer', minimum: 0, default: 42 },
    minSide: { type: 'integer', minimum: 1, default: 32 },
    ages: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        min: { type: 'integer', minimum: 0, maximum: 130, default: 20 },
        max: { type: 'integer', minimum: 0, maximum: 130, default: 50 },
        binWidth: { type: 'integer', minimum: 1, maximum: 50, default: 1 },
      },
    },
    target: {
      default: { distribution: 'australia-erp-2021' },
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['distribution'],
          properties: { distribution: { type: 'string', minLength: 1 } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['counts'],
          properties: { counts: { type: 'object', minProperties: 1, additionalProperties: { type: 'integer', minimum: 0 } } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['strategy'],
          properties: {
            strategy: { enum: ['all', 'not majority', 'not minority', 'minority', 'majority'] },
            direction: { enum: ['over', 'under'] },
          },
        },
      ],
    },
    total: { type: 'integer', minimum: 1 },
    split: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { train: { ...ratio, default: 0.7 }, val: { ...ratio, default: 0.15 }, test: { ...ratio, default: 0.15 } },
    },
    holdOut: holdOutSchema,
    augmentation: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxRotation: { type: 'number', minimum: 0, maximum: 45, default: 10 },
        flipProbability: { ...ratio, default: 0.5 },
        brightness: { type: 'number', minimum: 0, maximum: 0.9, default: 0.2 },
        contrast: { type: 'number', minimum: 0, maximum: 0.9, default: 0.2 },
        saturation: { type: 'number', minimum: 0, maximum: 1, default: 0.2 },
        minCropScale: { type: 'number', minimum: 0.3, maximum: 1, default: 0.85 },
      },
    },
    output: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        quality: { type: 'integer', minimum: 1, maximum: 100, default: 95 },
        concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4 },
      },
    },
  },
} as const;

/** The config with every field defaulted (what the stage does when given no config). */
export function defaultResampleConfig(): ResampleConfig {
  return validateConfig<ResampleConfig>({}, resampleConfigSchema, '<defaults>');
}
