import * as tf from '@tensorflow/tfjs';
import { createRng } from '@agekit/dataset';
import { resolveTask } from '@agekit/model';
import { initBackend, registerWasmTrainingKernels } from '@agekit/runtime';
import { buildFaceApiXception } from './faceapi-xception';
import { buildFineTuneModel, fineTuneCutLayer, fineTunedBackboneParameters, trunkModel } from './finetune';
import { buildHead, composeTransferModel, evaluateHead, extractFeatures, trainHead, type LabelledFeatures } from './heads';

const SIZE = 112;

/** Random normalised face-sized inputs. */
function randomImages(n: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * SIZE * SIZE * 3 }, () => rng.normal() * 0.5), [n, SIZE, SIZE, 3]);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function weightsOf(model: tf.LayersModel, pattern: RegExp): Float32Array[] {
  return model.weights.filter((w) => pattern.test(w.originalName ?? w.name)).map((w) => Float32Array.from(w.read().dataSync()));
}

/** He-normal weights from a seed (biases 0), in place. */
function seedWeights(model: tf.LayersModel, seed: number): void {
  model.weights.forEach((w, i) => {
    const shape = w.shape as number[];
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const value = shape.length === 1 ? tf.zeros(shape) : tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed * 1000 + i + 1);
    w.write(value);
  });
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  registerWasmTrainingKernels();
});

describe('fine-tuning the last backbone blocks on cached activations', () => {
  const task = resolveTask({ kind: 'age-groups', edges: [20, 30, 40], representativeAges: [25, 35, 45] });
  const spec = { hidden: 8, dropout: 0.5 };

  it.each(['exit_flow', 'middle_flow/main_block_1'] as const)('from %s: trunk then the fine-tune model = backbone then head (same layers)', (from) => {
    const backbone = buildFaceApiXception();
    const head = buildHead(512, task, spec, 3);
    const model = buildFineTuneModel(backbone, head, fineTuneCutLayer(from));
    const trunk = trunkModel(backbone, fineTuneCutLayer(from));
    expect(trunk.outputs[0].shape).toEqual([null, 14, 14, 128]);
    const x = randomImages(2, 1);
    const direct = tf.tidy(() => head.predict(backbone.predict(x) as tf.Tensor) as tf.Tensor);
    const viaCut = tf.tidy(() => model.predict(trunk.predict(x) as tf.Tensor) as tf.Tensor);
    expect(maxAbsDiff(direct, viaCut)).toBeLessThan(1e-5);
    // exit flow: reduction block (3 convs) + separable conv; one more main block (3 separable convs) from middle_flow/main_block_1
    const tuned = fineTunedBackboneParameters(model, head);
    expect(tuned).toBe(from === 'exit_flow' ? 269_184 : 269_184 + 3 * (128 * 9 + 128 * 128 + 128));
    tf.dispose([x, direct, viaCut]);
  });

  it('training updates the blocks after the cut in place (wasm depthwise gradients), not those before it; the composed model carries them', async () => {
    const backbone = buildFaceApiXception();
    const cut = fineTuneCutLayer('exit_flow');
    const trunk = trunkModel(backbone, cut);
    const head = buildHead(512, task, spec, 3);
    const model = buildFineTuneModel(backbone, head, cut);
    const images = { size: SIZE, channels: 3 as const, pixels: Uint8Array.from({ length: 24 * SIZE * SIZE * 3 }, (_, i) => (i * 2654435761) >>> 24) };
    const normalization = { mean: [128, 128, 128], std: [64, 64, 64] };
    const activations = extractFeatures(trunk, images, { normalization, batchSize: 8 });
    expect(activations.shape).toEqual([14, 14, 128]);
    const labelled: LabelledFeatures = { features: activations, targets: Array.from({ length: 24 }, (_, i) => i % 3), ages: Array.from({ length: 24 }, (_, i) => [25, 35, 45][i % 3]) };
    const before = { exit: weightsOf(backbone, /exit_flow/), middle: weightsOf(backbone, /middle_flow|entry_flow/) };
    await trainHead({ task, train: labelled, val: labelled, model, epochs: 2, batchSize: 8, learningRate: 1e-3, seed: 1, earlyStoppingPatience: 0 });
    const after = { exit: weightsOf(backbone, /exit_flow/), middle: weightsOf(backbone, /middle_flow|entry_flow/) };
    expect(after.middle).toEqual(before.middle);
    after.exit.forEach((w, i) => expect(w).not.toEqual(before.exit[i]));
    // the flat exported model = trunk + fine-tuned blocks + head
    const composed = composeTransferModel(backbone, head, task, spec);
    const x = tf.tensor4d(Float32Array.from(images.pixels.subarray(0, 2 * SIZE * SIZE * 3), (v) => (v - 128) / 64), [2, SIZE, SIZE, 3]);
    const a = composed.predict(x) as tf.Tensor;
    const b = tf.tidy(() => model.predict(trunk.predict(x) as tf.Tensor) as tf.Tensor);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([x, a, b]);
  }, 60_000);

  it('learns through the backbone blocks alone: with the head frozen, training the fine-tuned blocks fits the classes', async () => {
    // activations 14x14x128, noise plus a class-dependent group of 16 raised channels; the head (random, linear) is
    // frozen, so only the gradients that reach the backbone's blocks (depthwise and pointwise convs, max-pool) can learn.
    const makeSet = (n: number, seed: number): LabelledFeatures => {
      const rng = createRng(seed);
      const dims = 14 * 14 * 128;
      const values = new Float32Array(n * dims);
      const targets: number[] = [];
      for (let i = 0; i < n; i++) {
        const k = i % 3;
        targets.push(k);
        for (let p = 0; p < 14 * 14; p++) {
          for (let c = 0; c < 128; c++) values[i * dims + p * 128 + c] = Math.max(0, rng.normal() * 0.5 + (c >> 4 === k ? 1 : 0));
        }
      }
      return { features: { count: n, dims, values, shape: [14, 14, 128] }, targets, ages: targets.map((k) => [25, 35, 45][k]) };
    };
    const backbone = buildFaceApiXception();
    seedWeights(backbone, 5); // its glorot initializers are unseeded: make the untrained accuracy reproducible
    const head = buildHead(512, task, { hidden: 0, dropout: 0 }, 2);
    for (const layer of head.layers) layer.trainable = false;
    const model = buildFineTuneModel(backbone, head, fineTuneCutLayer('exit_flow'));
    expect(model.trainableWeights.length).toBe(11);
    const val = makeSet(24, 2);
    expect(evaluateHead(model, task, val).accuracy).toBeLessThan(0.7);
    const result = await trainHead({ task, train: makeSet(48, 1), val, model, epochs: 2, batchSize: 12, learningRate: 1e-3, seed: 2, earlyStoppingPatience: 0 });
    expect(result.validation.accuracy).toBeGreaterThanOrEqual(0.9);
  }, 120_000);
});
