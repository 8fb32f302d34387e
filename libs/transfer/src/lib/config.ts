import type { Schema } from '@agekit/dataset';
import { augmentationSchema, labelDistributionSchema, scheduleSchema, taskSpecSchema, trainingRunProperties, type BatchAugmentation, type LabelDistribution, type LearningRateSchedule, type MonitorMetric, type TaskSpec, type TrainingRunConfig } from '@agekit/model';
import type { BackendChoice } from '@agekit/runtime';
import { FINE_TUNE_POINTS, type FineTuneFrom } from './finetune';
import { BACKBONES, type BackboneName, type HeadSpec } from './heads';

/** How the head is trained on the cached features. */
export interface TransferTraining {
  epochs: number;
  batchSize: number;
  learningRate: number;
  schedule: LearningRateSchedule;
  l2: number;
  classWeights: 'none' | 'balanced';
  regressionLoss: 'l1' | 'l2';
  /** Classification over ages: Gaussian soft targets + L1 on the expected age (absent = one-hot cross-entropy). */
  labelDistribution?: LabelDistribution;
  earlyStoppingPatience: number;
  monitor?: MonitorMetric;
}

/**
 * After the head: train the backbone's blocks from `from` on (with the head) on cached activations of the frozen part,
 * at a lower learning rate; kept only if it improves the validation metric. 'none' = frozen backbone.
 * 'all' = no new head: face-api's whole age net (every layer and its own age output; regression tasks only) trains on
 * the images with `augmentation` drawn on the fly, no feature cache.
 */
export interface TransferFineTune {
  from: FineTuneFrom | 'all' | 'none';
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Train on the mirrored images (or their activations, computed once more) half of the time. */
  flip: boolean;
  /**
   * 'if-better' (default): the fine-tuned weights are kept only if they beat the starting point on validation;
   * 'always': kept regardless (e.g. when the pretrained net was trained on the validation images, as face-api's was on
   * 80% of UTKFace, so its validation figure flatters it); both figures are reported either way.
   */
  keep: 'if-better' | 'always';
  /** 'all' only: random crop-scale and colour changes of the training images. */
  augmentation: Required<BatchAugmentation>;
  earlyStoppingPatience: number;
}

/** One head per entry, saved under <out>/<name>. */
export interface TransferTask {
  name: string;
  task: TaskSpec;
}

/** configs/transfer.json */
export interface TransferConfig extends TrainingRunConfig {
  backbone: BackboneName;
  tasks: TransferTask[];
  head: HeadSpec;
  training: TransferTraining;
  fineTune: TransferFineTune;
}

/** The defaults of every field of configs/transfer.json (the schema below and `transferModel` use them). */
export const TRANSFER_DEFAULTS = {
  data: 'out/resampled_dataset',
  out: 'models/transfer',
  backbone: 'faceapi-xception' as BackboneName,
  tasks: [{ name: 'classification', task: { kind: 'classification', minAge: 20, maxAge: 50 } }] as TransferTask[],
  head: { hidden: 256, dropout: 0.5 },
  training: {
    epochs: 60,
    batchSize: 64,
    learningRate: 0.001,
    schedule: { kind: 'cosine' },
    l2: 0.0001,
    classWeights: 'none',
    regressionLoss: 'l1',
    earlyStoppingPatience: 10,
  } as TransferTraining,
  fineTune: {
    from: 'none',
    epochs: 10,
    batchSize: 32,
    learningRate: 0.0001,
    flip: true,
    keep: 'if-better',
    augmentation: { cropScale: 0.85, brightness: 0.2, contrast: 0.2 },
    earlyStoppingPatience: 4,
  } as TransferFineTune,
  split: { train: 0.7, val: 0.15, test: 0.15 },
  backend: 'wasm' as BackendChoice,
  seed: 42,
} as const;

const d = TRANSFER_DEFAULTS;

/** JSON schema of configs/transfer.json. */
export const transferConfigSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    backbone: { enum: [...BACKBONES], default: d.backbone },
    tasks: {
      type: 'array',
      minItems: 1,
      default: d.tasks,
      items: {
        type: 'object',
        required: ['name', 'task'],
        additionalProperties: false,
        properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' }, task: taskSpecSchema },
      },
    },
    head: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { hidden: { type: 'integer', minimum: 0, default: d.head.hidden }, dropout: { type: 'number', minimum: 0, maximum: 0.95, default: d.head.dropout } },
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
        classWeights: { enum: ['none', 'balanced'], default: d.training.classWeights },
        regressionLoss: { enum: ['l1', 'l2'], default: d.training.regressionLoss },
        labelDistribution: labelDistributionSchema,
        earlyStoppingPatience: { type: 'integer', minimum: 0, default: d.training.earlyStoppingPatience },
        monitor: { enum: ['auc', 'accuracy', 'cs5', 'mae', 'loss'] },
      },
    },
    fineTune: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        from: { enum: ['none', ...FINE_TUNE_POINTS, 'all'], default: d.fineTune.from },
        epochs: { type: 'integer', minimum: 1, default: d.fineTune.epochs },
        batchSize: { type: 'integer', minimum: 1, default: d.fineTune.batchSize },
        learningRate: { type: 'number', exclusiveMinimum: 0, default: d.fineTune.learningRate },
        flip: { type: 'boolean', default: d.fineTune.flip },
        keep: { enum: ['if-better', 'always'], default: d.fineTune.keep },
        augmentation: augmentationSchema(d.fineTune.augmentation),
        earlyStoppingPatience: { type: 'integer', minimum: 0, default: d.fineTune.earlyStoppingPatience },
      },
    },
    ...trainingRunProperties(d),
  },
};
