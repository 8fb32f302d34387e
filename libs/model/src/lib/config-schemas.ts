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
