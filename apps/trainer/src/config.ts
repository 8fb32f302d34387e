import { RESAMPLED_DATASET_FOLDER, type Schema } from '@agekit/dataset';
import { BACKEND_CHOICES, scheduleSchema, splitSchema, taskSpecSchema, type ArchitectureName, type BackendChoice, type LearningRateSchedule, type MonitorMetric, type TaskSpec } from '@agekit/model';

/** configs/train.json */
export interface TrainConfig {
  /** Dataset root: either with train/ and val/ (and optionally test/) split folders, or any layout (split here). */
  data: string;
  /** Output folder for the run (model, metadata, history, plots, checkpoints). */
  out: string;
  architecture: ArchitectureName;
  task: TaskSpec;
  input: { size: number; grayscale: boolean };
  training: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    schedule: LearningRateSchedule;
    l2: number;
    dropout: number;
    classWeights: 'none' | 'balanced' | number[];
    regressionLoss: 'l1' | 'l2';
    earlyStoppingPatience: number;
    monitor?: MonitorMetric;
    flip: boolean;
    /** Threads computing each step's gradients (data parallel): 'auto' = 2 on wasm/cpu with 2+ cores, else 1. */
    workers: number | 'auto';
  };
  /** Used only when the dataset has no split folders. */
  split: { train: number; val: number; test: number };
  backend: BackendChoice;
  /** Decoded-image cache (default <out>/cache). */
  cacheDir?: string;
  seed: number;
}

export const trainConfigSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    data: { type: 'string', default: `out/${RESAMPLED_DATASET_FOLDER}` },
    out: { type: 'string', default: 'models/run' },
    architecture: { enum: ['squeezenet', 'simple-cnn'], default: 'squeezenet' },
    task: { ...taskSpecSchema, default: { kind: 'classification', minAge: 20, maxAge: 50 } },
    input: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { size: { type: 'integer', minimum: 16, maximum: 512, default: 128 }, grayscale: { type: 'boolean', default: false } },
    },
    training: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        epochs: { type: 'integer', minimum: 1, default: 30 },
        batchSize: { type: 'integer', minimum: 1, default: 32 },
        learningRate: { type: 'number', exclusiveMinimum: 0, default: 0.001 },
        schedule: scheduleSchema('constant'),
        l2: { type: 'number', minimum: 0, default: 0 },
        dropout: { type: 'number', minimum: 0, maximum: 0.95, default: 0.5 },
        classWeights: { anyOf: [{ enum: ['none', 'balanced'] }, { type: 'array', items: { type: 'number', minimum: 0 } }], default: 'none' },
        regressionLoss: { enum: ['l1', 'l2'], default: 'l1' },
        earlyStoppingPatience: { type: 'integer', minimum: 0, default: 0 },
        monitor: { enum: ['auc', 'accuracy', 'cs5', 'mae', 'loss'] },
        flip: { type: 'boolean', default: true },
        workers: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 1 }], default: 'auto' },
      },
    },
    split: splitSchema,
    backend: { enum: [...BACKEND_CHOICES], default: 'auto' },
    cacheDir: { type: 'string' },
    seed: { type: 'integer', default: 42 },
  },
};
