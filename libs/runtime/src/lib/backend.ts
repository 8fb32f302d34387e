import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '@agekit/dataset';
import * as os from 'node:os';
import { registerNativeKernels, registerWasmTrainingKernels, setNativeKernelsEnabled } from './kernels/registry';
import { loadNativeKernels, nativeKernelsUnavailableReason } from './native-addon';

/** Backends agekit can train on, best first. `tensorflow` is libtensorflow through tfjs-node(-gpu). */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';

/** Every value a `backend` option or flag takes (also the enum of the config schemas). */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** A `--backend` flag's value, or undefined when absent; anything else is a UsageError. */
export function backendChoiceFlag(value: unknown): BackendChoice | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(BACKEND_CHOICES as readonly string[]).includes(value)) {
    throw new UsageError(`--backend must be ${BACKEND_CHOICES.join(', ')} (got '${String(value)}')`);
  }
  return value as BackendChoice;
}

export interface BackendOptions {
  /** 'auto' (default) picks the best available: tfjs-node-gpu, tfjs-node, wasm, cpu. */
  backend?: BackendChoice;
  /** Directory holding the tfjs-backend-wasm .wasm files (default: found through require.resolve). */
  wasmDir?: string;
  /** Use the SIMD build of the wasm backend (default true; measured faster). */
  wasmSimd?: boolean;
  /**
   * On wasm, run convolutions (oneDNN), MaxPoolGrad, FusedBatchNorm, the ReLU gradient, large Add/Sub/Multiply,
   * Concat, SplitV and leading-axis sums through agekit's native kernels when the addon is built (default true; see
   * native.ts; NATIVE_KERNEL_NAMES). false restores the wasm kernels.
   */
  nativeKernels?: boolean;
  /**
   * OpenMP threads of the native kernels for calls from this thread (default `defaultNativeThreads()`: every core, for
   * one training thread). Data-parallel training (GradientWorkers) sets cores / training threads while it runs.
   */
  nativeThreads?: number;
}

/** The native kernels in use on this thread's backend. */
export interface NativeKernelsInfo {
  /** e.g. 'oneDNN 2.6.3' */
  library: string;
  /** The addon file. */
  file: string;
  /** OpenMP threads for this thread's calls. */
  threads: number;
  /** Kernel names replaced. */
  kernels: string[];
}

export interface BackendAttempt {
  candidate: string;
  ok: boolean;
  reason: string;
}

export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** Why it was chosen (a sentence for the app to print). */
  reason: string;
  /** Every candidate tried, in order, with the reason it was or was not used. */
  attempts: BackendAttempt[];
  /** Names of the gradient kernels agekit registered on this backend (wasm only). */
  composedKernels: string[];
  /** The native oneDNN kernels, when on (wasm only). */
  native?: NativeKernelsInfo;
  /** Why there are no native kernels on wasm (undefined when they are on or were switched off by the option). */
  nativeUnavailable?: string;
}

/** Default OpenMP threads of the native kernels: the available cores (a training thread then uses them all). */
export function defaultNativeThreads(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

let current: BackendInfo | undefined;

/** The backend chosen by the last `initBackend` call, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0].slice(0, 200);
}

/** Directory of the tfjs-backend-wasm .wasm files. */
export function defaultWasmDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
}

async function tryTensorflow(pkg: string): Promise<string> {
  // tfjs-node registers the 'tensorflow' backend when it is loaded; it is an optional dependency.
  require(pkg);
  if (!tf.findBackendFactory('tensorflow')) throw new Error(`${pkg} loaded but registered no 'tensorflow' backend`);
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg}: the tensorflow backend failed to initialise`);
  return `${pkg} is installed (libtensorflow${pkg.endsWith('-gpu') ? ' with CUDA' : ''})`;
}

let wasmPathsSet = false;

async function tryWasm(options: BackendOptions): Promise<{ reason: string; kernels: string[]; native?: NativeKernelsInfo; nativeUnavailable?: string }> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    const dir = options.wasmDir ?? defaultWasmDir();
    // Threads need a worker script that tfjs cannot start in Node (measured: ERR_WORKER_PATH), so they stay off.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    tf.env().set('WASM_HAS_SIMD_SUPPORT', options.wasmSimd ?? true);
    wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend failed to initialise');
  const kernels = registerWasmTrainingKernels();
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const base = `WebAssembly${simd ? ' with SIMD' : ''}`;
  if (options.nativeKernels === false) {
    setNativeKernelsEnabled(false);
    return { reason: `${base}, single-threaded`, kernels };
  }
  const native = loadNativeKernels();
  if (!native) {
    setNativeKernelsEnabled(false);
    return { reason: `${base}, single-threaded`, kernels, nativeUnavailable: nativeKernelsUnavailableReason() };
  }
  const replaced = registerNativeKernels(native);
  native.setThreads(options.nativeThreads ?? defaultNativeThreads());
  const threads = native.getThreads();
  return {
    reason: `${base} + native ${native.library} kernels (${threads} thread${threads === 1 ? '' : 's'})`,
    kernels,
    native: { library: native.library, file: native.file, threads, kernels: replaced },
  };
}

/**
 * Pick and activate a tfjs backend. With 'auto', tries `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node`,
 * `@tensorflow/tfjs-backend-wasm` and the pure-JS `cpu` backend in that order and keeps the first that works.
 * On wasm, registers the gradient kernels it lacks (see `registerWasmTrainingKernels`).
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const choice = options.backend ?? 'auto';
  const attempts: BackendAttempt[] = [];
  const candidates: string[] =
    choice === 'auto'
      ? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'wasm', 'cpu']
      : choice === 'tensorflow'
        ? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']
        : [choice];
  for (const candidate of candidates) {
    try {
      let info: BackendInfo;
      if (candidate === 'wasm') {
        const { reason, kernels, native, nativeUnavailable } = await tryWasm(options);
        attempts.push({ candidate, ok: true, reason });
        info = { name: 'wasm', reason, attempts, composedKernels: kernels, native, nativeUnavailable };
      } else if (candidate === 'cpu') {
        if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
        // The cpu backend prints a 'install tfjs-node' banner on first use; a library must not print.
        (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
        const reason = 'pure-JavaScript reference backend (slow)';
        attempts.push({ candidate, ok: true, reason });
        info = { name: 'cpu', reason, attempts, composedKernels: [] };
      } else {
        const reason = await tryTensorflow(candidate);
        attempts.push({ candidate, ok: true, reason });
        info = { name: 'tensorflow', reason, attempts, composedKernels: [] };
      }
      const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.candidate}: ${a.reason}`);
      info.reason = `${info.reason}${choice === 'auto' ? ' (auto)' : ' (requested)'}${skipped.length ? `; skipped ${skipped.join('; ')}` : ''}`;
      current = info;
      return info;
    } catch (error) {
      attempts.push({ candidate, ok: false, reason: errorText(error) });
    }
  }
  throw new Error(`no usable tfjs backend for '${choice}': ${attempts.map((a) => `${a.candidate}: ${a.reason}`).join('; ')}`);
}
