/**
 * Training-speed benchmark: SqueezeNet 1.1 (31 classes), batch 32, Adam + cross-entropy, in tfjs on the chosen backend
 * vs the PyTorch reference (/work/shared/reference/train_torch.py) run in the same invocation; prints images/second
 * and the ratio tfjs / torch per input size.
 *
 *   npx tsx tools/bench/train/main.ts [--sizes 64,128] [--steps 4] [--backend wasm] [--torch-threads N] [--no-torch] [--no-simd] [--no-batch-norm]
 *
 * The reference is torchvision's SqueezeNet 1.1 (no batch norm); --no-batch-norm benchmarks the same network.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { buildModel, countParameters, initBackend, type BackendChoice } from '@agekit/model';

const REFERENCE = process.env.AGEKIT_TORCH_REFERENCE ?? '/work/shared/reference/train_torch.py';
const PYTHON = process.env.AGEKIT_PYTHON ?? '/usr/bin/python3';

function tfjsImagesPerSecond(size: number, batch: number, steps: number, batchNorm: boolean): { trainImagesPerSecond: number; parameters: number } {
  const model = buildModel({ architecture: 'squeezenet', size, channels: 3, classes: 31, head: 'classification', seed: 0, batchNorm });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 31, 'int32', 2) as tf.Tensor1D, 31).cast('float32');
  const step = (): void => {
    const loss = optimizer.minimize(() => {
      const p = model.apply(x, { training: true }) as tf.Tensor2D;
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, 1e-7, 1))), 1))) as tf.Scalar;
    }, true);
    loss?.dataSync();
    loss?.dispose();
  };
  step(); // warm-up, as the reference does
  const started = performance.now();
  for (let i = 0; i < steps; i++) step();
  const seconds = (performance.now() - started) / 1000;
  const parameters = countParameters(model);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { trainImagesPerSecond: (steps * batch) / seconds, parameters };
}

function torchImagesPerSecond(size: number, batch: number, steps: number, threads: number): { trainImagesPerSecond: number; line: string } | { error: string } {
  const run = spawnSync(PYTHON, [REFERENCE, String(size), String(batch), String(steps), String(threads)], { encoding: 'utf8' });
  const line = (run.stdout ?? '').trim().split('\n').pop() ?? '';
  const match = /train_img_per_s=([\d.]+)/.exec(line);
  if (run.status !== 0 || !match) return { error: `${PYTHON} ${REFERENCE} failed (status ${run.status}): ${(run.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  return { trainImagesPerSecond: Number(match[1]), line };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '64,128' },
      steps: { type: 'string', default: '4' },
      batch: { type: 'string', default: '32' },
      backend: { type: 'string', default: 'wasm' },
      'torch-threads': { type: 'string', default: String(os.cpus().length) },
      'no-torch': { type: 'boolean', default: false },
      'no-simd': { type: 'boolean', default: false },
      'no-batch-norm': { type: 'boolean', default: false },
    },
  });
  const sizes = String(values.sizes).split(',').map(Number);
  const steps = Number(values.steps);
  const batch = Number(values.batch);
  const info = await initBackend({ backend: values.backend as BackendChoice, wasmSimd: !values['no-simd'] });
  console.log(`tfjs backend: ${info.name} (${info.reason}); composed kernels: ${info.composedKernels.join(', ') || 'none'}`);
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  for (const size of sizes) {
    const ours = tfjsImagesPerSecond(size, batch, steps, !values['no-batch-norm']);
    let text = `squeezenet1.1 ${size}px batch ${batch}: tfjs-${info.name} ${ours.trainImagesPerSecond.toFixed(2)} img/s (${ours.parameters.toLocaleString('en-US')} params)`;
    if (!values['no-torch']) {
      const ref = torchImagesPerSecond(size, batch, steps, Number(values['torch-threads']));
      text += 'error' in ref ? ` | torch: ${ref.error}` : ` | torch ${ref.trainImagesPerSecond.toFixed(2)} img/s | ratio tfjs/torch ${(ours.trainImagesPerSecond / ref.trainImagesPerSecond).toFixed(2)}x`;
    }
    console.log(text);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
