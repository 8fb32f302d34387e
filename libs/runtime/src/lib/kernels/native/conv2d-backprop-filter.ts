import type * as tf from '@tensorflow/tfjs';
import { BACKWARD_WEIGHTS, type LoadedNativeKernels } from '../../native-addon';
import type { KernelArgs, Pad, Rounding } from '../kernel';
import { convGeometry, isNhwc, outputFits, runConv } from './convolution';
import type { NativeKernel } from './native-kernel';

function conv2dBackpropFilter(args: KernelArgs, original: tf.KernelConfig | undefined, native: LoadedNativeKernels): tf.TensorInfo | tf.TensorInfo[] {
  const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const a = args.attrs as { strides: number | number[]; pad: Pad; dataFormat?: string; dimRoundingMode?: Rounding; filterShape: number[] };
  const ok = isNhwc(a.dataFormat) && dy.dtype === 'float32' && x.dtype === 'float32';
  let geom = ok ? convGeometry(x.shape, a.filterShape, a.strides, a.pad, a.dimRoundingMode) : undefined;
  if (geom && !outputFits(dy, geom)) geom = undefined;
  return runConv(args, original, native, 'Conv2DBackpropFilter', BACKWARD_WEIGHTS, geom, 0, () => ({ a: x, b: dy }), a.filterShape);
}

/** Conv2DBackpropFilter through oneDNN (NHWC float32, no dilation); other cases go to the kernel replaced. */
export const nativeConv2dBackpropFilter: NativeKernel = { kernelName: 'Conv2DBackpropFilter', kernelFunc: conv2dBackpropFilter };
