/**
 * Per-kernel time of one SqueezeNet training step (batch 32) on a tfjs backend, to find slow gradient kernels.
 * Nested kernels (those a composed kernel runs) are counted both on their own and inside their parent.
 *
 *   npx tsx tools/bench/train/profile.ts [--size 128] [--backend wasm] [--architecture squeezenet]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { buildModel, initBackend, type ArchitectureName, type BackendChoice } from '@agekit/model';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { size: { type: 'string', default: '128' }, backend: { type: 'string', default: 'wasm' }, architecture: { type: 'string', default: 'squeezenet' } },
  });
  const size = Number(values.size);
  const info = await initBackend({ backend: values.backend as BackendChoice });
  const model = buildModel({ architecture: values.architecture as ArchitectureName, size, channels: 3, classes: 31, head: 'classification' });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomNormal([32, size, size, 3]);
  const y = tf.oneHot(tf.randomUniform([32], 0, 31, 'int32') as tf.Tensor1D, 31).cast('float32');
  const step = (): void => {
    const loss = optimizer.minimize(() => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(model.apply(x, { training: true }) as tf.Tensor, 1e-7, 1))), 1))) as tf.Scalar, true);
    loss?.dataSync();
    loss?.dispose();
  };
  step();
  const started = performance.now();
  const profile = await tf.profile(() => step());
  const total = performance.now() - started;
  const byKernel = new Map<string, number>();
  for (const k of profile.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
  console.log(`${info.name}, ${values.architecture} ${size}px batch 32: step ${total.toFixed(0)} ms (profiled)`);
  for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${name.padEnd(36)} ${ms.toFixed(0).padStart(7)} ms`);
}

void main();
