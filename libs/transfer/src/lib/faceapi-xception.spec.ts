import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { generateSynthDataset } from '@agekit/synth';
import { loadImagePixels, resolveTask } from '@agekit/model';
import { initBackend } from '@agekit/runtime';
import { buildFaceApiXception, defaultFaceApiModelDir, FACEAPI_NORMALIZATION, loadFaceApiXception, readWeightsManifest } from './faceapi-xception';
import { buildHead, composeTransferModel, extractFeatures } from './heads';

// face-api's own Node build (shares this process's @tensorflow/tfjs): the reference forward pass.
interface FaceApiNet {
  loadFromWeightMap(map: tf.NamedTensorMap): void;
  faceFeatureExtractor: { forwardInput(input: unknown): tf.Tensor4D };
  forwardInput(input: unknown): { age: tf.Tensor1D; gender: tf.Tensor2D };
}
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as {
  nets: { ageGenderNet: FaceApiNet };
  toNetInput(input: tf.Tensor3D[]): Promise<unknown>;
  padToSquare(x: tf.Tensor4D, centre: boolean): tf.Tensor4D;
};

const manifestFile = path.join(defaultFaceApiModelDir(), 'age_gender_model-weights_manifest.json');
let dir: string;
let faces: Uint8Array[];

beforeAll(async () => {
  // wasm: the backend agekit trains and extracts features on (the pure-JS cpu backend needs ~30 s per pass here)
  await initBackend({ backend: 'wasm' });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-faceapi-'));
  const samples = await generateSynthDataset({ out: dir, count: 4, seed: 7, size: 112, defectRate: 0, duplicateRate: 0 });
  faces = await Promise.all(samples.map((s) => loadImagePixels(path.join(dir, s.file), 112, 3)));
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const bin = await fs.readFile(path.join(path.dirname(manifestFile), manifest[0].paths[0]));
  // the package's net, loaded through tfjs's own weight decoder (independent of readWeightsManifest)
  faceapi.nets.ageGenderNet.loadFromWeightMap(tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer, manifest[0].weights));
}, 60_000);

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function normalised(): tf.Tensor4D {
  const x = tf.tensor4d(Float32Array.from(faces.flatMap((f) => Array.from(f))), [faces.length, 112, 112, 3]);
  return tf.tidy(() => tf.div(tf.sub(x, FACEAPI_NORMALIZATION.mean), FACEAPI_NORMALIZATION.std));
}

async function reference(): Promise<{ features: Float32Array; ages: Float32Array }> {
  const input = await faceapi.toNetInput(faces.map((f) => tf.tensor3d(Float32Array.from(f), [112, 112, 3])));
  const net = faceapi.nets.ageGenderNet;
  const map = net.faceFeatureExtractor.forwardInput(input);
  const features = tf.mean(map, [1, 2]).dataSync() as Float32Array;
  const ages = net.forwardInput(input).age.dataSync() as Float32Array;
  return { features, ages };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('faceapi-xception backbone', () => {
  it('decodes the quantized manifest exactly as tfjs does', async () => {
    const mine = await readWeightsManifest(manifestFile);
    const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as { weights: tf.io.WeightsManifestEntry[] }[];
    const bin = await fs.readFile(path.join(path.dirname(manifestFile), 'age_gender_model.bin'));
    const ref = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer, manifest[0].weights);
    expect(mine.map((w) => w.name)).toEqual(Object.keys(ref));
    for (const w of mine) expect(maxAbsDiff(w.values, ref[w.name].dataSync())).toBeLessThan(1e-7);
  });

  it('has 420,192 parameters (421,731 with both face-api heads minus the 1,539 of fc/age and fc/gender)', () => {
    const model = buildFaceApiXception();
    expect(model.countParams()).toBe(420_192);
    expect(model.outputs[0].shape).toEqual([null, 512]);
    model.dispose();
  });

  it('gives the 512-d features and ages of the package forward pass on synth faces', async () => {
    {
      const ref = await reference();
      const backbone = await loadFaceApiXception();
      const ageNet = await loadFaceApiXception({ ageHead: true });
      const x = normalised();
      const features = (backbone.predict(x) as tf.Tensor).dataSync();
      const ages = (ageNet.predict(x) as tf.Tensor).dataSync();
      expect(features.length).toBe(faces.length * 512);
      expect(Math.max(...Array.from(ref.features))).toBeGreaterThan(0.1); // a live feature map, not all zeros
      expect(maxAbsDiff(features, ref.features)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(ages, ref.ages)).toBeLessThanOrEqual(1e-3);
      // the feature path used for training gives the same numbers
      const viaExtract = extractFeatures(backbone, { size: 112, channels: 3, pixels: Uint8Array.from(faces.flatMap((f) => Array.from(f))) }, { normalization: FACEAPI_NORMALIZATION });
      expect(maxAbsDiff(viaExtract.values, ref.features)).toBeLessThanOrEqual(1e-4);
      backbone.dispose();
      ageNet.dispose();
      x.dispose();
    }
  }, 60_000);

  it('composes backbone + head into one flat model equal to head(backbone(x))', async () => {
    const task = resolveTask({ kind: 'classification', minAge: 20, maxAge: 50 });
    const backbone = await loadFaceApiXception();
    const head = buildHead(512, task, { hidden: 16, dropout: 0.5 }, 3);
    const model = composeTransferModel(backbone, head, task, { hidden: 16, dropout: 0.5 });
    expect(model.layers.some((l) => l.getClassName() === 'Functional' || l.getClassName() === 'Model')).toBe(false);
    expect(model.countParams()).toBe(420_192 + 512 * 16 + 16 + 16 * 31 + 31);
    const x = normalised();
    const direct = (model.predict(x) as tf.Tensor).dataSync();
    const twoStep = (head.predict(backbone.predict(x) as tf.Tensor) as tf.Tensor).dataSync();
    expect(maxAbsDiff(direct, twoStep)).toBeLessThan(1e-6);
  });
});
