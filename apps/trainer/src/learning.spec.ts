import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readDataset, splitGrouped } from '@agekit/dataset';
import { evaluateModel, fitModel, loadModel, meanAbsoluteError, prepareSplit, resolveTask, saveModel } from '@agekit/model';
import { initBackend } from '@agekit/runtime';
// The synthetic-face generator is a workspace tool, not a library: tests import it by path (house convention).
import { generateSynthDataset } from '@agekit/synth';

// The learning check: simple-cnn REGRESSION on 40 px synthetic faces (ages 20..50, uniform) must beat the
// predict-the-training-mean baseline's validation MAE by at least 30%.
describe('learning on synthetic faces (wasm backend)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-trainer-learn-'));
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 480, seed: 11, size: 48, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
    await initBackend({ backend: 'wasm' });
  }, 180_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('regression beats the predict-the-mean MAE by >= 30%, and the saved model reproduces its validation MAE', async () => {
    const dataset = await readDataset(path.join(dir, 'data'));
    const splits = splitGrouped(dataset.records, { seed: 1, groupOf: (r) => r.group, stratumOf: (r) => String(r.age), ratios: { train: 0.8, val: 0.2, test: 0 } });
    const task = resolveTask({ kind: 'regression', minAge: 20, maxAge: 50 }, splits.train.map((r) => r.age as number));
    const train = await prepareSplit(splits.train, task, { size: 40, channels: 3, cacheDir: path.join(dir, 'cache'), name: 'train' });
    const val = await prepareSplit(splits.val, task, { size: 40, channels: 3, cacheDir: path.join(dir, 'cache'), name: 'val' });
    const trainMean = train.data.ages.reduce((s, a) => s + a, 0) / train.data.ages.length;
    const baseline = meanAbsoluteError(val.data.ages, val.data.ages.map(() => trainMean));

    const result = await fitModel({
      architecture: 'simple-cnn',
      task,
      size: 40,
      channels: 3,
      train: train.data,
      val: val.data,
      epochs: 8,
      batchSize: 16,
      learningRate: 1e-3,
      dropout: 0.3,
      seed: 1,
      checkpointDir: path.join(dir, 'ckpt'),
    });
    const best = result.history[result.bestEpoch - 1];
    expect(result.monitor).toBe('mae');
    expect(result.validation.mae).toBeCloseTo(best.val.mae as number, 4);
    expect(result.validation.mae).toBeLessThanOrEqual(0.7 * baseline);

    await saveModel(result.model, path.join(dir, 'model'), result.metadata);
    const loaded = await loadModel(path.join(dir, 'model'));
    const again = evaluateModel(loaded.model, loaded.metadata.task, val.data, { normalization: loaded.metadata.input.normalization });
    expect(again.mae).toBeCloseTo(result.validation.mae, 4);
    expect(loaded.metadata.task.targetScale?.mean).toBeCloseTo(trainMean, 6);
    // the best checkpoint on disk is the same model
    const fromCheckpoint = await loadModel(path.join(dir, 'ckpt', 'best'));
    expect(evaluateModel(fromCheckpoint.model, task, val.data, { normalization: loaded.metadata.input.normalization }).mae).toBeCloseTo(result.validation.mae, 4);
  }, 400_000);

});
