import * as tf from '@tensorflow/tfjs';
import { loadNativeAddon } from '@agekit/dataset';

/**
 * The optional native training kernels (libs/runtime/native: C, N-API, oneDNN — the library PyTorch's CPU convolutions
 * use): 2-D convolutions forward (+ bias, ReLU), backward data and backward weights through oneDNN's JIT kernels on
 * OpenMP threads, plus C loops for MaxPoolGrad, FusedBatchNorm, the ReLU gradient, Concat/SplitV, large float32
 * Add/Sub/Multiply (same shape, per-channel or scalar operand), the sums over leading axes of the Sum/Mean fast path, and
 * the fused batch norm in training (statistics + output, and its gradient: two passes each; see batch-norm.ts). They run in place on the wasm backend's heap
 * (NHWC activations, HWIO filters, as tfjs holds them) and replace the wasm kernels of those names; every case they
 * do not handle (NCHW, dilation, other activations, non-float32, shapes oneDNN rejects) goes to the kernel replaced.
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
const FORWARD = 0;
const BACKWARD_DATA = 1;
const BACKWARD_WEIGHTS = 2;
const FLAG_BIAS = 1;
const FLAG_RELU = 2;

interface Binding {
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

interface Loaded extends NativeKernels {
  binding: Binding;
}

const KINDS: NativePrimitiveInfo['kind'][] = ['forward', 'backward-data', 'backward-weights'];

function wrap(binding: Binding, file: string): Loaded {
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

let loaded: Loaded | undefined;
let reason: string | undefined;
let tried = false;

/**
 * The native kernels, loaded once per thread; undefined when disabled (AGEKIT_NO_NATIVE=1), not built, or failing to
 * load (then nativeKernelsUnavailableReason() says why).
 */
export function loadNativeKernels(): NativeKernels | undefined {
  return loadInternal();
}

function loadInternal(): Loaded | undefined {
  if (process.env[NATIVE_KERNELS_DISABLE_ENV] === '1') {
    reason = `disabled by ${NATIVE_KERNELS_DISABLE_ENV}=1`;
    return undefined;
  }
  if (tried) return loaded;
  tried = true;
  const result = loadNativeAddon<Binding>({
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

/** Why loadNativeKernels() gave undefined (undefined when loaded or not asked for yet). */
export function nativeKernelsUnavailableReason(): string | undefined {
  return reason;
}

// ---------------------------------------------------------------------------------------------------------------
// Kernels on the wasm backend

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface Args {
  inputs: Record<string, tf.TensorInfo> | tf.TensorInfo[];
  backend: unknown;
  attrs?: Record<string, unknown>;
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

function f32(backend: WasmHeapBackend, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function isNhwc(format: unknown): boolean {
  return format === undefined || format === null || format === 'NHWC';
}

function dilationsAreOne(d: unknown): boolean {
  if (d === undefined || d === null) return true;
  if (typeof d === 'number') return d === 1;
  return Array.isArray(d) && d.every((v) => v === 1);
}

/** The geometry array of native/src/kernels.h (enum am_geom), or undefined for cases the kernels leave alone. */
function convGeometry(xShape: number[], filterShape: number[], strides: unknown, pad: Pad, rounding: Rounding): Int32Array | undefined {
  if (xShape.length !== 4 || filterShape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(xShape as Shape4, filterShape as Shape4, strides as [number, number], 1, pad, rounding, false, 'channelsLast');
  const p = info.padInfo;
  const g = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.filterHeight,
    info.filterWidth,
    info.outChannels,
    info.outHeight,
    info.outWidth,
    info.strideHeight,
    info.strideWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  ];
  if (g.slice(0, 11).some((v) => !(v >= 1)) || g.slice(11).some((v) => !(v >= 0))) return undefined;
  return Int32Array.from(g);
}

interface Replaced {
  kernelName: string;
  original: tf.KernelConfig | undefined;
  native: tf.KernelConfig;
}
const replacedOn = new Map<string, Replaced[]>();
const enabledOn = new Map<string, boolean>();

function callOriginal(original: tf.KernelConfig | undefined, args: Args, name: string): tf.TensorInfo | tf.TensorInfo[] {
  if (!original) throw new Error(`${name}: no kernel to fall back to`);
  return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
}

type NativeKernel = (args: Args, original: tf.KernelConfig | undefined, native: Loaded) => tf.TensorInfo | tf.TensorInfo[];

/** Convolutions oneDNN refused (kind, geometry, flags), so that they go straight to the replaced kernel next time. */
const rejected = new Set<string>();

function runConv(args: Args, original: tf.KernelConfig | undefined, native: Loaded, name: string, kind: number, geom: Int32Array | undefined, flags: number, operands: () => { a: tf.TensorInfo; b: tf.TensorInfo; c?: tf.TensorInfo }, outShape: number[]): tf.TensorInfo | tf.TensorInfo[] {
  if (!geom) return callOriginal(original, args, name);
  const key = `${kind}:${flags}:${geom.join(',')}`;
  if (rejected.has(key)) return callOriginal(original, args, name);
  if (native.binding.convPrepare(kind, geom, flags) !== null) {
    rejected.add(key);
    return callOriginal(original, args, name);
  }
  const backend = args.backend as WasmHeapBackend;
  const { a, b, c } = operands();
  const out = backend.makeOutput(outShape, 'float32');
  // views after makeOutput: allocating can grow (and detach) the heap
  native.binding.convRun(kind, geom, flags, f32(backend, a), f32(backend, b), c ? f32(backend, c) : null, f32(backend, out));
  return out;
}

const conv2d: NativeKernel = (args, original, native) => {
  const { x, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dilations?: number | number[]; dimRoundingMode?: Rounding };
  const ok = isNhwc(a.dataFormat) && dilationsAreOne(a.dilations) && x.dtype === 'float32' && filter.dtype === 'float32';
  const geom = ok ? convGeometry(x.shape, filter.shape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  return runConv(args, original, native, 'Conv2D', FORWARD, geom, 0, () => ({ a: x, b: filter }), geom ? [geom[0], geom[7], geom[8], geom[6]] : []);
};

const fusedConv2d: NativeKernel = (args, original, native) => {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dilations?: number | number[]; dimRoundingMode?: Rounding; activation?: string };
  const activation = a.activation ?? 'linear';
  let ok =
    isNhwc(a.dataFormat) &&
    dilationsAreOne(a.dilations) &&
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    preluActivationWeights == null &&
    (activation === 'linear' || activation === 'relu');
  const geom = ok ? convGeometry(x.shape, filter.shape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  if (geom && bias != null) ok = bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === geom[6];
  const flags = (bias != null ? FLAG_BIAS : 0) | (activation === 'relu' ? FLAG_RELU : 0);
  return runConv(args, original, native, 'FusedConv2D', FORWARD, ok ? geom : undefined, flags, () => ({ a: x, b: filter, c: bias ?? undefined }), geom ? [geom[0], geom[7], geom[8], geom[6]] : []);
};

/** `dy` has the output shape [N, Ho, Wo, Co] of the convolution `geom` describes. */
function outputFits(dy: tf.TensorInfo, geom: Int32Array): boolean {
  return dy.shape.length === 4 && dy.shape[0] === geom[0] && dy.shape[1] === geom[7] && dy.shape[2] === geom[8] && dy.shape[3] === geom[6];
}

const conv2dBackpropInput: NativeKernel = (args, original, native) => {
  const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dimRoundingMode?: Rounding; inputShape: number[] };
  const ok = isNhwc(a.dataFormat) && dy.dtype === 'float32' && filter.dtype === 'float32';
  let geom = ok ? convGeometry(a.inputShape, filter.shape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  if (geom && !outputFits(dy, geom)) geom = undefined;
  return runConv(args, original, native, 'Conv2DBackpropInput', BACKWARD_DATA, geom, 0, () => ({ a: dy, b: filter }), a.inputShape);
};

const conv2dBackpropFilter: NativeKernel = (args, original, native) => {
  const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dimRoundingMode?: Rounding; filterShape: number[] };
  const ok = isNhwc(a.dataFormat) && dy.dtype === 'float32' && x.dtype === 'float32';
  let geom = ok ? convGeometry(x.shape, a.filterShape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  if (geom && !outputFits(dy, geom)) geom = undefined;
  return runConv(args, original, native, 'Conv2DBackpropFilter', BACKWARD_WEIGHTS, geom, 0, () => ({ a: x, b: dy }), a.filterShape);
};

const maxPoolGrad: NativeKernel = (args, original, native) => {
  const { dy, input, output } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
  if (input.shape.length !== 4 || [dy, input, output].some((t) => t.dtype !== 'float32')) return callOriginal(original, args, 'MaxPoolGrad');
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const g = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.effectiveFilterHeight,
    info.effectiveFilterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
  const shapeOk = [dy, output].every((t) => t.shape.length === 4 && t.shape[0] === g[0] && t.shape[1] === g[4] && t.shape[2] === g[5] && t.shape[3] === g[3]);
  if (!shapeOk || g.slice(0, 10).some((v) => !(v >= 1)) || g.slice(10).some((v) => !(v >= 0))) return callOriginal(original, args, 'MaxPoolGrad');
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(input.shape, 'float32');
  native.binding.maxPoolGrad(f32(backend, dy), f32(backend, input), f32(backend, output), f32(backend, out), Int32Array.from(g));
  return out;
};

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const FOUR_BYTES = new Set<tf.DataType>(['float32', 'int32']);

/** Concat of float32/int32 tensors along any axis: per input, one strided block copy in C. */
const concat: NativeKernel = (args, original, native) => {
  const inputs = args.inputs as tf.TensorInfo[];
  if (!Array.isArray(inputs) || inputs.length < 2) return callOriginal(original, args, 'Concat');
  const dtype = inputs[0].dtype;
  const rank = inputs[0].shape.length;
  if (!FOUR_BYTES.has(dtype) || rank === 0 || inputs.some((t) => t.dtype !== dtype || t.shape.length !== rank)) return callOriginal(original, args, 'Concat');
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0].shape)[0];
  const lead = inputs[0].shape.slice(0, axis);
  const tail = inputs[0].shape.slice(axis + 1);
  const sameOtherAxes = inputs.every((t) => t.shape.every((d, i) => i === axis || d === (i < axis ? lead[i] : tail[i - axis - 1])));
  const nonEmpty = inputs.filter((t) => size(t.shape) > 0);
  if (!sameOtherAxes || nonEmpty.length < 2) return callOriginal(original, args, 'Concat');
  const outShape = inputs[0].shape.slice();
  outShape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(outShape, dtype);
  const rows = size(lead);
  const outWidth = size(outShape.slice(axis));
  const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  let offset = 0;
  for (const t of nonEmpty) {
    const width = size(t.shape.slice(axis));
    native.binding.copyColumns(backend.typedArrayFromHeap(t) as Float32Array | Int32Array, width, 0, dst, outWidth, offset, width, rows);
    offset += width;
  }
  return out;
};

/** SplitV of a float32/int32 tensor along any axis: per part, one strided block copy in C (wasm slices each part). */
const splitV: NativeKernel = (args, original, native) => {
  const { x } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
  if (!FOUR_BYTES.has(x.dtype) || x.shape.length === 0 || size(x.shape) === 0) return callOriginal(original, args, 'SplitV');
  const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, a.numOrSizeSplits, axis);
  const backend = args.backend as WasmHeapBackend;
  const outs = sizes.map((s) => {
    const shape = x.shape.slice();
    shape[axis] = s;
    return backend.makeOutput(shape, x.dtype);
  });
  const rows = size(x.shape.slice(0, axis));
  const inner = size(x.shape.slice(axis + 1));
  const srcWidth = x.shape[axis] * inner;
  const src = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  let offset = 0;
  outs.forEach((out, i) => {
    const width = sizes[i] * inner;
    if (width > 0 && rows > 0) native.binding.copyColumns(src, srcWidth, offset, backend.typedArrayFromHeap(out) as Float32Array | Int32Array, width, 0, width, rows);
    offset += width;
  });
  return outs;
};

/** FusedBatchNorm with per-channel (last-axis) statistics: one pass in C instead of wasm's kernel. */
const batchNorm: NativeKernel = (args, original, native) => {
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const perChannel = (t: tf.TensorInfo | undefined): boolean => t == null || (t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === c);
  const ok = x.dtype === 'float32' && x.shape.length >= 1 && c > 0 && size(x.shape) > 0 && mean != null && variance != null && [mean, variance, offset, scale].every(perChannel);
  if (!ok) return callOriginal(original, args, 'FusedBatchNorm');
  const epsilon = (args.attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001;
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(x.shape, 'float32');
  native.binding.batchNorm(f32(backend, x), f32(backend, mean), f32(backend, variance), offset ? f32(backend, offset) : null, scale ? f32(backend, scale) : null, epsilon, f32(backend, out));
  return out;
};

/** Elementwise binary ops with at least this many output elements go native (smaller ones stay on wasm). */
const BINARY_MIN_SIZE = 4096;

/**
 * How `small` broadcasts along `big` (NumPy rules) when the native loop can do it: the count of its elements that
 * repeat along big (big's size: same shape; a trailing block: per channel; 1: scalar), else undefined.
 */
function repeatCount(big: number[], small: number[]): number | undefined {
  if (small.length > big.length) return undefined;
  let first = 0;
  while (first < small.length && small[first] === 1) first++;
  const core = small.slice(first);
  const n = size(core);
  if (n === 1) return 1;
  const tail = big.slice(big.length - core.length);
  return core.every((d, i) => d === tail[i]) ? n : undefined;
}

function binaryKernel(name: string, op: number, commutative: boolean): NativeKernel {
  return (args, original, native) => {
    const { a, b } = args.inputs as Record<string, tf.TensorInfo>;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return callOriginal(original, args, name);
    let big = a;
    let small = b;
    if (size(b.shape) > size(a.shape) && commutative) {
      big = b;
      small = a;
    }
    const n = size(big.shape);
    const nb = n >= BINARY_MIN_SIZE ? repeatCount(big.shape, small.shape) : undefined;
    if (nb === undefined) return callOriginal(original, args, name);
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput(big.shape, 'float32');
    native.binding.binary(op, f32(backend, big), f32(backend, small), f32(backend, out));
    return out;
  };
}

/**
 * Column sums in C (out[k] = scale * sum over rows of x[r][k]) when the native kernels are on for `backendName`, for
 * the Sum/Mean-over-leading-axes fast path (gradients-wasm.ts); undefined otherwise.
 */
export function nativeColumnSum(backendName = 'wasm'): ((x: Float32Array, columns: number, out: Float32Array, scale: number) => void) | undefined {
  if (!enabledOn.get(backendName) || !loaded) return undefined;
  const binding = loaded.binding;
  return (x, columns, out, scale) => binding.columnSum(x, columns, out, scale);
}

/** Name of the kernel the ReLU gradient runs when the native kernels are on (one pass instead of Step + Multiply). */
export const NATIVE_RELU_GRAD_KERNEL = 'AgekitNativeReluGrad';

const reluGrad: NativeKernel = (args, _original, native) => {
  const { dy, x } = args.inputs as Record<string, tf.TensorInfo>;
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || !tf.util.arraysEqual(dy.shape, x.shape)) throw new Error(`${NATIVE_RELU_GRAD_KERNEL}: float32 dy and x of one shape expected`);
  const backend = args.backend as WasmHeapBackend;
  const out = backend.makeOutput(x.shape, 'float32');
  native.binding.reluGrad(f32(backend, dy), f32(backend, x), f32(backend, out));
  return out;
};

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;
let reluGradientOriginal: GradConfig | undefined;

/**
 * The ReLU gradient (global, every backend): where the active backend has the native kernel, dy * step(x) in one
 * native pass; elsewhere tfjs-core's own (Step, Cast, Multiply). Same values either way (native.spec.ts).
 */
function installReluGradient(): void {
  if (reluGradientOriginal) return;
  const original = tf.getGradient('Relu');
  if (!original) return;
  reluGradientOriginal = original;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      if (g.dtype === 'float32' && x.dtype === 'float32' && tf.getKernel(NATIVE_RELU_GRAD_KERNEL, tf.getBackend())) {
        return { x: () => tf.engine().runKernel(NATIVE_RELU_GRAD_KERNEL, { dy: g, x }, {}) as tf.Tensor };
      }
      return original.gradFunc(dy, saved, attrs);
    },
  });
}

/** Names of the kernels of the fused batch norm in training (batch-norm.ts) when the native kernels are on. */
export const NATIVE_BATCH_NORM_TRAIN_KERNEL = 'AgekitNativeBatchNormTrain';
export const NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL = 'AgekitNativeBatchNormTrainGrad';

function channelVector(t: tf.TensorInfo | undefined, c: number): boolean {
  return t == null || (t.dtype === 'float32' && size(t.shape) === c);
}

/** inputs {x, gamma?, beta?}, attrs {epsilon} -> [y, mean, variance] with statistics over all but the last axis. */
const batchNormTrain: NativeKernel = (args, _original, native) => {
  const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const bind = native.binding.batchNormTrain;
  if (!bind || x.dtype !== 'float32' || x.shape.length < 2 || !(c > 0) || size(x.shape) === 0 || !channelVector(gamma, c) || !channelVector(beta, c)) {
    throw new Error(`${NATIVE_BATCH_NORM_TRAIN_KERNEL}: a non-empty float32 x of rank >= 2 and per-channel gamma, beta expected`);
  }
  const epsilon = (args.attrs as { epsilon: number }).epsilon;
  const backend = args.backend as WasmHeapBackend;
  const y = backend.makeOutput(x.shape, 'float32');
  const mean = backend.makeOutput([c], 'float32');
  const variance = backend.makeOutput([c], 'float32');
  bind.call(native.binding, f32(backend, x), gamma ? f32(backend, gamma) : null, beta ? f32(backend, beta) : null, epsilon, f32(backend, y), f32(backend, mean), f32(backend, variance));
  return [y, mean, variance];
};

/** inputs {dy, x, mean, variance, gamma?}, attrs {epsilon} -> [dx, dgamma, dbeta]. */
const batchNormTrainGrad: NativeKernel = (args, _original, native) => {
  const { dy, x, mean, variance, gamma } = args.inputs as Record<string, tf.TensorInfo | undefined> as Record<string, tf.TensorInfo>;
  const c = x.shape[x.shape.length - 1];
  const bind = native.binding.batchNormTrainGrad;
  const ok = bind && x.dtype === 'float32' && dy.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape) && x.shape.length >= 2 && c > 0 && size(x.shape) > 0;
  if (!ok || mean == null || variance == null || ![mean, variance, gamma].every((t) => channelVector(t, c))) {
    throw new Error(`${NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL}: float32 dy and x of one shape and per-channel mean, variance, gamma expected`);
  }
  const epsilon = (args.attrs as { epsilon: number }).epsilon;
  const backend = args.backend as WasmHeapBackend;
  const dx = backend.makeOutput(x.shape, 'float32');
  const dgamma = backend.makeOutput([c], 'float32');
  const dbeta = backend.makeOutput([c], 'float32');
  bind.call(native.binding, f32(backend, dy), f32(backend, x), f32(backend, mean), f32(backend, variance), gamma ? f32(backend, gamma) : null, epsilon, f32(backend, dx), f32(backend, dgamma), f32(backend, dbeta));
  return [dx, dgamma, dbeta];
};

/** Name of the kernel NativeAdamOptimizer runs per variable when the native kernels are on (one pass, three outputs). */
export const NATIVE_ADAM_KERNEL = 'AgekitNativeAdam';

const adamKernel: NativeKernel = (args, _original, native) => {
  const { value, gradient, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  const n = size(value.shape);
  if ([value, gradient, m, v].some((t) => t.dtype !== 'float32' || size(t.shape) !== n)) throw new Error(`${NATIVE_ADAM_KERNEL}: float32 operands of one size expected`);
  const a = args.attrs as { params: number[] };
  const backend = args.backend as WasmHeapBackend;
  const outs = [value, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
  native.binding.adam(f32(backend, value), f32(backend, gradient), f32(backend, m), f32(backend, v), f32(backend, outs[0]), f32(backend, outs[1]), f32(backend, outs[2]), Float64Array.from(a.params));
  return outs;
};

const NATIVE_KERNELS: Readonly<Record<string, NativeKernel>> = {
  [NATIVE_RELU_GRAD_KERNEL]: reluGrad,
  [NATIVE_ADAM_KERNEL]: adamKernel,
  [NATIVE_BATCH_NORM_TRAIN_KERNEL]: batchNormTrain,
  [NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL]: batchNormTrainGrad,
  Conv2D: conv2d,
  FusedConv2D: fusedConv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  MaxPoolGrad: maxPoolGrad,
  FusedBatchNorm: batchNorm,
  Add: binaryKernel('Add', 0, true),
  Sub: binaryKernel('Sub', 1, false),
  Multiply: binaryKernel('Multiply', 2, true),
  Concat: concat,
  SplitV: splitV,
};

/** The binding function each of agekit's own kernels needs (an older addon without it: the kernel is not registered). */
const NEEDS: Readonly<Record<string, keyof Binding>> = {
  [NATIVE_BATCH_NORM_TRAIN_KERNEL]: 'batchNormTrain',
  [NATIVE_BATCH_NORM_TRAIN_GRAD_KERNEL]: 'batchNormTrainGrad',
};

/**
 * Names of the kernels the native set registers (all replace a wasm kernel but NATIVE_RELU_GRAD_KERNEL,
 * NATIVE_ADAM_KERNEL and the NATIVE_BATCH_NORM_TRAIN* kernels, agekit's own).
 */
export const NATIVE_KERNEL_NAMES: readonly string[] = Object.keys(NATIVE_KERNELS);

/**
 * Replace the kernels of NATIVE_KERNEL_NAMES on `backendName` (a backend keeping tensors on the wasm heap) with the
 * native ones, each falling back to the kernel registered before it. Register after registerWasmTrainingKernels so
 * the composed gradients are the fallbacks. Idempotent; returns the kernel names now native.
 */
export function registerNativeKernels(kernels: NativeKernels, backendName = 'wasm'): string[] {
  const native = kernels as Loaded;
  if (!native.binding) throw new Error('registerNativeKernels: not a NativeKernels from loadNativeKernels()');
  if (!replacedOn.has(backendName)) {
    replacedOn.set(
      backendName,
      Object.entries(NATIVE_KERNELS)
        .filter(([kernelName]) => NEEDS[kernelName] === undefined || typeof native.binding[NEEDS[kernelName]] === 'function')
        .map(([kernelName, kernel]) => {
          const original = tf.getKernel(kernelName, backendName);
          const kernelFunc = ((args: Args) => kernel(args, original, native)) as unknown as tf.KernelFunc;
          return { kernelName, original, native: { kernelName, backendName, kernelFunc } };
        }),
    );
  }
  installReluGradient();
  setNativeKernelsEnabled(true, backendName);
  return (replacedOn.get(backendName) ?? []).map((r) => r.kernelName);
}

/** Switch the registered native kernels on or off (off restores the kernels they replaced; for A/B benchmarks). */
export function setNativeKernelsEnabled(enabled: boolean, backendName = 'wasm'): void {
  const list = replacedOn.get(backendName);
  if (!list || enabledOn.get(backendName) === enabled) return;
  for (const r of list) {
    if (tf.getKernel(r.kernelName, backendName)) tf.unregisterKernel(r.kernelName, backendName);
    const config = enabled ? r.native : r.original;
    if (config) tf.registerKernel(config);
  }
  enabledOn.set(backendName, enabled);
}

/** Whether the native kernels are registered and on for `backendName`. */
export function nativeKernelsEnabled(backendName = 'wasm'): boolean {
  return enabledOn.get(backendName) === true;
}

// ---------------------------------------------------------------------------------------------------------------
// Adam

type AdamGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  incrementIterations(): void;
}

/**
 * tfjs's AdamOptimizer (same state, weights, serialisation and arithmetic) whose update runs as one native kernel per
 * variable when the active backend has it (wasm with the native kernels on): ~14 kernels per variable otherwise,
 * 1,082 per step for squeezenet with batch norm (35 ms of a 64 px step on wasm). Elsewhere it is tfjs's own.
 */
export class NativeAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: AdamGradients): void {
    if (!tf.getKernel(NATIVE_ADAM_KERNEL, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const registered = tf.engine().registeredVariables;
    const eligible = names.every((name, i) => {
      const g = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
      const value = registered[name];
      return value != null && value.dtype === 'float32' && (g == null || (g.dtype === 'float32' && g.size === value.size));
    });
    if (!eligible) {
      super.applyGradients(variableGradients);
      return;
    }
    tf.tidy(() => {
      const accBeta1 = self.accBeta1.dataSync()[0];
      const accBeta2 = self.accBeta2.dataSync()[0];
      const params = [self.learningRate, self.beta1, self.beta2, self.epsilon, 1 - accBeta1, 1 - accBeta2, 1 - self.beta1, 1 - self.beta2];
      names.forEach((name, i) => {
        const value = registered[name];
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        const gradient = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
        if (gradient == null) return;
        const m = (self.accumulatedFirstMoment[i] as { variable: tf.Variable }).variable;
        const v = (self.accumulatedSecondMoment[i] as { variable: tf.Variable }).variable;
        const [newValue, newM, newV] = tf.engine().runKernel(NATIVE_ADAM_KERNEL, { value, gradient, m, v }, { params } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(newM.reshape(m.shape));
        v.assign(newV.reshape(v.shape));
        value.assign(newValue.reshape(value.shape));
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}

/** Adam with the native per-variable update where available (see NativeAdamOptimizer); tf.train.adam's defaults. */
export function createAdam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  return new NativeAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
