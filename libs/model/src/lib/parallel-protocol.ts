import type { ArchitectureOptions } from './architectures';
import type { BackendName } from '@agekit/runtime';
import type { LossSpec } from './parallel-loss';

/** Main thread -> worker: build the backend and the model once. */
export interface InitMessage {
  type: 'init';
  backend: BackendName;
  wasmSimd: boolean;
  /** wasm: use the native kernels (when built) with this many OpenMP threads in the worker; undefined = no native kernels. */
  nativeThreads?: number;
  model: ArchitectureOptions;
  loss: LossSpec;
}

/** Main thread -> worker: this step's weights (all of them, packed in `model.weights` order) and shard. */
export interface StepMessage {
  type: 'step';
  step: number;
  weights: Float32Array;
  /** Normalised images, [count, size, size, channels]. */
  x: Float32Array;
  count: number;
  targets: number[];
  dropoutSeed: number;
}

export type ToWorker = InitMessage | StepMessage;

export type FromWorker =
  /** backend: the worker's BackendInfo.reason (says whether the native kernels are on and with how many threads). */
  | { type: 'ready'; parameters: number; backend?: string }
  /** Gradients of the shard's mean loss, packed in `model.trainableWeights` order. */
  | { type: 'gradients'; step: number; loss: number; gradients: Float32Array; cpuMs: number }
  | { type: 'error'; message: string };
