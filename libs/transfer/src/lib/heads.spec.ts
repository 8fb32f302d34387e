import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '@agekit/dataset';
import { resolveTask } from '@agekit/model';
import { initBackend } from '@agekit/runtime';
import { cachedFeatures, trainHead, type LabelledFeatures } from './heads';

/** Features whose first dimensions encode the class (plus noise): a head must find it. */
function makeFeatures(n: number, dims: number, seed: number): LabelledFeatures {
  const rng = createRng(seed);
  const values = new Float32Array(n * dims);
  const targets: number[] = [];
  const ages: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    targets.push(k);
    ages.push([25, 35, 45][k]);
    for (let d = 0; d < dims; d++) values[i * dims + d] = Math.max(0, (d % 3 === k ? 1.5 : 0) + rng.normal() * 0.7);
  }
  return { features: { count: n, dims, values }, targets, ages };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('trainHead', () => {
  const task = resolveTask({ kind: 'age-groups', edges: [20, 30, 40], representativeAges: [25, 35, 45] });

  it('learns a class signal from features and is reproducible with a seed', async () => {
    const train = makeFeatures(240, 24, 1);
    const val = makeFeatures(90, 24, 2);
    const options = { task, train, val, head: { hidden: 16, dropout: 0.2 }, epochs: 15, batchSize: 32, learningRate: 0.01, seed: 4 };
    const a = await trainHead(options);
    expect(a.validation.accuracy).toBeGreaterThan(0.9);
    expect(a.validation.auc).toBeGreaterThan(0.95);
    expect(a.validation.mae).toBeLessThan(2);
    expect(a.history[a.bestEpoch - 1].best).toBe(true);
    const b = await trainHead(options);
    const wa = a.head.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = b.head.getWeights().map((w) => Array.from(w.dataSync()));
    expect(wb).toEqual(wa);
    const c = await trainHead({ ...options, seed: 5 });
    expect(c.head.getWeights()[0].dataSync()).not.toEqual(a.head.getWeights()[0].dataSync());
  }, 30_000);

  it('regression head predicts ages in years', async () => {
    const regression = resolveTask({ kind: 'regression', minAge: 20, maxAge: 50 }, [25, 35, 45]);
    const train = makeFeatures(240, 24, 1);
    const val = makeFeatures(90, 24, 2);
    const toTargets = (d: LabelledFeatures): LabelledFeatures => ({ ...d, targets: d.ages.map((a) => (a - (regression.targetScale?.mean ?? 0)) / (regression.targetScale?.std ?? 1)) });
    const r = await trainHead({ task: regression, train: toTargets(train), val: toTargets(val), head: { hidden: 16, dropout: 0 }, epochs: 20, learningRate: 0.01, seed: 1 });
    expect(r.validation.mae).toBeLessThan(3);
  }, 30_000);
});

describe('cachedFeatures', () => {
  it('computes once, then reads the cache; other pixels give another key', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-features-'));
    try {
      const input = tf.input({ shape: [4, 4, 1] });
      const model = tf.model({ inputs: input, outputs: tf.layers.globalAveragePooling2d({}).apply(tf.layers.conv2d({ filters: 3, kernelSize: 1, kernelInitializer: 'ones' }).apply(input) as tf.SymbolicTensor) as tf.SymbolicTensor });
      const pixels = Uint8Array.from({ length: 2 * 16 }, (_, i) => i * 7);
      const images = { ids: ['a', 'b'], size: 4, channels: 1 as const, pixels };
      const options = { backboneId: 'test', normalization: { mean: [0], std: [1] }, cacheDir: dir, name: 'x' };
      const first = await cachedFeatures(model, images, options);
      expect(first.fromCache).toBe(false);
      expect(first.values[0]).toBeCloseTo(pixels.slice(0, 16).reduce((s, v) => s + v, 0) / 16, 4);
      const second = await cachedFeatures(model, images, options);
      expect(second.fromCache).toBe(true);
      expect(Array.from(second.values)).toEqual(Array.from(first.values));
      const changed = await cachedFeatures(model, { ...images, pixels: pixels.map((v) => 255 - v) }, options);
      expect(changed.fromCache).toBe(false);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
