import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, resolveTask } from '@agekit/model';
import { initBackend } from '@agekit/runtime';
import { generateSynthDataset } from '@agekit/synth';
import { FACEAPI_NORMALIZATION, loadFaceApiXception } from './faceapi-xception';
import { transferModel, type TransferEvent } from './transfer-model';
import { FACEAPI_AGE_LAYER, fineTuneWholeNet, standardizeAgeOutput } from './whole-net';

describe('standardizeAgeOutput', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it("rescales face-api's fc/age to the task's standardised age: the same ages, and only that layer changes", async () => {
    const years = await loadFaceApiXception({ ageHead: true });
    const standardized = await loadFaceApiXception({ ageHead: true });
    const task = resolveTask({ kind: 'regression', minAge: 1, maxAge: 100 }, [10, 30, 50, 70]);
    standardizeAgeOutput(standardized, task);
    const x = tf.randomUniform([3, 112, 112, 3], -0.5, 0.5, 'float32', 7);
    const a = (years.predict(x) as tf.Tensor).dataSync();
    const b = (standardized.predict(x) as tf.Tensor).dataSync();
    const { mean, std } = task.targetScale as { mean: number; std: number };
    for (let i = 0; i < a.length; i++) expect(b[i] * std + mean).toBeCloseTo(a[i], 3);
    for (const layer of standardized.layers) {
      const same = layer.getWeights().every((w, k) => tf.equal(w, years.getLayer(layer.name).getWeights()[k]).all().dataSync()[0] === 1);
      expect({ layer: layer.name, same }).toEqual({ layer: layer.name, same: layer.name !== FACEAPI_AGE_LAYER });
    }
    expect(() => standardizeAgeOutput(standardized, resolveTask({ kind: 'classification' }))).toThrow("the task must be 'regression'");
    tf.dispose([x, ...years.weights.map((w) => w.read()), ...standardized.weights.map((w) => w.read())]);
  });
});

describe('fineTuneWholeNet', () => {
  it("keeps the fine-tuned weights only when they beat the start on validation, unless keep is 'always'", async () => {
    await initBackend({ backend: 'wasm' });
    const task = resolveTask({ kind: 'regression', minAge: 20, maxAge: 60 }, [20, 40, 60]);
    const images = (seed: number) => ({ size: 112, channels: 3 as const, pixels: Uint8Array.from(tf.randomUniform([4 * 112 * 112 * 3], 0, 255, 'int32', seed).dataSync()) });
    const data = (seed: number) => ({ images: images(seed), targets: [-1, -0.5, 0.5, 1], ages: [20, 30, 50, 60] });
    // a small net shaped like face-api's (112 px RGB in, a dense age output): an absurd learning rate ruins it
    const net = (): tf.LayersModel => {
      const input = tf.input({ shape: [112, 112, 3] });
      const pooled = tf.layers.globalAveragePooling2d({}).apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input));
      return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1, kernelInitializer: 'zeros' }).apply(pooled) as tf.SymbolicTensor });
    };
    const common = { task, train: data(1), val: data(2), epochs: 1, batchSize: 4, learningRate: 50, earlyStoppingPatience: 0, flip: false, augmentation: {}, seed: 1 };
    for (const keep of ['if-better', 'always'] as const) {
      const model = net();
      const start = model.getWeights().map((w) => w.dataSync().slice());
      const result = await fineTuneWholeNet({ ...common, model, keep });
      expect(result.after.mae).toBeGreaterThan(result.before.mae);
      expect(result.kept).toBe(keep === 'always');
      const unchanged = model.getWeights().every((w, i) => w.dataSync().every((v, k) => v === start[i][k]));
      expect({ keep, unchanged }).toEqual({ keep, unchanged: keep === 'if-better' });
      model.dispose();
    }
  });
});

describe("transferModel with fineTune.from 'all'", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-whole-net-'));
    // ages face-api never predicts for these drawn faces: fine-tuning has a clear gain to find in a few steps
    await generateSynthDataset({ out: path.join(dir, 'data'), count: 48, seed: 3, size: 48, minAge: 80, maxAge: 100, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
  }, 120_000);
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("trains every layer of face-api's age net on the images (no features), keeps its own age output, saves one model folder", async () => {
    const events: TransferEvent[] = [];
    const phases = new Set<string>();
    const result = await transferModel({
      data: path.join(dir, 'data'),
      out: path.join(dir, 'out'),
      tasks: [{ name: 'age', task: { kind: 'regression', minAge: 80, maxAge: 100 } }],
      fineTune: { from: 'all', epochs: 2, batchSize: 8, learningRate: 0.001, earlyStoppingPatience: 0 },
      onEvent: (e) => events.push(e),
      onProgress: (p) => phases.add(p.phase),
    });
    const [task] = result.tasks;
    expect([...phases]).toEqual(expect.arrayContaining(['decode train', 'decode val', 'train']));
    expect([...phases].some((p) => p.startsWith('features') || p.startsWith('activations'))).toBe(false);
    expect(events.filter((e) => e.kind === 'epoch').map((e) => e.kind === 'epoch' && e.stage)).toEqual(['fine-tune', 'fine-tune']);
    expect(task.fineTune).toMatchObject({ from: 'all', kept: true, augmentation: { cropScale: 0.85, brightness: 0.2, contrast: 0.2 } });
    expect(task.fineTune?.fineTuned.mae).toBeLessThan(task.fineTune?.headOnly.mae as number);
    expect(task.validation.mae).toBe(task.fineTune?.fineTuned.mae);
    // face-api's net: 420,192 TinyXception parameters + fc/age (512 + 1), nothing added
    expect(task.headParameters).toBe(513);
    expect(task.parameters).toBe(420_192 + 513);

    const { model, metadata } = await loadModel(task.out);
    expect(metadata.output.kind).toBe('standardized-age');
    expect(metadata.input.normalization).toEqual(FACEAPI_NORMALIZATION);
    expect(model.layers.at(-1)?.name).toBe(FACEAPI_AGE_LAYER);
    const pretrained = await loadFaceApiXception({ ageHead: true });
    for (const name of ['faceapi_entry_flow_conv_in', 'faceapi_entry_flow_reduction_block_0_separable_conv0', 'faceapi_exit_flow_separable_conv']) {
      const [tuned] = model.getLayer(name).getWeights();
      const [before] = pretrained.getLayer(name).getWeights();
      expect({ name, changed: tf.max(tf.abs(tf.sub(tuned, before))).dataSync()[0] > 0 }).toEqual({ name, changed: true });
    }
    model.dispose();
    pretrained.dispose();
  }, 600_000);
});
