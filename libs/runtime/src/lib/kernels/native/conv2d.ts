import type * as tf from '@tensorflow/tfjs';
import { FORWARD, type LoadedNativeKernels } from '../../native-addon';
import type { KernelArgs, Pad, Rounding } from '../kernel';
import { convGeometry, dilationsAreOne, isNhwc, runConv } from './convolution';
import type { NativeKernel } from './native-kernel';

function conv2d(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { x, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dilations?: number | number[]; dimRoundingMode?: Rounding };
  const ok = isNhwc(a.dataFormat) && dilationsAreOne(a.dilations) && x.dtype === 'float32' && filter.dtype === 'float32';
  const geom = ok ? convGeometry(x.shape, filter.shape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  return runConv(args, original, native, 'Conv2D', FORWARD, geom, 0, () => ({ a: x, b: filter }), geom ? [geom[0], geom[7], geom[8], geom[6]] : []);
}

/** Conv2D through oneDNN (NHWC float32, no dilation); other cases go to the kernel replaced. */
export const nativeConv2d: NativeKernel = { kernelName: 'Conv2D', kernelFunc: conv2d };
