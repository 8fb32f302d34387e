import { loadNativeAddon } from '@agekit/dataset';

/**
 * The optional native training kernels (libs/runtime/native: C, N-API, oneDNN — the library PyTorch's CPU convolutions
 * use): 2-D convolutions forward (+ bias, ReLU), backward data and backward weights through oneDNN's JIT kernels on
 * OpenMP threads, plus C loops for MaxPoolGrad, FusedBatchNorm, the ReLU gradient, Concat/SplitV, large float32
 * Add/Sub/Multiply (same shape, per-channel or scalar operand), the sums over leading axes of the Sum/Mean fast path, and
 * the fused batch norm in training (statistics + output, and its gradient: two passes each; see batch-norm.ts). They run in place on the wasm backend's heap
 * (NHWC activations, HWIO filters, as tfjs holds them) and replace the wasm kernels of those names; every case they
 * do not handle (NCHW, dilation, other activations, non-float32, shapes oneDNN rejects) goes to the kernel replaced.
 * This file loads the addon; the kernels over it are kernels/native/, registered by kernels/registry.ts.
 * Built by `node tools/scripts/build-native.mjs runtime`; without it training runs on the wasm kernels.
 * Filters are reordered to the blocked layout oneDNN picks (format_tag_any; jit:avx2 / jit_1x1:avx2 on this machine);
 * AGEKIT_DNNL_WEIGHTS=hwio keeps tfjs's layout instead (oneDNN then falls back to gemm: measured slower).
 */

/** File name of the built addon. */
export const NATIVE_KERNELS_FILE = 'agekit_runtime.node';
/** Set to 1 to pretend the addon is absent. */
export const NATIVE_KERNELS_DISABLE_ENV = 'AGEKIT_NO_NATIVE';
/** An explicit path to the addon (else it is looked for next to this library, see loadNativeKernels). */
export const NATIVE_KERNELS_PATH_ENV = 'AGEKIT_RUNTIME_NATIVE';

/** The addon's ABI this wrapper speaks (AM_ABI in native/src/addon.c). */
const ABI = 1;
/** Convolution kinds and flags of native/src/kernels.h (the native convolution kernels pass them). */
export const FORWARD = 0;
export const BACKWARD_DATA = 1;
export const BACKWARD_WEIGHTS = 2;
export const FLAG_BIAS = 1;
export const FLAG_RELU = 2;

/** The addon's functions (native/src/addon.c). */
export interface NativeBinding {
  abi: number;
  library: string;
  convPrepare(kind: number, geom: Int32Array, flags: number): string | null;
  convRun(kind: number, geom: Int32Array, flags: number, a: Float32Array, b: Float32Array, c: Float32Array | null, d: Float32Array): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, y: Float32Array, dx: Float32Array, geom: Int32Array): void;
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null, scale: Float32Array | null, epsilon: number, y: Float32Array): void;
  columnSum(x: Float32Array, columns: number, out: Float32Array, scale: number): void;
  /** Absent from addons built before the fused batch norm (then its kernels are not registered). */
  batchNormTrain?(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, epsilon: number, y: Float32Array, mean: Float32Array, variance: Float32Array): void;
  batchNormTrainGrad?(dy: Float32Array, x: Float32Array, mean: Float32Array, variance: Float32Array, gamma: Float32Array | null, epsilon: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  adam(value: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, outValue: Float32Array, outM: Float32Array, outV: Float32Array, params: Float64Array): void;
  copyColumns(src: Float32Array | Int32Array, srcWidth: number, srcOffset: number, dst: Float32Array | Int32Array, dstWidth: number, dstOffset: number, width: number, rows: number): void;
  setThreads(n: number): void;
  getThreads(): number;
  cacheInfo(): Array<{ kind: number; geom: number[]; flags: number; threads: number; impl: string; weightsReordered: boolean; calls: number }>;
  clearCache(): void;
  callCounts(): NativeCallCounts;
}

/** One cached oneDNN primitive (for diagnostics and benchmarks). */
export interface NativePrimitiveInfo {
  kind: 'forward' | 'backward-data' | 'backward-weights';
  /** [N, H, W, Ci] -> [N, Ho, Wo, Co] with a kh x kw filter. */
  input: [number, number, number, number];
  output: [number, number, number, number];
  filter: [number, number];
  strides: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  bias: boolean;
  relu: boolean;
  threads: number;
  /** oneDNN's implementation name (e.g. 'jit:avx2'). */
  implementation: string;
  /** The filter is reordered to (or from) a blocked layout oneDNN prefers on each call. */
  weightsReordered: boolean;
  calls: number;
}

/** Calls of each native kernel in this thread since the addon loaded (for tests and diagnostics). */
export interface NativeCallCounts {
  forward: number;
  backwardData: number;
  backwardWeights: number;
  maxPoolGrad: number;
  reluGrad: number;
  copyColumns: number;
  batchNorm: number;
  columnSum: number;
  binary: number;
  adam: number;
  /** The fused batch norm in training (batch-norm.ts): forward and gradient. */
  batchNormTrain: number;
  batchNormTrainGrad: number;
}

export interface NativeKernels {
  /** The addon file loaded. */
  file: string;
  /** 'oneDNN 2.6.3' */
  library: string;
  /** OpenMP threads oneDNN uses for calls from this thread. */
  setThreads(threads: number): void;
  getThreads(): number;
  /** The primitives created in this thread so far. */
  primitives(): NativePrimitiveInfo[];
  /** Drop every cached primitive of this thread. */
  clearCache(): void;
  /** Calls of each native kernel in this thread so far. */
  callCounts(): NativeCallCounts;
}

/** NativeKernels with the binding, for the kernels (kernels/native/). */
export interface LoadedNativeKernels extends NativeKernels {
  binding: NativeBinding;
}

const KINDS: NativePrimitiveInfo['kind'][] = ['forward', 'backward-data', 'backward-weights'];

function wrap(binding: NativeBinding, file: string): LoadedNativeKernels {
  return {
    file,
    library: binding.library,
    binding,
    setThreads: (threads) => binding.setThreads(Math.max(1, Math.floor(threads))),
    getThreads: () => binding.getThreads(),
    clearCache: () => binding.clearCache(),
    callCounts: () => binding.callCounts(),
    primitives: () =>
      binding.cacheInfo().map((e) => {
        const g = e.geom;
        return {
          kind: KINDS[e.kind],
          input: [g[0], g[1], g[2], g[3]],
          output: [g[0], g[7], g[8], g[6]],
          filter: [g[4], g[5]],
          strides: [g[9], g[10]],
          pads: [g[11], g[12], g[13], g[14]],
          bias: (e.flags & FLAG_BIAS) !== 0,
          relu: (e.flags & FLAG_RELU) !== 0,
          threads: e.threads,
          implementation: e.impl,
          weightsReordered: e.weightsReordered,
          calls: e.calls,
        };
      }),
  };
}

/**
 * Load with libgomp's OMP_WAIT_POLICY=PASSIVE unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT: libgomp reads
 * them once, when the addon loads it, so the variable is restored right after (child processes do not see it).
 * Its default (spin ~300k iterations at every barrier) collapses when another process holds a core: measured with
 * explore running beside, squeezenet 64 px with batch norm, oneDNN on 2 threads: 1,918 ms a step spinning vs 380 ms
 * passive; see tools/bench/train/profile.ts.
 */
function withWaitPolicy<T>(load: () => T): T {
  if (process.env.OMP_WAIT_POLICY !== undefined || process.env.GOMP_SPINCOUNT !== undefined) return load();
  process.env.OMP_WAIT_POLICY = 'PASSIVE';
  try {
    return load();
  } finally {
    delete process.env.OMP_WAIT_POLICY;
  }
}

let loaded: LoadedNativeKernels | undefined;
let reason: string | undefined;
let tried = false;

/**
 * The native kernels, loaded once per thread; undefined when disabled (AGEKIT_NO_NATIVE=1), not built, or failing to
 * load (then nativeKernelsUnavailableReason() says why).
 */
export function loadNativeKernels(): NativeKernels | undefined {
  return loadInternal();
}

function loadInternal(): LoadedNativeKernels | undefined {
  if (process.env[NATIVE_KERNELS_DISABLE_ENV] === '1') {
    reason = `disabled by ${NATIVE_KERNELS_DISABLE_ENV}=1`;
    return undefined;
  }
  if (tried) return loaded;
  tried = true;
  const result = loadNativeAddon<NativeBinding>({
    file: NATIVE_KERNELS_FILE,
    lib: 'runtime',
    from: __dirname,
    pathEnv: NATIVE_KERNELS_PATH_ENV,
    disableEnv: NATIVE_KERNELS_DISABLE_ENV,
    abi: ABI,
    buildHint: 'node tools/scripts/build-native.mjs runtime; needs libdnnl-dev',
    requires: 'libdnnl.so.2 and libgomp.so.1; Debian: apt-get install libdnnl2',
    load: withWaitPolicy,
  });
  reason = result.reason;
  if (result.binding) loaded = wrap(result.binding, result.file);
  return loaded;
}

/** The addon loaded on this thread, if loadNativeKernels() found it (for the kernels' registration). */
export function loadedNativeKernels(): LoadedNativeKernels | undefined {
  return loaded;
}

/** Why loadNativeKernels() gave undefined (undefined when loaded or not asked for yet). */
export function nativeKernelsUnavailableReason(): string | undefined {
  return reason;
}
