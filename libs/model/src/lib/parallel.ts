/**
 * Synchronous data parallelism over worker_threads: each step splits the batch into shards; the main thread computes
 * shard 0's gradients while each worker (its own tfjs + backend, the same model) computes one other shard's; the
 * gradients are averaged weighted by shard size (the loss is a mean) and applied by the main thread's optimizer, and
 * the next step's message carries the new weights (all of them, batch-norm moving statistics included: rank 0's
 * buffers win, as in PyTorch DDP). tfjs-backend-wasm is single-threaded in Node, so this is how training uses
 * more than one core.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { resolveWorkerEntry, startWorkerThread, type WorkerEntry } from '@agekit/dataset';
import type { ArchitectureOptions } from './architectures';
import { seedDropout, targetTensor, threadCpuMs, type BoundLoss, type LossSpec } from './parallel-loss';
import type { FromWorker, InitMessage, StepMessage } from './parallel-protocol';
import { loadNativeKernels, nativeKernelsEnabled, type BackendName, type NativeKernels } from '@agekit/runtime';

/** Threads that compute gradients in a training step: a count (1 = the main thread alone) or 'auto'. */
export type WorkerCount = number | 'auto';

/**
 * Resolve a worker count: 'auto' is min(2, available cores) on the wasm and cpu backends (single-threaded in Node)
 * and 1 on tensorflow (libtensorflow already uses every core) or when there is no worker module to start (see
 * `defaultWorkerEntry`); with agekit's native kernels on wasm, each training thread then gives oneDNN cores / threads
 * OpenMP threads (see `nativeAutoWorkers`). Undefined means 1.
 */
export function resolveWorkerCount(requested: WorkerCount | undefined, backend: string): number {
  if (requested === undefined) return 1;
  if (requested === 'auto') {
    if ((backend !== 'wasm' && backend !== 'cpu') || defaultWorkerEntry() === undefined) return 1;
    if (backend === 'wasm' && nativeKernelsEnabled('wasm')) return nativeAutoWorkers();
    return Math.max(1, Math.min(2, availableCores()));
  }
  if (!Number.isInteger(requested) || requested < 1) throw new Error(`workers must be a whole number >= 1 or 'auto' (got ${String(requested)})`);
  return requested;
}

function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * Training threads 'auto' picks on wasm with the native kernels on: one per core (at most 2), each with one oneDNN
 * OpenMP thread (parallel.ts sets it), rather than one training thread whose convolutions use every core. Measured
 * (tools/bench/train/main.ts --workers 1,2 --repeat 3, squeezenet batch 32, best of 3 rounds, load 1.5-2.0 with the
 * benchmark itself): with batch norm (the default) 64 px 171.3 vs 196.3 img/s, 128 px 53.1 vs 67.0; without it
 * 128 px 101.1 vs 109.4, 64 px 354.6 vs 274.4 (the one case one training thread wins).
 */
function nativeAutoWorkers(): number {
  return Math.max(1, Math.min(2, availableCores()));
}

/** Sizes of the shards of a batch of `count` over `workers` threads: as equal as possible, larger first, no empty shard. */
export function shardSizes(count: number, workers: number): number[] {
  const n = Math.max(1, Math.min(workers, count));
  const base = Math.floor(count / n);
  return Array.from({ length: n }, (_, i) => base + (i < count % n ? 1 : 0));
}

/**
 * The module a training thread loads (it exports `runParallelTrainWorker`): `parallel-worker.ts`/`.js` beside this file,
 * or in an esbuild bundle the bundle itself when its entry module re-exports it — @agekit/dataset's one worker
 * mechanism (resolveWorkerEntry). Undefined when there is none.
 */
export function defaultWorkerEntry(): WorkerEntry | undefined {
  return resolveWorkerEntry({ from: __filename, module: 'parallel-worker', start: 'runParallelTrainWorker' });
}

const live = new Set<Worker>();

/** Training worker threads started and not yet exited (for tests and diagnostics). */
export function activeTrainWorkers(): number {
  return live.size;
}

export interface GradientWorkersOptions {
  /** Worker threads to start (the main thread computes one more shard itself). */
  count: number;
  backend: BackendName;
  wasmSimd?: boolean;
  model: ArchitectureOptions;
  loss: LossSpec;
  /** Module the threads load (default `defaultWorkerEntry()`). */
  workerEntry?: WorkerEntry;
  /**
   * wasm with native kernels on (in this thread): their OpenMP threads in each training thread, this one included while
   * the pool is open (default: the available cores / training threads, at least 1).
   */
  nativeThreads?: number;
}

export interface ShardResult {
  loss: number;
  gradients: Float32Array;
  /** CPU time the worker thread spent on the shard (ms; NaN where unknown). */
  cpuMs: number;
}

/** CPU time of the last step in each thread (ms; NaN where unknown): on dedicated cores a step takes about the largest. */
export interface StepCpuTimes {
  main: number;
  workers: number[];
}

interface Pending {
  resolve(result: ShardResult): void;
  reject(error: Error): void;
}

class GradientWorker {
  private pending = new Map<number, Pending>();
  /** The worker's backend sentence, once ready. */
  backend: string | undefined;
  private failure: Error | undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly index: number,
    private readonly worker: Worker,
    init: InitMessage,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        if (!this.failure) this.failure = error;
        reject(this.failure);
        for (const p of this.pending.values()) p.reject(this.failure);
        this.pending.clear();
      };
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          this.backend = message.backend;
          resolve();
        }
        else if (message.type === 'error') fail(new Error(`training worker ${index}: ${message.message}`));
        else {
          const p = this.pending.get(message.step);
          this.pending.delete(message.step);
          p?.resolve({ loss: message.loss, gradients: message.gradients, cpuMs: message.cpuMs });
        }
      });
      worker.on('error', (error: Error) => fail(new Error(`training worker ${index} failed: ${error.message}`)));
      worker.on('exit', (code) => {
        live.delete(worker);
        fail(new Error(`training worker ${index} exited (code ${code})`));
      });
    });
    this.ready.catch(() => undefined); // observed through compute()/start()
    worker.postMessage(init);
  }

  compute(message: StepMessage): Promise<ShardResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<ShardResult>((resolve, reject) => {
      this.pending.set(message.step, { resolve, reject });
      this.worker.postMessage(message, [message.weights.buffer as ArrayBuffer, message.x.buffer as ArrayBuffer]);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
    live.delete(this.worker);
  }
}

/** A set of worker threads that each hold the model and return the gradients of a shard. */
export class GradientWorkers {
  private restoreThreads: (() => void) | undefined;

  private constructor(private readonly workers: GradientWorker[]) {}

  /** OpenMP threads of the native kernels in each training thread (undefined without native kernels). */
  nativeThreads: number | undefined;

  /** Each worker thread's backend sentence (e.g. 'WebAssembly with SIMD + native oneDNN 2.6.3 kernels (1 thread)'). */
  get backends(): (string | undefined)[] {
    return this.workers.map((w) => w.backend);
  }

  get count(): number {
    return this.workers.length;
  }

  /** Start `count` threads and wait until each has its backend and model (terminates them all on any failure). */
  static async start(options: GradientWorkersOptions): Promise<GradientWorkers> {
    const entry = options.workerEntry ?? defaultWorkerEntry();
    if (!entry) {
      throw new Error(
        `data-parallel training needs its worker module: ${path.join(__dirname, 'parallel-worker.js')} is missing (or, from TypeScript, tsx) and the main ` +
          `module does not export runParallelTrainWorker (a bundled app must re-export it from @agekit/model; or train with workers: 1)`,
      );
    }
    const native: NativeKernels | undefined = options.backend === 'wasm' && nativeKernelsEnabled('wasm') ? loadNativeKernels() : undefined;
    const nativeThreads = native ? Math.max(1, Math.floor(options.nativeThreads ?? availableCores() / (options.count + 1))) : undefined;
    const init: InitMessage = {
      type: 'init',
      backend: options.backend,
      wasmSimd: options.wasmSimd ?? true,
      nativeThreads,
      model: options.model,
      loss: options.loss,
    };
    const workers: GradientWorker[] = [];
    for (let i = 0; i < options.count; i++) {
      const worker = startWorkerThread(entry);
      live.add(worker);
      workers.push(new GradientWorker(i + 1, worker, init));
    }
    const pool = new GradientWorkers(workers);
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (error) {
      await pool.close();
      throw error;
    }
    if (native && nativeThreads !== undefined) {
      const previous = native.getThreads();
      native.setThreads(nativeThreads);
      pool.nativeThreads = nativeThreads;
      pool.restoreThreads = () => native.setThreads(previous);
    }
    return pool;
  }

  /** Send shard k (k = 1..count) to worker k; resolves with every shard's result, rejects with the first failure. */
  compute(messages: StepMessage[]): Promise<ShardResult[]> {
    return Promise.all(messages.map((m, i) => this.workers[i].compute(m)));
  }

  /** Terminate every thread (idempotent). */
  async close(): Promise<void> {
    this.restoreThreads?.();
    this.restoreThreads = undefined;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Every weight of the model (trainable and not) packed in `model.weights` order. */
export function packWeights(model: tf.LayersModel): Float32Array {
  const parts = model.weights.map((w) => w.read().dataSync() as Float32Array);
  const packed = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    packed.set(p, offset);
    offset += p.length;
  }
  return packed;
}

export interface ParallelStepInput {
  /** Normalised images of the whole batch, [count, size, size, channels] flattened. */
  x: Float32Array;
  /** Class indices or standardised ages, one per image. */
  targets: number[];
  /** Dropout seed of shard k (the main thread's shard is 0). */
  dropoutSeed(shard: number): number;
  /** Step number (identifies the messages). */
  step: number;
}

/**
 * One synchronous data-parallel step over the main thread and `workers`: shard 0 here, shard k in worker k, the
 * gradients averaged weighted by shard size. The model and optimizer live in the main thread.
 */
export class DataParallelStep {
  private readonly variables: tf.Variable[];
  private readonly perImage: number;
  /** CPU time of the last `run` in this thread and in each worker. */
  lastCpu: StepCpuTimes = { main: NaN, workers: [] };

  constructor(
    private readonly model: tf.LayersModel,
    private readonly loss: BoundLoss,
    private readonly workers: GradientWorkers,
    private readonly spec: { classification: boolean; ageTargets?: boolean; size: number; channels: number },
  ) {
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.perImage = spec.size * spec.size * spec.channels;
  }

  /** The batch's mean-loss gradients (keyed by variable name) and its mean loss; the caller disposes the tensors. */
  async gradients(input: ParallelStepInput): Promise<{ loss: number; grads: tf.NamedTensorMap }> {
    const { loss, grads } = await this.gradientsWithCpu(input);
    return { loss, grads };
  }

  private async gradientsWithCpu(input: ParallelStepInput): Promise<{ loss: number; grads: tf.NamedTensorMap; workerCpuMs: number[] }> {
    const count = input.targets.length;
    const sizes = shardSizes(count, this.workers.count + 1);
    const starts = sizes.map((_, k) => sizes.slice(0, k).reduce((a, b) => a + b, 0));
    const weights = sizes.length > 1 ? packWeights(this.model) : undefined;
    const messages: StepMessage[] = [];
    for (let k = 1; k < sizes.length; k++) {
      messages.push({
        type: 'step',
        step: input.step,
        weights: k === sizes.length - 1 ? (weights as Float32Array) : (weights as Float32Array).slice(),
        x: input.x.slice(starts[k] * this.perImage, (starts[k] + sizes[k]) * this.perImage),
        count: sizes[k],
        targets: input.targets.slice(starts[k], starts[k] + sizes[k]),
        dropoutSeed: input.dropoutSeed(k),
      });
    }
    const remote = this.workers.compute(messages);
    remote.catch(() => undefined); // awaited below, after the main thread's shard
    // shard 0, here, while the workers compute theirs
    seedDropout(this.model, input.dropoutSeed(0));
    const x0 = tf.tensor4d(input.x.subarray(0, sizes[0] * this.perImage), [sizes[0], this.spec.size, this.spec.size, this.spec.channels]);
    const y0 = targetTensor(input.targets.slice(0, sizes[0]), this.spec);
    let local: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      local = tf.variableGrads(() => this.loss(x0, y0), this.variables);
    } finally {
      tf.dispose([x0, y0]);
    }
    let results: ShardResult[];
    try {
      results = await remote;
    } catch (error) {
      tf.dispose([local.value, ...Object.values(local.grads)]);
      throw error;
    }
    const loss0 = local.value.dataSync()[0];
    local.value.dispose();
    if (results.length === 0) return { loss: loss0, grads: local.grads, workerCpuMs: [] };
    const share = sizes.map((n) => n / count);
    const grads: tf.NamedTensorMap = {};
    let offset = 0;
    for (const v of this.variables) {
      const n = v.size;
      const at = offset;
      grads[v.name] = tf.tidy(() => {
        let sum = tf.mul(local.grads[v.name], share[0]);
        results.forEach((r, i) => {
          sum = tf.add(sum, tf.mul(tf.tensor(r.gradients.subarray(at, at + n), v.shape, 'float32'), share[i + 1]));
        });
        return sum;
      });
      offset += n;
    }
    tf.dispose(Object.values(local.grads));
    const loss = results.reduce((s, r, i) => s + r.loss * share[i + 1], loss0 * share[0]);
    return { loss, grads, workerCpuMs: results.map((r) => r.cpuMs) };
  }

  /** Compute the averaged gradients and apply them with `optimizer`; returns the batch's mean loss. */
  async run(optimizer: tf.Optimizer, input: ParallelStepInput): Promise<number> {
    const cpu = threadCpuMs();
    const { loss, grads, workerCpuMs } = await this.gradientsWithCpu(input);
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    this.lastCpu = { main: threadCpuMs() - cpu, workers: workerCpuMs };
    return loss;
  }
}
