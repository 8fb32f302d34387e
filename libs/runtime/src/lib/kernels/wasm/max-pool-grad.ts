import * as tf from '@tensorflow/tfjs';
import { asTensor, type Pad, type Rounding } from '../kernel';
import type { WasmKernel } from './wasm-kernel';

/**
 * Gradient of max pooling (NHWC), as a plain loop over the output: each window's dy goes to the first position
 * (row-major within the window) whose input equals the pooled value, as TF and the cpu backend do. On wasm this
 * JavaScript loop beats the native MaxPoolGrad kernel (see tools/bench/train/maxpool-ab.ts).
 */
export function maxPoolGradient(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, filterSize: number | [number, number], strides: number | [number, number], pad: Pad, rounding?: Rounding): tf.Tensor4D {
  const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad, rounding);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, effectiveFilterHeight: fh, effectiveFilterWidth: fw, padInfo } = info;
  const xv = x.dataSync() as Float32Array;
  const yv = y.dataSync() as Float32Array;
  const dyv = dy.dataSync() as Float32Array;
  const dx = new Float32Array(x.size);
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * inWidth * c;
    for (let p = 0; p < outHeight; p++) {
      const r0 = p * strideHeight - padInfo.top;
      const rStart = Math.max(0, r0);
      const rEnd = Math.min(inHeight, r0 + fh);
      for (let q = 0; q < outWidth; q++) {
        const c0 = q * strideWidth - padInfo.left;
        const cStart = Math.max(0, c0);
        const cEnd = Math.min(inWidth, c0 + fw);
        const outBase = ((b * outHeight + p) * outWidth + q) * c;
        for (let ch = 0; ch < c; ch++) {
          const target = yv[outBase + ch];
          let found = -1;
          for (let r = rStart; r < rEnd && found < 0; r++) {
            for (let col = cStart; col < cEnd; col++) {
              const idx = xBase + (r * inWidth + col) * c + ch;
              if (xv[idx] === target) {
                found = idx;
                break;
              }
            }
          }
          if (found >= 0) dx[found] += dyv[outBase + ch];
        }
      }
    }
  }
  return tf.tensor4d(dx, x.shape);
}

/** Replaces wasm's (slower) with the JavaScript loop above. */
export const maxPoolGrad: WasmKernel = {
  kernelName: 'MaxPoolGrad',
  mode: 'replace',
  kernelFunc: ({ inputs, attrs }) => {
    const a = attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
    return maxPoolGradient(asTensor(inputs.dy) as tf.Tensor4D, asTensor(inputs.input) as tf.Tensor4D, asTensor(inputs.output) as tf.Tensor4D, a.filterSize, a.strides, a.pad, a.dimRoundingMode);
  },
};
