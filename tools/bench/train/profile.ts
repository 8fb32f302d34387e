/**
 * Per-kernel time of one SqueezeNet training step (batch 32) on a tfjs backend, to find slow gradient kernels.
 * Nested kernels (those a composed kernel runs) are counted both on their own and inside their parent.
 * --detail lists, for the named kernels, the time per input-shape signature (to tell which op or gradient issued them).
 * --native profiles with agekit's training fast paths off (tfjs's own gradients and wasm kernels; missing kernels stay).
 *
 *   npx tsx tools/bench/train/profile.ts [--size 128] [--backend wasm] [--architecture squeezenet] [--no-batch-norm]
 *       [--detail Tile,Sum] [--top 15] [--native]
 */
import { parseArgs } from 'node:util';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { buildModel, initBackend, setWasmTrainingFastPaths, type ArchitectureName, type BackendChoice } from '@agekit/model';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      size: { type: 'string', default: '128' },
      backend: { type: 'string', default: 'wasm' },
      architecture: { type: 'string', default: 'squeezenet' },
      'batch-norm': { type: 'boolean', default: true },
      'no-batch-norm': { type: 'boolean', default: false },
      detail: { type: 'string', default: '' },
      top: { type: 'string', default: '15' },
      native: { type: 'boolean', default: false },
    },
  });
  const size = Number(values.size);
  const batchNorm = !values['no-batch-norm'];
  const info = await initBackend({ backend: values.backend as BackendChoice });
  if (values.native) setWasmTrainingFastPaths(false);
  const model = buildModel({ architecture: values.architecture as ArchitectureName, size, channels: 3, classes: 31, head: 'classification', batchNorm });
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
  const count = new Map<string, number>();
  for (const k of profile.kernels) {
    byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + Number(k.kernelTimeMs));
    count.set(k.name, (count.get(k.name) ?? 0) + 1);
  }
  console.log(
    `${info.name}, ${values.architecture}${batchNorm ? ' with batch norm' : ' without batch norm'}${values.native ? ' (fast paths off)' : ''} ${size}px batch 32: ` +
      `step ${total.toFixed(0)} ms (profiled); load ${os.loadavg()[0].toFixed(2)}`,
  );
  for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${name.padEnd(36)} ${ms.toFixed(0).padStart(7)} ms  x${count.get(name)}`);
  }
  for (const name of String(values.detail).split(',').filter(Boolean)) {
    const bySignature = new Map<string, { ms: number; n: number }>();
    for (const k of profile.kernels.filter((kk) => kk.name === name)) {
      const signature = `${k.inputShapes.map((s) => `[${(s ?? []).join(',')}]`).join(' ')} -> ${k.outputShapes.map((s) => `[${(s ?? []).join(',')}]`).join(' ')}`;
      const entry = bySignature.get(signature) ?? { ms: 0, n: 0 };
      entry.ms += Number(k.kernelTimeMs);
      entry.n += 1;
      bySignature.set(signature, entry);
    }
    console.log(`\n${name} by shape:`);
    for (const [signature, e] of [...bySignature].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
      console.log(`  ${e.ms.toFixed(0).padStart(6)} ms x${String(e.n).padEnd(3)} ${signature}`);
    }
  }
}

void main();
