/**
 * Per-kernel time of one SqueezeNet training step (batch 32) on a tfjs backend, to find slow gradient kernels.
 * Nested kernels (those a composed kernel runs) are counted both on their own and inside their parent.
 * --detail lists, for the named kernels, the time per input-shape signature (to tell which op or gradient issued them).
 * --fast-paths off profiles with agekit's training fast paths off (tfjs's own gradients and wasm kernels; missing kernels stay).
 * --native on|off: agekit's native oneDNN kernels on wasm (default on when built); --threads N: their OpenMP threads;
 * --primitives lists the oneDNN primitives the step created (implementation, calls).
 *
 *   npx tsx tools/bench/train/profile.ts [--size 128] [--backend wasm] [--architecture squeezenet] [--no-batch-norm]
 *       [--detail Tile,Sum] [--top 15] [--fast-paths on|off] [--native on|off] [--threads N] [--primitives] [--adam native|tfjs]
 */
import { parseArgs } from 'node:util';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { buildModel, type ArchitectureName } from '@agekit/model';
import { createAdam, initBackend, loadNativeKernels, setWasmTrainingFastPaths, type BackendChoice } from '@agekit/runtime';

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
      'fast-paths': { type: 'string', default: 'on' },
      native: { type: 'string', default: 'on' },
      threads: { type: 'string' },
      primitives: { type: 'boolean', default: false },
      adam: { type: 'string', default: 'native' },
    },
  });
  if (values.adam !== 'tfjs' && values.adam !== 'native') throw new Error(`--adam tfjs|native (got '${values.adam}')`);
  for (const flag of ['fast-paths', 'native'] as const) {
    if (values[flag] !== 'on' && values[flag] !== 'off') throw new Error(`--${flag} on|off (got '${values[flag]}')`);
  }
  const size = Number(values.size);
  const batchNorm = !values['no-batch-norm'];
  const info = await initBackend({
    backend: values.backend as BackendChoice,
    nativeKernels: values.native === 'on',
    nativeThreads: values.threads === undefined ? undefined : Number(values.threads),
  });
  if (values.native === 'on' && !info.native && info.name === 'wasm') throw new Error(`--native on: ${info.nativeUnavailable ?? 'the native kernels are not available'}`);
  if (values['fast-paths'] === 'off') setWasmTrainingFastPaths(false);
  const model = buildModel({ architecture: values.architecture as ArchitectureName, size, channels: 3, classes: 31, head: 'classification', batchNorm });
  const optimizer = values.adam === 'tfjs' ? tf.train.adam(1e-3) : createAdam(1e-3);
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
    `${info.name}, ${values.architecture}${batchNorm ? ' with batch norm' : ' without batch norm'}${values['fast-paths'] === 'off' ? ' (fast paths off)' : ''} ${size}px batch 32 on ${info.reason}: ` +
      `step ${total.toFixed(0)} ms (profiled); load ${os.loadavg()[0].toFixed(2)}`,
  );
  for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${name.padEnd(36)} ${ms.toFixed(0).padStart(7)} ms  x${count.get(name)}`);
  }
  if (values.primitives) {
    console.log('\noneDNN primitives (kind input -> output filter/stride pads: implementation, calls):');
    for (const p of loadNativeKernels()?.primitives() ?? []) {
      console.log(
        `  ${p.kind.padEnd(16)} [${p.input.join(',')}] -> [${p.output.join(',')}] ${p.filter.join('x')}/${p.strides[0]} pads ${p.pads.join(',')}` +
          `${p.bias ? ' +bias' : ''}${p.relu ? ' +relu' : ''}: ${p.implementation}${p.weightsReordered ? ' (weights reordered)' : ''}, ${p.threads} thr, x${p.calls}`,
      );
    }
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
