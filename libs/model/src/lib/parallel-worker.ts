/**
 * The worker side of data-parallel training: a worker thread with its own tfjs and backend builds the model once,
 * then for every step takes the main thread's weights and one shard of the batch and returns the shard's gradients.
 * Started by parallel.ts (which loads this module in the thread and calls `runParallelTrainWorker`).
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { buildModel, countParameters } from './architectures';
import { initBackend } from '@agekit/runtime';
import { createLoss, seedDropout, targetTensor, threadCpuMs, type BoundLoss, type LossSpec } from './parallel-loss';
import type { FromWorker, InitMessage, StepMessage, ToWorker } from './parallel-protocol';

interface WorkerState {
  backend: string;
  model: tf.LayersModel;
  loss: BoundLoss;
  variables: tf.Variable[];
  size: number;
  channels: number;
  /** What the targets are (class indices or ages): see targetTensor. */
  targets: Pick<LossSpec, 'classification' | 'ageTargets'>;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function init(message: InitMessage): Promise<WorkerState> {
  const info =
    message.backend === 'wasm'
      ? await initBackend({ backend: 'wasm', wasmSimd: message.wasmSimd, nativeKernels: message.nativeThreads !== undefined, nativeThreads: message.nativeThreads })
      : await initBackend({ backend: message.backend });
  const model = buildModel(message.model);
  return {
    backend: info.reason,
    model,
    loss: createLoss(model, message.loss),
    variables: model.trainableWeights.map((w) => w.read() as tf.Variable),
    size: message.model.size,
    channels: message.model.channels,
    targets: { classification: message.loss.classification, ageTargets: message.loss.ageTargets },
  };
}

/** Overwrite every weight (trainable and not) from one packed array in `model.weights` order. */
export function unpackWeights(model: tf.LayersModel, packed: Float32Array): void {
  const total = model.weights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  if (packed.length !== total) throw new Error(`weights: got ${packed.length} values, the model has ${total}`);
  let offset = 0;
  const tensors = model.weights.map((w) => {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(packed.subarray(offset, offset + n), shape, 'float32');
    offset += n;
    return t;
  });
  model.setWeights(tensors);
  tf.dispose(tensors);
}

function step(state: WorkerState, message: StepMessage): FromWorker {
  const cpu = threadCpuMs();
  unpackWeights(state.model, message.weights);
  seedDropout(state.model, message.dropoutSeed);
  const x = tf.tensor4d(message.x, [message.count, state.size, state.size, state.channels]);
  const y = targetTensor(message.targets, state.targets);
  try {
    const { value, grads } = tf.variableGrads(() => state.loss(x, y), state.variables);
    const sizes = state.variables.map((v) => v.size);
    const gradients = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    state.variables.forEach((v, i) => {
      gradients.set(grads[v.name].dataSync() as Float32Array, offset);
      offset += sizes[i];
    });
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { type: 'gradients', step: message.step, loss, gradients, cpuMs: threadCpuMs() - cpu };
  } finally {
    tf.dispose([x, y]);
  }
}

/** Serve init/step messages on `parentPort` until the thread is terminated. */
export function runParallelTrainWorker(): void {
  const port = parentPort;
  if (!port) throw new Error('runParallelTrainWorker must run in a worker thread');
  let state: Promise<WorkerState> | undefined;
  const reply = (message: FromWorker): void => {
    if (message.type === 'gradients') port.postMessage(message, [message.gradients.buffer as ArrayBuffer]);
    else port.postMessage(message);
  };
  port.on('message', (message: ToWorker) => {
    if (message.type === 'init') {
      state = init(message);
      state.then(
        (s) => reply({ type: 'ready', parameters: countParameters(s.model), backend: s.backend }),
        (error: unknown) => reply({ type: 'error', message: `worker start-up failed: ${describe(error)}` }),
      );
      return;
    }
    if (!state) {
      reply({ type: 'error', message: `'${message.type}' before 'init'` });
      return;
    }
    state.then(
      (s) => {
        try {
          reply(step(s, message));
        } catch (error) {
          reply({ type: 'error', message: `step ${message.step}: ${describe(error)}` });
        }
      },
      () => undefined,
    );
  });
}
