/**
 * A/B in one process: wasm's native MaxPoolGrad vs agekit's JavaScript-loop kernel, on SqueezeNet-at-128px pool inputs.
 *
 *   npx tsx tools/bench/train/maxpool-ab.ts
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@agekit/runtime';

async function main(): Promise<void> {
  const native = tf.getKernel('MaxPoolGrad', 'wasm');
  if (!native) throw new Error('wasm has no MaxPoolGrad');
  await initBackend({ backend: 'wasm' });
  const ours = tf.getKernel('MaxPoolGrad', 'wasm');
  if (!ours) throw new Error('MaxPoolGrad not registered');
  for (const shape of [
    [32, 63, 63, 64],
    [32, 31, 31, 128],
    [32, 15, 15, 256],
  ] as [number, number, number, number][]) {
    const x = tf.relu(tf.randomNormal(shape)) as tf.Tensor4D;
    const y = tf.maxPool(x, 3, 2, 'valid');
    const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
    const t = { native: 0, ours: 0 };
    for (let rep = 0; rep < 3; rep++) {
      for (const which of ['native', 'ours'] as const) {
        tf.unregisterKernel('MaxPoolGrad', 'wasm');
        tf.registerKernel(which === 'native' ? native : ours);
        const start = performance.now();
        const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 3, strides: 2, pad: 'valid' }) as tf.Tensor;
        dx.dataSync();
        t[which] += performance.now() - start;
        dx.dispose();
      }
    }
    console.log(`MaxPoolGrad 3x3/2 on ${shape.join('x')}: native ${(t.native / 3).toFixed(1)} ms, JS loop ${(t.ours / 3).toFixed(1)} ms`);
    tf.dispose([x, y, dy]);
  }
}

void main();
