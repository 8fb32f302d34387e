import * as tf from '@tensorflow/tfjs';
import { asTensor } from '../kernel';
import type { WasmKernel } from './wasm-kernel';

/**
 * wasm's matMul hands its right operand B [K, N] to XNNPACK as weights, packed (slowly, ~25-45 ns per element on
 * this machine) on every call with a new tensor: for a product with a long inner dimension K (the filter gradients:
 * K = N*H*W pixels) the packing, not the arithmetic, dominates. When A [M, K] is much narrower than B (M * 2 <= N)
 * computing (B^T A^T)^T packs the small one instead. Rank-2 products with a transposed operand only (the gradients):
 * a plain product keeps B packed, as forward passes with constant weights want (XNNPACK caches them).
 */
export function swapMatMulOperands(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): boolean {
  if (aShape.length !== 2 || bShape.length !== 2 || (!transposeA && !transposeB)) return false;
  const m = transposeA ? aShape[1] : aShape[0];
  const k = transposeA ? aShape[0] : aShape[1];
  const n = transposeB ? bShape[0] : bShape[1];
  return k * n >= 1 << 16 && m * 2 <= n;
}

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = t.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return t.transpose(perm);
}

/** Wraps wasm's: transposed operands by an explicit transpose (or the operand swap above), then wasm's fast path. */
export const batchMatMul: WasmKernel = {
  kernelName: 'BatchMatMul',
  mode: 'wrap',
  kernelFunc: (args, context) => {
    const a = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (context.fastPaths() && swapMatMulOperands(args.inputs.a.shape, args.inputs.b.shape, a.transposeA, a.transposeB)) {
      // (A B)^T = B^T A^T: the narrow A^T becomes the operand XNNPACK packs
      return tf.tidy(() => {
        const left = asTensor(args.inputs.a);
        const right = asTensor(args.inputs.b);
        const bT = a.transposeB ? right : right.transpose();
        const aT = a.transposeA ? left : left.transpose();
        return tf.matMul(bT as tf.Tensor2D, aT as tf.Tensor2D).transpose();
      });
    }
    if (!a.transposeA && !a.transposeB) return (context.original as tf.KernelConfig).kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    return tf.tidy(() => {
      const left = asTensor(args.inputs.a);
      const right = asTensor(args.inputs.b);
      return tf.matMul(a.transposeA ? swapLastTwo(left) : left, a.transposeB ? swapLastTwo(right) : right);
    });
  },
};
