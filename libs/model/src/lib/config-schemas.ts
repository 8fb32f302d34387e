import type { Schema } from '@agekit/dataset';
import type { LearningRateSchedule } from './train';

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
