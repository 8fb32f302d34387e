import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '@agekit/runtime';
import { makeClassImages as makeImages } from './images.testing';
import { balancedClassWeights, learningRateAt, fitModel } from './train';
import { resolveTask } from './tasks';

describe('fitModel', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-model-train-'));
    await initBackend({ backend: 'wasm' });
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('learning-rate schedules and balanced class weights', () => {
    expect(learningRateAt(5, 10, 0.01, { kind: 'step', everyEpochs: 2, gamma: 0.5 })).toBeCloseTo(0.0025, 12);
    expect(learningRateAt(0, 10, 0.01, { kind: 'cosine' })).toBeCloseTo(0.01, 12);
    expect(learningRateAt(5, 10, 0.01, { kind: 'cosine', minLearningRate: 0.002 })).toBeCloseTo(0.006, 12);
    expect(balancedClassWeights([0, 0, 0, 1], 3)).toEqual([4 / 6, 2, 0]);
  });

  it('resumes from the last checkpoint and continues the same history', async () => {
    const task = resolveTask({ kind: 'age-groups', edges: [20, 30, 40] });
    const common = {
      architecture: 'simple-cnn' as const,
      task,
      size: 16,
      channels: 1 as const,
      train: makeImages(48, 16, 1),
      val: makeImages(24, 16, 2),
      batchSize: 16,
      seed: 2,
      classWeights: 'balanced' as const,
      l2: 1e-4,
      checkpointDir: path.join(dir, 'resume'),
    };
    const straight = await fitModel({ ...common, epochs: 3, checkpointDir: path.join(dir, 'straight') });
    const first = await fitModel({ ...common, epochs: 2 });
    expect(first.history).toHaveLength(2);
    expect(first.history[0].val.auc).not.toBeNull();
    const resumed = await fitModel({ ...common, epochs: 3, resume: true });
    expect(resumed.resumedFromEpoch).toBe(2);
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(resumed.history[0]).toEqual(first.history[0]);
    // same seed, same data: resuming after epoch 2 gives the uninterrupted run's epoch 3 (Adam state restored)
    expect(resumed.history[2].trainLoss).toBeCloseTo(straight.history[2].trainLoss, 4);
    expect(resumed.history[2].val.loss).toBeCloseTo(straight.history[2].val.loss, 4);
  }, 120_000);
});
