import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildModel, countParameters, defaultNormalization, loadModel, resolveTask, saveModel, type AgekitModelMetadata, type TaskSpec } from '@agekit/model';
import { describeAgekitModel } from './agekit-model';
import { writeBundle, type LabelsSpec } from './bundle';
import { interpretOutput, loadBundlePredictor, preparePixels, type PredictorImage } from './predict';
import { normalizePixels, readImagePixels } from './preprocess';
import { runTfjs } from './verify';

jest.setTimeout(120_000);

const SIZE = 32;
let work: string;

/** Build an untrained model, save it as the trainer does and export it as apps/exporter does (loadModel -> describeAgekitModel -> writeBundle). */
async function makeBundle(name: string, spec: TaskSpec, channels: 1 | 3): Promise<{ dir: string; model: tf.LayersModel; metadata: AgekitModelMetadata }> {
  const task = resolveTask(spec, [22, 30, 41, 55]);
  const classification = task.kind !== 'regression';
  const built = buildModel({ architecture: 'simple-cnn', size: SIZE, channels, classes: task.labels.length, head: classification ? 'classification' : 'regression', seed: 3 });
  const metadata: AgekitModelMetadata = {
    format: 'agekit-model',
    version: 1,
    architecture: 'simple-cnn',
    parameters: countParameters(built),
    task,
    input: { layout: 'NHWC', size: SIZE, channels, colour: channels === 3 ? 'rgb' : 'grayscale', resize: 'fill', normalization: defaultNormalization(channels) },
    output: { kind: classification ? 'probabilities' : 'standardized-age' },
    backend: tf.getBackend(),
    createdAt: new Date(0).toISOString(),
  };
  const modelDir = join(work, `model-${name}`);
  await saveModel(built, modelDir, metadata);
  built.dispose();
  const loaded = await loadModel(modelDir);
  const dir = join(work, `bundle-${name}`);
  writeBundle({ model: loaded.model, description: describeAgekitModel(loaded.metadata), out: dir, sourceModel: modelDir });
  return { dir, model: loaded.model, metadata: loaded.metadata };
}

/** A face-sized RGB(A) test pattern (not the input size, so the predictor must resize). */
function pattern(width: number, height: number, channels: 1 | 3 | 4, seed: number): PredictorImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = c === 3 ? 255 : (x * (3 + seed) + y * (5 + c) + seed * 40 + ((x * y) % 17) * 7) & 255;
  return { width, height, channels, data };
}

/** The reference: the crop written as a lossless PNG, then the file pipeline the exporter verifies with (readImagePixels), then tfjs. */
async function tfjsReference(model: tf.LayersModel, face: PredictorImage, spec: Parameters<typeof readImagePixels>[1] & Parameters<typeof normalizePixels>[1]): Promise<Float32Array> {
  const png = await sharp(Buffer.from(face.data), { raw: { width: face.width, height: face.height, channels: face.channels } }).png().toBuffer();
  const x = normalizePixels(await readImagePixels(png, spec), spec);
  return runTfjs(model, x, [1, spec.height, spec.width, spec.channels]);
}

beforeAll(async () => {
  await tf.setBackend('cpu'); // exact reference outputs
  work = mkdtempSync(join(tmpdir(), 'agekit-onnx-predict-'));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('loadBundlePredictor', () => {
  it('classification over ages: agrees with tfjs on the same crops (<= 1e-4), batched, expected age = sum p * age', async () => {
    const { dir, model, metadata } = await makeBundle('years', { kind: 'classification', minAge: 20, maxAge: 30 }, 3);
    const predictor = await loadBundlePredictor(dir, { top: 100 });
    try {
      expect(predictor.inputSize).toBe(SIZE);
      const faces = [pattern(200, 200, 3, 1), pattern(90, 120, 4, 2), pattern(SIZE, SIZE, 3, 3)];
      const predictions = await predictor.predict(faces);
      expect(predictions).toHaveLength(3);
      for (const [i, face] of faces.entries()) {
        const reference = await tfjsReference(model, face, predictor.bundle.preprocess);
        const p = predictions[i];
        expect(p.top).toHaveLength(11);
        expect(p.group).toBeNull();
        let expected = 0;
        for (const [k, label] of metadata.task.labels.entries()) {
          const got = p.top.find((t) => t.label === label);
          expect(got).toBeDefined();
          expect(Math.abs((got as { probability: number }).probability - reference[k])).toBeLessThanOrEqual(1e-4);
          expected += reference[k] * metadata.task.representativeAges[k];
        }
        expect(Math.abs((p.expectedAge as number) - expected)).toBeLessThanOrEqual(1e-3);
        // sorted, most probable first
        for (let k = 1; k < p.top.length; k++) expect(p.top[k - 1].probability).toBeGreaterThanOrEqual(p.top[k].probability);
      }
      // each face is predicted on its own pixels: a batch gives the same as one at a time
      const alone = await predictor.predict([faces[1]]);
      expect(Math.abs((alone[0].expectedAge as number) - (predictions[1].expectedAge as number))).toBeLessThanOrEqual(1e-5);
      expect(await predictor.predict([])).toEqual([]);
    } finally {
      await predictor.dispose();
      model.dispose();
    }
    await expect(predictor.predict([pattern(10, 10, 3, 0)])).rejects.toThrow(/disposed/);
  });

  it('top defaults to 3; regression (gray input) gives output * scale + offset and no classes', async () => {
    const { dir, model, metadata } = await makeBundle('regression', { kind: 'regression', minAge: 0, maxAge: 100 }, 1);
    const predictor = await loadBundlePredictor(dir);
    try {
      const face = pattern(150, 150, 3, 4);
      const [p] = await predictor.predict([face]);
      const reference = await tfjsReference(model, face, predictor.bundle.preprocess);
      const scale = metadata.task.targetScale as { mean: number; std: number };
      expect(p.top).toEqual([]);
      expect(p.group).toBeNull();
      expect(Math.abs((p.expectedAge as number) - (reference[0] * scale.std + scale.mean))).toBeLessThanOrEqual(1e-4 * scale.std);
    } finally {
      await predictor.dispose();
      model.dispose();
    }
  });

  it('age groups: expected age from the bands, the group is the most probable band, top 3 by default', async () => {
    const { dir, model } = await makeBundle('groups', { kind: 'age-groups', edges: [0, 20, 40, 60] }, 3);
    const predictor = await loadBundlePredictor(dir);
    try {
      const [p] = await predictor.predict([pattern(64, 80, 3, 5)]);
      expect(p.top).toHaveLength(3);
      expect(p.group).toBe(p.top[0].label);
      expect(['0-19', '20-39', '40-59', '60+']).toContain(p.group);
      expect(p.expectedAge).not.toBeNull();
    } finally {
      await predictor.dispose();
      model.dispose();
    }
  });

  it('names the file when the folder is not a bundle', async () => {
    await expect(loadBundlePredictor(join(work, 'nothing-here'))).rejects.toThrow(/nothing-here.*model\.onnx: missing/);
  });
});

describe('preparePixels', () => {
  it('matches the file pipeline (readImagePixels) for RGB, RGBA and gray sources', async () => {
    const spec = { width: 24, height: 24, channels: 1 as const, resize: { method: 'lanczos3' as const, fit: 'fill' as const, library: 'sharp' as const } };
    for (const channels of [1, 3, 4] as const) {
      const face = pattern(61, 47, channels, channels);
      const png = await sharp(Buffer.from(face.data), { raw: { width: face.width, height: face.height, channels } }).png().toBuffer();
      for (const c of [1, 3] as const) {
        const ours = await preparePixels(face, { ...spec, channels: c });
        const file = await readImagePixels(png, { ...spec, channels: c });
        expect(Array.from(ours)).toEqual(Array.from(file));
      }
    }
  });

  it('rejects pixel data of the wrong length', async () => {
    const spec = { width: 8, height: 8, channels: 3 as const, resize: { method: 'lanczos3' as const, fit: 'fill' as const, library: 'sharp' as const } };
    await expect(preparePixels({ width: 10, height: 10, channels: 3, data: new Uint8Array(10) }, spec)).rejects.toThrow(/expected 300/);
  });
});

describe('interpretOutput', () => {
  const groups: LabelsSpec = { task: 'classification', outputName: 'p', expectedAge: '', labels: [{ index: 0, name: 'YOUNG' }, { index: 1, name: 'MIDDLE' }, { index: 2, name: 'OLD' }] };
  it('labels without ages: no expected age, the group is the arg-max', () => {
    const p = interpretOutput(groups, [0.2, 0.7, 0.1], 2);
    expect(p).toEqual({ expectedAge: null, group: 'MIDDLE', top: [{ label: 'MIDDLE', probability: 0.7 }, { label: 'YOUNG', probability: 0.2 }] });
  });
  it('single-year labels: expected age, no group', () => {
    const years: LabelsSpec = { task: 'classification', outputName: 'p', expectedAge: '', labels: [{ index: 0, name: '20', age: 20 }, { index: 1, name: '30', age: 30 }] };
    const p = interpretOutput(years, [0.25, 0.75], 1);
    expect(p.expectedAge).toBeCloseTo(27.5, 10);
    expect(p.group).toBeNull();
    expect(p.top).toEqual([{ label: '30', probability: 0.75 }]);
  });
  it('rejects an output row of the wrong width', () => {
    expect(() => interpretOutput(groups, [0.5, 0.5])).toThrow(/2 outputs for 3 labels/);
  });
});
