import type * as tf from '@tensorflow/tfjs';
import { BACKWARD_DATA, type LoadedNativeKernels } from '../../native-addon';
import type { KernelArgs, Pad, Rounding } from '../kernel';
import { convGeometry, isNhwc, outputFits, runConv } from './convolution';
import type { NativeKernel } from './native-kernel';

function conv2dBackpropInput(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dimRoundingMode?: Rounding; inputShape: number[] };
  const ok = isNhwc(a.dataFormat) && dy.dtype === 'float32' && filter.dtype === 'float32';
  let geom = ok ? convGeometry(a.inputShape, filter.shape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  if (geom && !outputFits(dy, geom)) geom = undefined;
  return runConv(args, original, native, 'Conv2DBackpropInput', BACKWARD_DATA, geom, 0, () => ({ a: dy, b: filter }), a.inputShape);
}

/** Conv2DBackpropInput through oneDNN (NHWC float32, no dilation); other cases go to the kernel replaced. */
export const nativeConv2dBackpropInput: NativeKernel = { kernelName: 'Conv2DBackpropInput', kernelFunc: conv2dBackpropInput };
