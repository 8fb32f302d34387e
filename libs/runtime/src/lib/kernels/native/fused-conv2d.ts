import type * as tf from '@tensorflow/tfjs';
import { FLAG_BIAS, FLAG_RELU, FORWARD, type LoadedNativeKernels } from '../../native-addon';
import type { KernelArgs, Pad, Rounding } from '../kernel';
import { convGeometry, dilationsAreOne, isNhwc, runConv } from './convolution';
import type { NativeKernel } from './native-kernel';

function fusedConv2d(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
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
}

/** FusedConv2D through oneDNN (NHWC float32, no dilation); other cases go to the kernel replaced. */
export const nativeFusedConv2d: NativeKernel = { kernelName: 'FusedConv2D', kernelFunc: fusedConv2d };
