import { holdOutSchema, RESAMPLED_DATASET_DIR, type HoldOutSpec, type Schema } from '@agekit/dataset';
import { ARCHITECTURES, type ArchitectureName } from './architectures';
import { BACKEND_CHOICES, type BackendChoice } from '@agekit/runtime';
import type { WorkerCount } from './parallel';
import type { Distillation } from './distillation';
import type { BatchAugmentation } from './images';
import type { LabelDistribution } from './parallel-loss';
import type { TaskSpec } from './tasks';
import type { LearningRateSchedule, MonitorMetric } from './train';

/** JSON schema of a learning-rate schedule (constant, step or cosine), defaulting to `kind`. */
export function scheduleSchema(kind: LearningRateSchedule['kind']): Schema {
  return {
    type: 'object',
    default: { kind },
    required: ['kind'],
    properties: {
      kind: { enum: ['constant', 'step', 'cosine'] },
      everyEpochs: { type: 'integer', minimum: 1 },
      gamma: { type: 'number', exclusiveMinimum: 0 },
      minLearningRate: { type: 'number', minimum: 0 },
    },
    additionalProperties: false,
  };
}

/**
 * A TaskSpec (tasks.ts) in a config: shared by the train config's `task` and each of the transfer config's `tasks`, so
 * both accept every task kind with the same fields.
 */
const labelsSchema = { type: 'array', items: { type: 'string' }, minItems: 2 };

export const taskSpecSchema: Exclude<Schema, boolean> = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: {
    kind: { enum: ['classification', 'age-groups', 'age-group-labels', 'regression'] },
    minAge: { type: 'integer', minimum: 0 },
    maxAge: { type: 'integer', minimum: 0 },
    edges: { type: 'array', items: { type: 'number' }, minItems: 2 },
    labels: labelsSchema,
    representativeAges: { type: 'array', items: { type: 'number' } },
  },
  // the class labels of age-group-labels are required with it (resolveTask needs them)
  if: { properties: { kind: { const: 'age-group-labels' } } },
  then: { required: ['labels'], properties: { labels: labelsSchema } },
};

/**
 * JSON schema of a LabelDistribution (parallel-loss.ts): shared by the train and transfer configs' `training`. Absent
 * (the default) = one-hot cross-entropy.
 */
export const labelDistributionSchema: Schema = {
  type: 'object',
  required: ['sigma'],
  additionalProperties: false,
  properties: {
    sigma: { type: 'number', exclusiveMinimum: 0 },
    expectationWeight: { type: 'number', minimum: 0, default: 1 },
  },
};

/**
 * JSON schema of a BatchAugmentation (images.ts): shared by the train config's `training` and the transfer config's
 * `fineTune`. With `defaults`, an absent field takes them; without, an absent field is off.
 */
export function augmentationSchema(defaults?: Required<BatchAugmentation>): Schema {
  const withDefault = (schema: Record<string, unknown>, key: keyof BatchAugmentation): Schema => (defaults ? { ...schema, default: defaults[key] } : schema);
  return {
    type: 'object',
    ...(defaults ? { default: {} } : {}),
    additionalProperties: false,
    properties: {
      cropScale: withDefault({ type: 'number', exclusiveMinimum: 0, maximum: 1 }, 'cropScale'),
      brightness: withDefault({ type: 'number', minimum: 0, maximum: 1 }, 'brightness'),
      contrast: withDefault({ type: 'number', minimum: 0, maximum: 1 }, 'contrast'),
    },
  };
}

/** JSON schema of a Distillation (distillation.ts): the train config's `training.distillation` (absent = off). */
export const distillationSchema: Schema = {
  type: 'object',
  required: ['teachers'],
  additionalProperties: false,
  properties: {
    teachers: { type: 'array', items: { type: 'string' }, minItems: 1 },
    labelWeight: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
    unlabelled: { type: 'array', items: { type: 'string' } },
    flip: { type: 'boolean', default: true },
  },
};

/** Split ratios (train, val, test) of a dataset that has no split folders: shared by the train and transfer configs. */
export const splitSchema: Schema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: {
    train: { type: 'number', minimum: 0, default: 0.7 },
    val: { type: 'number', minimum: 0, default: 0.15 },
    test: { type: 'number', minimum: 0, default: 0.15 },
  },
};

/** How the network is trained (the `training` object of configs/train.json). */
export interface TrainTraining {
  epochs: number;
  batchSize: number;
  learningRate: number;
  schedule: LearningRateSchedule;
  l2: number;
  dropout: number;
  classWeights: 'none' | 'balanced' | number[];
  regressionLoss: 'l1' | 'l2';
  /** Classification over ages: Gaussian soft targets + L1 on the expected age (absent = one-hot cross-entropy). */
  labelDistribution?: LabelDistribution;
  /** Train on the teachers' ages mixed with the labels, and on unlabelled faces (absent = the labels only). */
  distillation?: Distillation;
  earlyStoppingPatience: number;
  monitor?: MonitorMetric;
  flip: boolean;
  /** Random crops and colour changes of the training images, drawn with the flips (absent = none; needs `flip`). */
  augmentation?: BatchAugmentation;
  /** Threads computing each step's gradients (data parallel): 'auto' = 2 on wasm/cpu with 2+ cores, else 1. */
  workers: WorkerCount;
}

/** The fields every training config shares (configs/train.json, configs/transfer.json). */
export interface TrainingRunConfig {
  /** Dataset root: either with train/ and val/ (and optionally test/) split folders, or any layout (split here). */
  data: string;
  /** Output folder for the run (written whole). */
  out: string;
  /** Used only when the dataset has no split folders. */
  split: { train: number; val: number; test: number };
  /** Used only when the dataset has no split folders: records held out of train/val/test (resolveSplits). */
  holdOut?: HoldOutSpec;
  backend: BackendChoice;
  /** Decoded-image cache (default <out>/cache). */
  cacheDir?: string;
  seed: number;
  /**
   * A resample config (path relative to this config): `agekit-trainer` then reads `data` as labelled images, resamples
   * them into <out>/dataset first (split with hold-out, training split rebalanced) and trains on that into <out>/model.
   * The libraries' stage functions ignore it (a TypeScript user calls resampleDataset, then trainModel/transferModel).
   */
  resample?: string;
}

/** configs/train.json: the run folder holds model, metadata, history, plots, checkpoints and the cache. */
export interface TrainConfig extends TrainingRunConfig {
  architecture: ArchitectureName;
  task: TaskSpec;
  input: { size: number; grayscale: boolean };
  training: TrainTraining;
}

/**
 * The schema properties of the fields every training run config shares (TrainingRunConfig: the train and transfer
 * configs), with that config's defaults.
 */
export function trainingRunProperties(defaults: Pick<TrainingRunConfig, 'data' | 'out' | 'backend' | 'seed'>): Record<string, Schema> {
  return {
    $schema: { type: 'string' },
    description: { type: 'string' },
    data: { type: 'string', default: defaults.data },
    out: { type: 'string', default: defaults.out },
    split: splitSchema,
    holdOut: holdOutSchema,
    backend: { enum: [...BACKEND_CHOICES], default: defaults.backend },
    cacheDir: { type: 'string' },
    seed: { type: 'integer', default: defaults.seed },
    resample: { type: 'string' },
  };
}

/** The defaults of every field of configs/train.json (the schema below and `trainModel` use them). */
export const TRAIN_DEFAULTS = {
  data: `out/${RESAMPLED_DATASET_DIR}`,
  out: 'models/run',
  architecture: 'squeezenet',
  task: { kind: 'classification', minAge: 20, maxAge: 50 },
  input: { size: 128, grayscale: false },
  training: {
    epochs: 30,
    batchSize: 32,
    learningRate: 0.001,
    schedule: { kind: 'constant' },
    l2: 0,
    dropout: 0.5,
    classWeights: 'none',
    regressionLoss: 'l1',
    earlyStoppingPatience: 0,
    flip: true,
    workers: 'auto',
  },
  split: { train: 0.7, val: 0.15, test: 0.15 },
  backend: 'auto',
  seed: 42,
} as const satisfies Omit<TrainConfig, 'cacheDir'>;

const d = TRAIN_DEFAULTS;

/** JSON schema of configs/train.json (loadConfig fills in the defaults). */
export const trainConfigSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    architecture: { enum: [...ARCHITECTURES], default: d.architecture },
    task: { ...taskSpecSchema, default: d.task },
    input: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { size: { type: 'integer', minimum: 16, maximum: 512, default: d.input.size }, grayscale: { type: 'boolean', default: d.input.grayscale } },
    },
    training: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        epochs: { type: 'integer', minimum: 1, default: d.training.epochs },
        batchSize: { type: 'integer', minimum: 1, default: d.training.batchSize },
        learningRate: { type: 'number', exclusiveMinimum: 0, default: d.training.learningRate },
        schedule: scheduleSchema(d.training.schedule.kind),
        l2: { type: 'number', minimum: 0, default: d.training.l2 },
        dropout: { type: 'number', minimum: 0, maximum: 0.95, default: d.training.dropout },
        classWeights: { anyOf: [{ enum: ['none', 'balanced'] }, { type: 'array', items: { type: 'number', minimum: 0 } }], default: d.training.classWeights },
        regressionLoss: { enum: ['l1', 'l2'], default: d.training.regressionLoss },
        labelDistribution: labelDistributionSchema,
        distillation: distillationSchema,
        earlyStoppingPatience: { type: 'integer', minimum: 0, default: d.training.earlyStoppingPatience },
        monitor: { enum: ['auc', 'accuracy', 'cs5', 'mae', 'loss'] },
        flip: { type: 'boolean', default: d.training.flip },
        augmentation: augmentationSchema(),
        workers: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 1 }], default: d.training.workers },
      },
    },
    ...trainingRunProperties(d),
  },
};
