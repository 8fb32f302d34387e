import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildModel, countParameters, type ArchitectureOptions } from './architectures';
import { currentBackend, initBackend, loadNativeKernels } from '@agekit/runtime';
import { maxRelativeDifference } from '@agekit/synth';
import { makeClassImages as makeImages } from './images.testing';
import { activeTrainWorkers, DataParallelStep, GradientWorkers, packWeights, resolveWorkerCount, shardSizes } from './parallel';
import { unpackWeights } from './parallel-worker';
import { createLoss, targetTensor, type LossSpec } from './parallel-loss';
import { resolveTask } from './tasks';
import { fitModel } from './train';

describe('data-parallel training', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-model-parallel-'));
    await initBackend({ backend: 'wasm' });
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('resolves worker counts and splits batches into shards', () => {
    expect(resolveWorkerCount(undefined, 'wasm')).toBe(1);
    expect(resolveWorkerCount('auto', 'tensorflow')).toBe(1);
    // with or without the native kernels (then each training thread gives oneDNN cores / threads OpenMP threads)
    expect(resolveWorkerCount('auto', 'wasm')).toBe(Math.min(2, os.availableParallelism()));
    expect(resolveWorkerCount('auto', 'cpu')).toBe(Math.min(2, os.availableParallelism()));
    expect(resolveWorkerCount(3, 'wasm')).toBe(3);
    expect(() => resolveWorkerCount(0, 'wasm')).toThrow(/workers must be/);
    expect(shardSizes(32, 2)).toEqual([16, 16]);
    expect(shardSizes(7, 2)).toEqual([4, 3]);
    expect(shardSizes(1, 2)).toEqual([1]);
    expect(shardSizes(10, 3)).toEqual([4, 3, 3]);
  });

  it('broadcasts every weight, batch-norm moving statistics included', () => {
    const model = buildModel({ architecture: 'squeezenet', size: 32, channels: 3, classes: 3, head: 'classification', batchNorm: true });
    const packed = packWeights(model);
    expect(model.weights.length).toBeGreaterThan(model.trainableWeights.length);
    expect(packed.length).toBe(countParameters(model));
    const copy = buildModel({ architecture: 'squeezenet', size: 32, channels: 3, classes: 3, head: 'classification', batchNorm: true, seed: 9 });
    const moving = copy.weights.findIndex((w) => /moving_variance/.test(w.name));
    expect(moving).toBeGreaterThanOrEqual(0);
    unpackWeights(copy, packed.map((v, i) => v + (i % 7) * 1e-3));
    // a moving variance starts at 1; after unpacking it is the sender's value
    const sent = model.weights[moving].read().dataSync();
    const got = copy.weights[moving].read().dataSync();
    const offset = model.weights.slice(0, moving).reduce((s, w) => s + w.read().size, 0);
    expect(Array.from(got)).toEqual(Array.from(sent, (v, j) => Math.fround(v + ((offset + j) % 7) * 1e-3)));
    expect(() => unpackWeights(copy, packed.subarray(1))).toThrow(/weights: got/);
    model.dispose();
    copy.dispose();
  });

  it('averages shard gradients weighted by shard size into the full batch gradient (unequal shards)', async () => {
    const architecture: ArchitectureOptions = { architecture: 'simple-cnn', size: 16, channels: 1, classes: 3, head: 'classification', dropout: 0, seed: 3 };
    const spec: LossSpec = { classification: true, classes: 3, classWeights: [0.5, 1, 2], regressionLoss: 'l1', l2: 1e-3 };
    const model = buildModel(architecture);
    const loss = createLoss(model, spec);
    const data = makeImages(7, 16, 5);
    const indices = Array.from({ length: 7 }, (_, i) => i);
    const x = new Float32Array(Array.from(data.images.pixels, (p) => (p - 128) / 64));
    // reference: the gradient of the whole batch in this thread
    const xt = tf.tensor4d(x, [7, 16, 16, 1]);
    const yt = targetTensor(data.targets, { classification: true });
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const reference = tf.variableGrads(() => loss(xt, yt), variables);
    const native = currentBackend()?.native ? loadNativeKernels() : undefined;
    const threadsBefore = native?.getThreads();
    const workers = await GradientWorkers.start({ count: 1, backend: 'wasm', model: architecture, loss: spec });
    try {
      // with the native kernels on, each training thread gets cores / threads OpenMP threads while the pool is open
      const perThread = Math.max(1, Math.floor(os.availableParallelism() / 2));
      expect(workers.nativeThreads).toBe(native ? perThread : undefined);
      if (native) expect(native.getThreads()).toBe(perThread);
      expect(workers.backends[0]).toContain(native ? `native oneDNN` : 'WebAssembly');
      if (native) expect(workers.backends[0]).toContain(`(${perThread} thread`);
      const parallel = new DataParallelStep(model, loss, workers, { classification: true, size: 16, channels: 1 });
      const { loss: value, grads } = await parallel.gradients({ x, targets: indices.map((i) => data.targets[i]), dropoutSeed: () => 1, step: 0 });
      expect(value).toBeCloseTo(reference.value.dataSync()[0], 5);
      expect(Object.keys(grads).sort()).toEqual(Object.keys(reference.grads).sort());
      for (const name of Object.keys(reference.grads)) expect(maxRelativeDifference(grads[name].dataSync(), reference.grads[name].dataSync())).toBeLessThan(1e-5);
      tf.dispose(Object.values(grads));
    } finally {
      await workers.close();
      tf.dispose([xt, yt, reference.value, ...Object.values(reference.grads)]);
      loss.dispose();
      model.dispose();
    }
    expect(activeTrainWorkers()).toBe(0);
    expect(native?.getThreads()).toBe(threadsBefore);
  }, 60_000);

  it('trains to the same weights with 2 workers as with 1 (no batch norm, equal shards)', async () => {
    const common = {
      architecture: 'simple-cnn' as const,
      task: resolveTask({ kind: 'age-groups', edges: [20, 30, 40] }),
      size: 16,
      channels: 1 as const,
      train: makeImages(32, 16, 1),
      val: makeImages(12, 16, 2),
      epochs: 1,
      batchSize: 16, // two steps: the second checks that the workers received the updated weights
      seed: 4,
      dropout: 0,
      flip: true,
      l2: 1e-3,
      classWeights: 'balanced' as const,
    };
    const one = await fitModel({ ...common, workers: 1 });
    const two = await fitModel({ ...common, workers: 2 });
    expect(one.workers).toBe(1);
    expect(two.workers).toBe(2);
    expect(two.metadata.training?.['workers']).toBe(2);
    expect(two.history[0].trainLoss).toBeCloseTo(one.history[0].trainLoss, 5);
    const a = one.model.getWeights();
    const b = two.model.getWeights();
    expect(b).toHaveLength(a.length);
    // the step changed the weights (else equal weights would prove nothing)
    const initial = buildModel({ architecture: 'simple-cnn', size: 16, channels: 1, classes: 3, head: 'classification', dropout: 0, seed: 4 });
    expect(maxRelativeDifference(initial.getWeights()[0].dataSync(), a[0].dataSync())).toBeGreaterThan(1e-3);
    // Relative to the weights' overall scale: Adam divides by sqrt(v), so components whose gradient is ~0 (float
    // rounding of a sum in a different order) move by up to ~1e-3 lr; stale weights in a worker would move them by ~lr.
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i].dataSync();
      const y = b[i].dataSync();
      for (let j = 0; j < x.length; j++) {
        diff = Math.max(diff, Math.abs(x[j] - y[j]));
        scale = Math.max(scale, Math.abs(x[j]));
      }
    }
    expect(diff / scale).toBeLessThan(1e-5);
    initial.dispose();
    one.model.dispose();
    two.model.dispose();
    expect(activeTrainWorkers()).toBe(0);
  }, 90_000);

  it('is deterministic with dropout: per-shard masks come from the seed', async () => {
    const common = {
      architecture: 'simple-cnn' as const,
      task: resolveTask({ kind: 'age-groups', edges: [20, 30, 40] }),
      size: 16,
      channels: 1 as const,
      train: makeImages(16, 16, 3),
      val: makeImages(6, 16, 2),
      epochs: 1,
      batchSize: 16,
      seed: 5,
      dropout: 0.5,
      workers: 2,
    };
    const first = await fitModel(common);
    const second = await fitModel(common);
    const a = first.model.getWeights();
    const b = second.model.getWeights();
    for (let i = 0; i < a.length; i++) expect(Array.from(b[i].dataSync())).toEqual(Array.from(a[i].dataSync()));
    first.model.dispose();
    second.model.dispose();
  }, 60_000);

  it('fails the training with the worker error and leaves no worker running', async () => {
    const entry = path.join(dir, 'throwing-worker.js');
    await fs.writeFile(
      entry,
      `const { parentPort } = require('node:worker_threads');
exports.runParallelTrainWorker = () => {
  parentPort.on('message', (m) => {
    if (m.type === 'init') parentPort.postMessage({ type: 'ready', parameters: 0 });
    else throw new Error('shard ' + m.step + ' exploded on purpose');
  });
};
`,
    );
    const broken = path.join(dir, 'broken-worker.js');
    await fs.writeFile(broken, `throw new Error('cannot load this worker');\n`);
    const common = {
      architecture: 'simple-cnn' as const,
      task: resolveTask({ kind: 'age-groups', edges: [20, 30, 40] }),
      size: 16,
      channels: 1 as const,
      train: makeImages(8, 16, 1),
      val: makeImages(6, 16, 2),
      epochs: 1,
      batchSize: 8,
      workers: 2,
    };
    await expect(fitModel({ ...common, workerEntry: { module: entry, start: 'runParallelTrainWorker' } })).rejects.toThrow(/training worker 1 failed: shard 0 exploded on purpose/);
    expect(activeTrainWorkers()).toBe(0);
    await expect(fitModel({ ...common, workerEntry: { module: broken, start: 'runParallelTrainWorker' } })).rejects.toThrow(/training worker 1 failed: cannot load this worker/);
    expect(activeTrainWorkers()).toBe(0);
  }, 60_000);
});
