/**
 * A/B in one process: the 1x1 filter gradient as a matrix product (what agekit registers) vs the general
 * convolution form (transposed input convolved with the transposed output gradient), on SqueezeNet-sized tensors.
 *
 *   npx tsx tools/bench/train/filter-grad-ab.ts
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGradient, initBackend } from '@agekit/runtime';

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm' });
  const viaConv = (x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor =>
    tf.tidy(() => tf.conv2d(x.transpose([3, 1, 2, 0]) as tf.Tensor4D, dy.transpose([1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid').transpose([1, 2, 0, 3]));
  for (const [ci, co] of [
    [64, 16],
    [16, 64],
    [128, 32],
    [32, 128],
  ]) {
    const x = tf.randomNormal([32, 31, 31, ci]) as tf.Tensor4D;
    const dy = tf.randomNormal([32, 31, 31, co]) as tf.Tensor4D;
    const t = { conv: 0, matmul: 0 };
    for (let rep = 0; rep < 3; rep++) {
      let start = performance.now();
      let r = viaConv(x, dy);
      r.dataSync();
      r.dispose();
      t.conv += performance.now() - start;
      start = performance.now();
      r = conv2dFilterGradient(x, dy, [1, 1, ci, co], 1, 'same');
      r.dataSync();
      r.dispose();
      t.matmul += performance.now() - start;
    }
    console.log(`1x1 filter gradient, 32x31x31, ${ci}->${co}: convolution form ${(t.conv / 3).toFixed(1)} ms, matrix product ${(t.matmul / 3).toFixed(1)} ms`);
    tf.dispose([x, dy]);
  }
}

void main();
