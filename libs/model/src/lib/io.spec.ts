import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '@agekit/dataset';
import { FusedBatchNormalization, initBackend } from '@agekit/runtime';
import { maxRelativeDifference } from '@agekit/synth';
import { buildModel, countParameters } from './architectures';
import { defaultNormalization } from './images';
import { loadModel, METADATA_JSON, MODEL_JSON, resolveModelFolder, saveModel, type AgekitModelMetadata } from './io';
import { resolveTask } from './tasks';

jest.setTimeout(60_000);

function rand(shape: number[], seed: string): tf.Tensor {
  const rng = createRng(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );
}

function data(t: unknown): Float32Array {
  return ((Array.isArray(t) ? t[0] : t) as tf.Tensor).dataSync() as Float32Array;
}

describe('fused batch norm in saved models', () => {
  let work: string;

  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
    work = mkdtempSync(join(tmpdir(), 'agekit-bn-'));
  });

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('squeezenet builds it, saves it as BatchNormalization and loads it back with the same predictions', async () => {
    const task = resolveTask({ kind: 'regression' }, [22, 30, 41, 55]);
    const model = buildModel({ architecture: 'squeezenet', size: 32, channels: 3, classes: 1, head: 'regression', seed: 5, batchNorm: true });
    const bn = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    expect(bn.length).toBeGreaterThan(20);
    expect(bn.every((l) => l instanceof FusedBatchNormalization)).toBe(true);
    // move the moving statistics off their initial values, so that a wrong reload would show
    const x = rand([2, 32, 32, 3], 'saved');
    tf.tidy(() => {
      model.apply(x, { training: true });
    });
    const metadata: AgekitModelMetadata = {
      format: 'agekit-model',
      version: 1,
      architecture: 'squeezenet',
      parameters: countParameters(model),
      task,
      input: { layout: 'NHWC', size: 32, channels: 3, colour: 'rgb', resize: 'fill', normalization: defaultNormalization(3) },
      output: { kind: 'standardized-age' },
      backend: tf.getBackend(),
      createdAt: new Date(0).toISOString(),
    };
    const dir = join(work, 'squeezenet');
    await saveModel(model, dir, metadata);
    const json = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8')) as { modelTopology: { config: { layers: { class_name: string; name: string }[] } } };
    const names = json.modelTopology.config.layers.filter((l) => l.name.endsWith('_bn')).map((l) => l.class_name);
    expect(names.length).toBe(bn.length);
    expect(new Set(names)).toEqual(new Set(['BatchNormalization']));
    const loaded = await loadModel(dir);
    expect(loaded.model.layers.filter((l) => l instanceof FusedBatchNormalization).length).toBe(bn.length);
    const a = tf.tidy(() => data(model.predict(x) as tf.Tensor));
    const b = tf.tidy(() => data(loaded.model.predict(x) as tf.Tensor));
    expect(maxRelativeDifference(b, a)).toBeLessThanOrEqual(1e-6);
    tf.dispose(x);
    model.dispose();
    loaded.model.dispose();
  });
});

describe('resolveModelFolder', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'agekit-resolve-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });
  const plant = (dir: string): void => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, METADATA_JSON), '{}');
  };

  it('takes the folder itself, or the one model folder at most two levels below it, and refuses none or several', async () => {
    plant(join(work, 'run', 'model', 'age'));
    mkdirSync(join(work, 'run', 'dataset', 'resampled_dataset'), { recursive: true });
    expect(await resolveModelFolder(join(work, 'run'))).toBe(join(work, 'run', 'model', 'age'));
    expect(await resolveModelFolder(join(work, 'run', 'model', 'age'))).toBe(join(work, 'run', 'model', 'age'));
    await expect(resolveModelFolder(join(work, 'run', 'dataset'))).rejects.toThrow(/not an agekit model folder/);
    plant(join(work, 'run', 'model', 'gender'));
    await expect(resolveModelFolder(join(work, 'run'))).rejects.toThrow(/holds 2 models \(model\/age, model\/gender\)/);
    plant(join(work, 'deep', 'a', 'b', 'c'));
    await expect(resolveModelFolder(join(work, 'deep'))).rejects.toThrow(/not an agekit model folder/);
  });
});
