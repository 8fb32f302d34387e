import * as tf from '@tensorflow/tfjs';
import type { LoadedNativeKernels } from '../../native-addon';
import { callOriginal, f32, type KernelArgs, type Pad, type Rounding, type Shape4, type WasmHeapBackend } from '../kernel';

/** What the native convolution kernels share: the geometry oneDNN takes and one call through a cached primitive. */

export function isNhwc(format: unknown): boolean {
  return format === undefined || format === null || format === 'NHWC';
}

export function dilationsAreOne(d: unknown): boolean {
  if (d === undefined || d === null) return true;
  if (typeof d === 'number') return d === 1;
  return Array.isArray(d) && d.every((v) => v === 1);
}

/** The geometry array of native/src/kernels.h (enum am_geom), or undefined for cases the kernels leave alone. */
export function convGeometry(xShape: number[], filterShape: number[], strides: unknown, pad: Pad, rounding: Rounding): Int32Array | undefined {
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

/** Convolutions oneDNN refused (kind, geometry, flags), so that they go straight to the replaced kernel next time. */
const rejected = new Set<string>();

export function runConv(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels, name: string, kind: number, geom: Int32Array | undefined, flags: number, operands: () => { a: tf.TensorInfo; b: tf.TensorInfo; c?: tf.TensorInfo }, outShape: number[]): tf.TensorInfo | tf.TensorInfo[] {
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

/** `dy` has the output shape [N, Ho, Wo, Co] of the convolution `geom` describes. */
export function outputFits(dy: tf.TensorInfo, geom: Int32Array): boolean {
  return dy.shape.length === 4 && dy.shape[0] === geom[0] && dy.shape[1] === geom[7] && dy.shape[2] === geom[8] && dy.shape[3] === geom[6];
}
