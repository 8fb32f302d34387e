import * as tf from '@tensorflow/tfjs';
import { maxRelativeDifference } from '@agekit/synth';
import { initBackend } from './backend';
import { createRng } from '@agekit/dataset';


function randomArray(n: number, seed: string): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

type Grads = { dx: Float32Array; dw: Float32Array };

/** Gradients of sum(r * conv(x, w)) for x and w on the active backend. */
function convGrads(
  depthwise: boolean,
  xShape: [number, number, number, number],
  wShape: [number, number, number, number],
  stride: number,
  pad: 'same' | 'valid',
  seed: string,
): Grads {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(xShape.reduce((a, b) => a * b), seed + 'x'), xShape);
    const w = tf.tensor4d(randomArray(wShape.reduce((a, b) => a * b), seed + 'w'), wShape);
    const forward = (xx: tf.Tensor4D, ww: tf.Tensor4D): tf.Tensor4D =>
      depthwise ? tf.depthwiseConv2d(xx, ww, stride, pad) : tf.conv2d(xx, ww, stride, pad);
    const outShape = forward(x, w).shape;
    const r = tf.tensor(randomArray(outShape.reduce((a, b) => a * b), seed + 'r'), outShape);
    const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => forward(xx as tf.Tensor4D, ww as tf.Tensor4D).mul(r).sum())([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

const cases: { name: string; depthwise: boolean; x: [number, number, number, number]; w: [number, number, number, number] }[] = [
  { name: 'conv 3x3', depthwise: false, x: [2, 7, 8, 3], w: [3, 3, 3, 4] },
  { name: 'conv 1x1', depthwise: false, x: [2, 6, 5, 4], w: [1, 1, 4, 3] },
  { name: 'conv 2x4', depthwise: false, x: [3, 8, 9, 2], w: [2, 4, 2, 5] },
  { name: 'depthwise 3x3 x1', depthwise: true, x: [2, 7, 8, 3], w: [3, 3, 3, 1] },
  { name: 'depthwise 3x3 x2', depthwise: true, x: [2, 8, 7, 2], w: [3, 3, 2, 2] },
];

describe('composed gradient kernels on wasm vs the cpu backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const c of cases) {
    for (const stride of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        it(`${c.name}, stride ${stride}, ${pad}: dx and dw within 1e-4`, async () => {
          await initBackend({ backend: 'cpu' });
          const reference = convGrads(c.depthwise, c.x, c.w, stride, pad, c.name);
          const info = await initBackend({ backend: 'wasm' });
          expect(info.name).toBe('wasm');
          const before = tf.memory().numTensors;
          const composed = convGrads(c.depthwise, c.x, c.w, stride, pad, c.name);
          expect(tf.memory().numTensors).toBe(before);
          expect(maxRelativeDifference(composed.dw, reference.dw)).toBeLessThanOrEqual(1e-4);
          expect(maxRelativeDifference(composed.dx, reference.dx)).toBeLessThanOrEqual(1e-4);
        });
      }
    }
  }

  for (const [window, stride, pad] of [
    [3, 2, 'valid'],
    [3, 2, 'same'],
    [2, 2, 'valid'],
    [3, 1, 'same'],
    [2, 1, 'valid'],
  ] as const) {
    it(`max-pool ${window}x${window}, stride ${stride}, ${pad}: dx within 1e-4 (including ties after ReLU)`, async () => {
      const run = (): Float32Array =>
        tf.tidy(() => {
          // ReLU makes all-zero windows: ties must go to the first position, as on cpu
          const x = tf.relu(tf.tensor4d(randomArray(2 * 9 * 8 * 3, `pool${window}${stride}${pad}`), [2, 9, 8, 3]).sub(0.8));
          const outShape = tf.maxPool(x as tf.Tensor4D, window, stride, pad).shape;
          const r = tf.tensor(randomArray(outShape.reduce((a, b) => a * b), 'r'), outShape);
          return tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, window, stride, pad).mul(r).sum())(x).dataSync() as Float32Array;
        });
      await initBackend({ backend: 'cpu' });
      const reference = run();
      await initBackend({ backend: 'wasm' });
      const before = tf.memory().numTensors;
      const composed = run();
      expect(tf.memory().numTensors).toBe(before);
      expect(maxRelativeDifference(composed, reference)).toBeLessThanOrEqual(1e-4);
    });
  }

  it('registers the missing kernels on wasm and says so', async () => {
    const info = await initBackend({ backend: 'wasm' });
    for (const name of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum', 'MaxPoolGrad', 'BatchMatMul']) {
      expect(info.composedKernels).toContain(name);
      expect(tf.getKernel(name, 'wasm')).toBeDefined();
    }
  });

  it('matMul gradients (transposed BatchMatMul) and gather gradients (UnsortedSegmentSum) match cpu', async () => {
    const run = (): Float32Array[] =>
      tf.tidy(() => {
        const a = tf.tensor2d(randomArray(6 * 5, 'a'), [6, 5]);
        const b = tf.tensor2d(randomArray(5 * 4, 'b'), [5, 4]);
        const table = tf.tensor2d(randomArray(7 * 3, 't'), [7, 3]);
        const idx = tf.tensor1d([0, 3, 3, 6, 1], 'int32');
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D).square().sum())([a, b]);
        const gt = tf.grad((t: tf.Tensor) => tf.gather(t, idx).mul(tf.range(0, 15).reshape([5, 3])).sum())(table);
        return [ga, gb, gt].map((g) => g.dataSync() as Float32Array);
      });
    await initBackend({ backend: 'cpu' });
    const reference = run();
    await initBackend({ backend: 'wasm' });
    const composed = run();
    reference.forEach((r, i) => expect(maxRelativeDifference(composed[i], r)).toBeLessThanOrEqual(1e-4));
  });
});
