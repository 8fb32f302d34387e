import * as tf from '@tensorflow/tfjs';
import { createRng } from '@agekit/dataset';
import { maxRelativeDifference } from '@agekit/synth';
import { initBackend } from './backend';
import { batchNormTraining, FusedBatchNormalization, fusedBatchNormalization } from './batch-norm';
import { loadNativeKernels, NATIVE_KERNELS_DISABLE_ENV, type NativeKernels } from './native-addon';

jest.setTimeout(60_000);

const disabled = process.env[NATIVE_KERNELS_DISABLE_ENV] === '1';

function rand(shape: number[], seed: string, mean = 0, std = 1): tf.Tensor {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => mean + std * rng.normal()),
    shape,
  );
}

type Layer = ReturnType<typeof tf.layers.batchNormalization>;

/** A stock tfjs-layers batch norm and the fused one with the same (random, non-trivial) weights. */
function pair(shape: number[], seed: string): { stock: Layer; fused: FusedBatchNormalization } {
  const c = shape[shape.length - 1];
  const options = { axis: -1, momentum: 0.9, epsilon: 1e-3 };
  const stock = tf.layers.batchNormalization(options);
  const fused = fusedBatchNormalization(options);
  stock.build([null, ...shape.slice(1)]);
  fused.build([null, ...shape.slice(1)]);
  const weights = [rand([c], `${seed}g`, 1, 0.3), rand([c], `${seed}b`, 0, 0.5), rand([c], `${seed}m`, 0, 0.2), tf.abs(rand([c], `${seed}v`, 1, 0.3))];
  stock.setWeights(weights);
  fused.setWeights(weights);
  tf.dispose(weights);
  return { stock, fused };
}

function data(t: unknown): Float32Array {
  return ((Array.isArray(t) ? t[0] : t) as tf.Tensor).dataSync() as Float32Array;
}

/** Gradients of sum(layer(x) * w) wrt x, gamma, beta in training mode (also one moving-average update). */
function gradients(layer: Layer, x: tf.Tensor, w: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const f = (input: tf.Tensor): tf.Scalar => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w));
    const dx = tf.grad(f)(x);
    const { grads } = tf.variableGrads(() => f(x), [gamma, beta]);
    return [dx, grads[gamma.name], grads[beta.name]].map((t) => t.dataSync() as Float32Array);
  });
}

const SHAPES: { name: string; shape: number[] }[] = [
  { name: 'batch 3, 7 channels', shape: [3, 5, 4, 7] },
  { name: 'batch 1, 5 channels', shape: [1, 3, 3, 5] },
];
/** On wasm also a tensor large enough for the native loops' threaded paths (cpu is too slow for it). */
const LARGE = { name: 'batch 4, 33 channels, 76k values', shape: [4, 24, 24, 33] };

describe.each(['cpu', 'wasm'] as const)('fused batch norm vs tf.layers.batchNormalization on %s', (backend) => {
  let native: NativeKernels | undefined;

  beforeAll(async () => {
    native = loadNativeKernels();
    await initBackend({ backend });
  });

  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(backend === 'wasm' ? [...SHAPES, LARGE] : SHAPES)('$name: outputs, gradients and moving statistics match', ({ shape }) => {
    const { stock, fused } = pair(shape, `${backend}${shape.join('x')}`);
    const before = native?.callCounts();
    const tensorsBefore = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) {
      const x = rand(shape, `x${step}`, 2, 1.5);
      const w = rand(shape, `w${step}`);
      const ys = [stock, fused].map((l) => tf.tidy(() => data(l.apply(x, { training: true }))));
      expect(maxRelativeDifference(ys[1], ys[0])).toBeLessThanOrEqual(1e-5);
      const [gs, gf] = [stock, fused].map((l) => gradients(l, x, w));
      ['dx', 'dgamma', 'dbeta'].forEach((name, i) => {
        const d = maxRelativeDifference(gf[i], gs[i]);
        if (!(d <= 1e-5)) throw new Error(`${name}: relative difference ${d}`);
      });
      tf.dispose([x, w]);
    }
    // each layer saw the same 3 steps x 3 training calls
    const [ws, wf] = [stock, fused].map((l) => l.getWeights().map((t) => t.dataSync() as Float32Array));
    expect(maxRelativeDifference(wf[2], ws[2])).toBeLessThanOrEqual(1e-6);
    expect(maxRelativeDifference(wf[3], ws[3])).toBeLessThanOrEqual(1e-6);
    // inference uses the moving statistics
    const x = rand(shape, 'inference', 2, 1.5);
    const ys = [stock, fused].map((l) => tf.tidy(() => data(l.apply(x, { training: false }))));
    expect(maxRelativeDifference(ys[1], ys[0])).toBeLessThanOrEqual(1e-5);
    x.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    if (backend === 'wasm' && !disabled) {
      const after = native?.callCounts();
      expect(after?.batchNormTrain).toBeGreaterThan(before?.batchNormTrain ?? Infinity);
      expect(after?.batchNormTrainGrad).toBeGreaterThan(before?.batchNormTrainGrad ?? Infinity);
    }
  });

  it('batchNormTraining gives the mean and biased variance of tf.moments', () => {
    const x = rand([2, 6, 6, 9], 'stats', -3, 0.01);
    const { y, mean, variance } = batchNormTraining(x, tf.ones([9]) as tf.Tensor1D, tf.zeros([9]) as tf.Tensor1D, 1e-3);
    const ref = tf.moments(x, [0, 1, 2]);
    expect(maxRelativeDifference(mean.dataSync() as Float32Array, ref.mean.dataSync() as Float32Array)).toBeLessThanOrEqual(1e-6);
    expect(maxRelativeDifference(variance.dataSync() as Float32Array, ref.variance.dataSync() as Float32Array)).toBeLessThanOrEqual(1e-4);
    const refY = tf.batchNorm(x, ref.mean, ref.variance, undefined, undefined, 1e-3);
    expect(maxRelativeDifference(y.dataSync() as Float32Array, refY.dataSync() as Float32Array)).toBeLessThanOrEqual(1e-4);
    tf.dispose([x, y, mean, variance, ref.mean, ref.variance, refY]);
  });

  it('an SGD step of a conv + batch norm model lands on the same weights', () => {
    const make = (bn: () => tf.layers.Layer): tf.LayersModel => {
      const input = tf.input({ shape: [6, 6, 3] });
      const conv = tf.layers.conv2d({ filters: 5, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotNormal({ seed: 4 }) }).apply(input) as tf.SymbolicTensor;
      const out = tf.layers.globalAveragePooling2d({}).apply(bn().apply(conv) as tf.SymbolicTensor) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    const models = [make(() => tf.layers.batchNormalization({ axis: -1 })), make(() => fusedBatchNormalization({ axis: -1 }))];
    models[1].setWeights(models[0].getWeights());
    const x = rand([3, 6, 6, 3], 'sgd-x');
    const target = rand([3, 5], 'sgd-t');
    for (const model of models) {
      const optimizer = tf.train.sgd(0.5);
      for (let step = 0; step < 2; step++) {
        optimizer.minimize(() => tf.losses.meanSquaredError(target, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      }
      optimizer.dispose();
    }
    const [a, b] = models.map((m) => m.getWeights().map((t) => t.dataSync() as Float32Array));
    a.forEach((w, i) => expect(maxRelativeDifference(b[i], w)).toBeLessThanOrEqual(1e-5));
    tf.dispose([x, target]);
    models.forEach((m) => m.dispose());
  });
});
