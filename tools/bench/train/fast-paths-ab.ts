/**
 * Before/after in one process: SqueezeNet training steps (batch 32, Adam, cross-entropy) on wasm with agekit's
 * training fast paths off (tfjs's own Tile/Identity/Cast/Sum/Mean kernels and FusedBatchNorm/Mean gradients, the
 * previous conv-gradient choices) and on, alternating step by step so machine load hits both alike.
 * Prints the median step time and images/second of each and the speed-up, with and without batch norm.
 *
 *   npx tsx tools/bench/train/fast-paths-ab.ts [--sizes 64,128] [--steps 4] [--batch-norm both|on|off]
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '@agekit/model';
import { initBackend, setWasmTrainingFastPaths } from '@agekit/runtime';
import { median } from '../statistics';

function measure(size: number, batchNorm: boolean, steps: number, batch: number): { off: number; on: number } {
  const model = buildModel({ architecture: 'squeezenet', size, channels: 3, classes: 31, head: 'classification', seed: 0, batchNorm });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 31, 'int32', 2) as tf.Tensor1D, 31).cast('float32');
  const step = (): number => {
    const started = performance.now();
    const loss = optimizer.minimize(() => {
      const p = model.apply(x, { training: true }) as tf.Tensor2D;
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, 1e-7, 1))), 1))) as tf.Scalar;
    }, true);
    loss?.dataSync();
    loss?.dispose();
    return performance.now() - started;
  };
  const times = { off: [] as number[], on: [] as number[] };
  for (const mode of ['off', 'on'] as const) {
    setWasmTrainingFastPaths(mode === 'on');
    step(); // warm-up of each mode
  }
  for (let i = 0; i < steps; i++) {
    for (const mode of i % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      setWasmTrainingFastPaths(mode === 'on');
      times[mode].push(step());
    }
  }
  setWasmTrainingFastPaths(true);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { off: median(times.off), on: median(times.on) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sizes: { type: 'string', default: '64,128' }, steps: { type: 'string', default: '4' }, batch: { type: 'string', default: '32' }, 'batch-norm': { type: 'string', default: 'both' } },
  });
  const batch = Number(values.batch);
  const info = await initBackend({ backend: 'wasm' });
  if (info.name !== 'wasm') throw new Error(`wasm backend unavailable: ${info.reason}`);
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  const bnModes = values['batch-norm'] === 'both' ? [true, false] : [values['batch-norm'] !== 'off'];
  for (const size of String(values.sizes).split(',').map(Number)) {
    for (const bn of bnModes) {
      const r = measure(size, bn, Number(values.steps), batch);
      const ips = (ms: number): string => ((batch * 1000) / ms).toFixed(2);
      console.log(
        `squeezenet ${size}px batch ${batch} ${bn ? 'with' : 'without'} batch norm: fast paths off ${r.off.toFixed(0)} ms/step (${ips(r.off)} img/s), ` +
          `on ${r.on.toFixed(0)} ms/step (${ips(r.on)} img/s): ${(r.off / r.on).toFixed(2)}x`,
      );
    }
  }
  console.log(`load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

void main();
