/**
 * Training-speed benchmark: SqueezeNet 1.1 (31 classes), batch 32, Adam + cross-entropy, in tfjs on the chosen backend
 * vs the PyTorch reference (../shared/reference/train_torch.py) run in the same invocation; prints images/second
 * and the ratio tfjs / torch per input size.
 *
 *   npx tsx tools/bench/train/main.ts [--sizes 64,128] [--steps 4] [--backend wasm] [--workers 1,2] [--torch-threads N] [--no-torch] [--no-simd] [--no-batch-norm]
 *       [--native on|off] [--native-threads N] [--repeat R] [--adam native|tfjs]
 *
 * The reference is torchvision's SqueezeNet 1.1 (no batch norm); --no-batch-norm benchmarks the same network.
 * --workers lists thread counts to measure (synchronous data parallelism, @agekit/model's GradientWorkers): each
 * step splits the batch over this thread and N - 1 worker threads, averages the gradients and applies them here.
 * CPU-ms/img is the process's CPU time (all threads) per trained image: on a loaded machine wall-clock speed-ups
 * mean little, while the CPU cost of an image with N threads vs 1 shows the parallel overhead. "busiest-thread CPU
 * bound" is images / the sum over steps of the busiest thread's CPU time (Linux /proc/thread-self): the speed to
 * expect when every thread has a core of its own (it leaves out waiting for messages).
 * --native on|off: agekit's native oneDNN kernels on wasm (default on; fails when asked for and not built). Their OpenMP
 * threads: --native-threads N per training thread (default: the cores / training threads, at least 1).
 * Note: "busiest-thread CPU" counts only the calling thread, not oneDNN's OpenMP helper threads.
 * --adam: the optimizer, @agekit/runtime's createAdam (default; one native kernel per variable when the native kernels
 * are on) or tf.train.adam (same arithmetic, ~14 kernels per variable).
 * --repeat R runs R rounds per size (every thread count, then torch) and ends with the best round of each: on a shared
 * machine the fastest round is the least disturbed, for tfjs and for torch.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { sharedPath } from '../shared-paths';
import {
  buildModel,
  countParameters,
  createLoss,
  DataParallelStep,
  GradientWorkers,
  threadCpuMs,
  type ArchitectureOptions,
  type LossSpec,
} from '@agekit/model';
import {
  createAdam,
  initBackend,
  loadNativeKernels,
  nativeKernelsEnabled,
  type BackendChoice,
  type BackendName,
} from '@agekit/runtime';

const REFERENCE = process.env.AGEKIT_TORCH_REFERENCE ?? sharedPath('reference', 'train_torch.py');
const PYTHON = process.env.AGEKIT_PYTHON ?? '/usr/bin/python3';

async function tfjsImagesPerSecond(
  size: number,
  batch: number,
  steps: number,
  batchNorm: boolean,
  workers: number,
  backend: BackendName,
  nativeThreads: number | undefined,
  adam: 'tfjs' | 'native',
): Promise<{ trainImagesPerSecond: number; cpuSecondsPerImage: number; dedicatedImagesPerSecond: number; parameters: number; nativeThreads: number | undefined }> {
  const architecture: ArchitectureOptions = { architecture: 'squeezenet', size, channels: 3, classes: 31, head: 'classification', seed: 0, batchNorm };
  const lossSpec: LossSpec = { classification: true, classes: 31, regressionLoss: 'l1', l2: 0 };
  const model = buildModel(architecture);
  const loss = createLoss(model, lossSpec);
  const optimizer = adam === 'tfjs' ? tf.train.adam(1e-3) : createAdam(1e-3);
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.randomUniform([batch], 0, 31, 'int32', 2) as tf.Tensor1D;
  const xs = x.dataSync() as Float32Array;
  const targets = Array.from(y.dataSync());
  const pool =
    workers > 1
      ? await GradientWorkers.start({ count: workers - 1, backend, wasmSimd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), model: architecture, loss: lossSpec, nativeThreads })
      : undefined;
  const native = loadNativeKernels();
  const previousThreads = native?.getThreads();
  if (native && !pool) native.setThreads(nativeThreads ?? os.cpus().length);
  const threadsUsed = pool ? pool.nativeThreads : native && nativeKernelsEnabled() ? native.getThreads() : undefined;
  try {
    const parallel = pool ? new DataParallelStep(model, loss, pool, { classification: true, size, channels: 3 }) : undefined;
    let n = 0;
    // per step, the CPU time of the busiest thread: about the step's time when every thread has a core of its own
    let busiestMs = 0;
    const step = async (): Promise<void> => {
      if (parallel) {
        await parallel.run(optimizer, { x: xs, targets, dropoutSeed: (shard) => n * 16 + shard, step: n++ });
        busiestMs += Math.max(parallel.lastCpu.main, ...parallel.lastCpu.workers);
        return;
      }
      const cpu = threadCpuMs();
      const value = optimizer.minimize(() => loss(x, y), true);
      value?.dataSync();
      value?.dispose();
      busiestMs += threadCpuMs() - cpu;
    };
    await step(); // warm-up, as the reference does
    busiestMs = 0;
    const cpu = process.cpuUsage(); // the whole process: this thread and the worker threads
    const started = performance.now();
    for (let i = 0; i < steps; i++) await step();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    return {
      trainImagesPerSecond: (steps * batch) / seconds,
      cpuSecondsPerImage: (used.user + used.system) / 1e6 / (steps * batch),
      dedicatedImagesPerSecond: (steps * batch) / (busiestMs / 1000),
      parameters: countParameters(model),
      nativeThreads: threadsUsed,
    };
  } finally {
    if (native && previousThreads !== undefined) native.setThreads(previousThreads);
    await pool?.close();
    tf.dispose([x, y]);
    loss.dispose();
    optimizer.dispose();
    model.dispose();
  }
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
      workers: { type: 'string', default: '1' },
      native: { type: 'string', default: 'on' },
      'native-threads': { type: 'string' },
      repeat: { type: 'string', default: '1' },
      adam: { type: 'string', default: 'native' },
    },
  });
  if (values.adam !== 'tfjs' && values.adam !== 'native') throw new Error(`--adam tfjs|native (got '${values.adam}')`);
  const adam = values.adam;
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: a whole number >= 1 (got '${values.repeat}')`);
  if (values.native !== 'on' && values.native !== 'off') throw new Error(`--native on|off (got '${values.native}')`);
  const nativeThreads = values['native-threads'] === undefined ? undefined : Number(values['native-threads']);
  const sizes = String(values.sizes).split(',').map(Number);
  const steps = Number(values.steps);
  const batch = Number(values.batch);
  const workerCounts = String(values.workers).split(',').map(Number);
  if (workerCounts.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`--workers: a comma-separated list of whole numbers >= 1 (got '${values.workers}')`);
  const info = await initBackend({ backend: values.backend as BackendChoice, wasmSimd: !values['no-simd'], nativeKernels: values.native === 'on' });
  if (values.native === 'on' && info.name === 'wasm' && !info.native) throw new Error(`--native on: ${info.nativeUnavailable ?? 'the native kernels are not available'}`);
  console.log(`tfjs backend: ${info.name} (${info.reason}); composed kernels: ${info.composedKernels.join(', ') || 'none'}`);
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  for (const size of sizes) {
    // best of --repeat rounds (each: every thread count, then torch): on a shared machine the fastest round is the
    // least disturbed one, for tfjs and torch alike
    const best: number[] = workerCounts.map(() => 0);
    let bestTorch = 0;
    for (let round = 0; round < repeat; round++) {
      const lines: string[] = [];
      const ours: number[] = [];
      const cpuPerImage: number[] = [];
      const dedicated: number[] = [];
      for (const workers of workerCounts) {
        const r = await tfjsImagesPerSecond(size, batch, steps, !values['no-batch-norm'], workers, info.name, nativeThreads, adam);
        ours.push(r.trainImagesPerSecond);
        cpuPerImage.push(r.cpuSecondsPerImage);
        dedicated.push(r.dedicatedImagesPerSecond);
        lines.push(
          `squeezenet1.1 ${size}px batch ${batch}${values['no-batch-norm'] ? ' (no batch norm)' : ''}: tfjs-${info.name} ${workers} thread${workers === 1 ? '' : 's'}` +
            `${r.nativeThreads !== undefined ? ` x ${r.nativeThreads} oneDNN` : ''} ` +
            `${r.trainImagesPerSecond.toFixed(2)} img/s, ${(r.cpuSecondsPerImage * 1000).toFixed(1)} CPU-ms/img (${r.parameters.toLocaleString('en-US')} params)` +
            (workers !== workerCounts[0]
              ? ` | ${(r.trainImagesPerSecond / ours[0]).toFixed(2)}x ${workerCounts[0]} thread${workerCounts[0] === 1 ? '' : 's'}, CPU per image ${(r.cpuSecondsPerImage / cpuPerImage[0]).toFixed(2)}x`
              : '') +
            ` | busiest-thread CPU bound ${r.dedicatedImagesPerSecond.toFixed(2)} img/s` +
            (workers !== workerCounts[0] ? ` (${(r.dedicatedImagesPerSecond / dedicated[0]).toFixed(2)}x)` : ''),
        );
      }
      ours.forEach((v, i) => (best[i] = Math.max(best[i], v)));
      if (!values['no-torch']) {
        const ref = torchImagesPerSecond(size, batch, steps, Number(values['torch-threads']));
        if ('error' in ref) lines.push(`torch: ${ref.error}`);
        else {
          bestTorch = Math.max(bestTorch, ref.trainImagesPerSecond);
          lines.push(`torch (${values['torch-threads']} threads) ${ref.trainImagesPerSecond.toFixed(2)} img/s`);
          workerCounts.forEach((w, i) => lines.push(`ratio tfjs ${w} thread${w === 1 ? '' : 's'} / torch: ${(ours[i] / ref.trainImagesPerSecond).toFixed(2)}x`));
        }
      }
      if (repeat > 1) lines.unshift(`round ${round + 1}/${repeat} (load ${os.loadavg()[0].toFixed(2)}):`);
      for (const line of lines) console.log(line);
    }
    if (repeat > 1) {
      const parts = workerCounts.map((w, i) => `tfjs ${w} thread${w === 1 ? '' : 's'} ${best[i].toFixed(2)} img/s${bestTorch > 0 ? ` (${(best[i] / bestTorch).toFixed(2)}x torch)` : ''}`);
      console.log(`best of ${repeat} at ${size}px${values['no-batch-norm'] ? ' (no batch norm)' : ''}: ${parts.join(', ')}${bestTorch > 0 ? `; torch ${bestTorch.toFixed(2)} img/s` : ''}`);
    }
  }
  console.log(`load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
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
