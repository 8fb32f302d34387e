import * as tf from '@tensorflow/tfjs';
import { installFastGradients, restoreOriginalGradients } from './gradients';
import { FAST_WASM_KERNELS } from './gradients-wasm';

/**
 * Gradient kernels composed from forward ops, for backends that lack them (tfjs-backend-wasm 4.x).
 * Each function here works on any backend; `registerWasmTrainingKernels` installs them on wasm.
 * All tensors are NHWC; filters are HWIO (conv) or [kh, kw, C, multiplier] (depthwise).
 */

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Pair = [number, number];

function pair(value: number | number[]): Pair {
  return typeof value === 'number' ? [value, value] : [value[0], value[1] ?? value[0]];
}

interface PadInfo {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function convPadding(
  xShape: number[],
  filterShape: [number, number, number, number],
  strides: Pair,
  pad: Pad,
  rounding: Rounding,
  depthwise: boolean,
): { padInfo: PadInfo; outHeight: number; outWidth: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    rounding,
    depthwise,
  );
  return { padInfo: info.padInfo, outHeight: info.outHeight, outWidth: info.outWidth };
}

function padSpatial(x: tf.Tensor4D, p: PadInfo): tf.Tensor4D {
  if (p.top === 0 && p.bottom === 0 && p.left === 0 && p.right === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ]);
}

/** Rotate a [kh, kw, a, b] filter by 180 degrees, in JavaScript (filters are small; wasm's Reverse and GatherV2 are slow). */
function flipSpatial(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, a, b] = filter.shape;
  if (kh * kw === 1) return filter;
  const src = filter.dataSync() as Float32Array;
  const dst = new Float32Array(src.length);
  const block = a * b;
  for (let i = 0; i < kh * kw; i++) dst.set(src.subarray(i * block, (i + 1) * block), (kh * kw - 1 - i) * block);
  return tf.tensor4d(dst, filter.shape);
}

/** Insert (stride - 1) zeros between the pixels of dy: the input of a transposed convolution. */
function dilateSpatial(dy: tf.Tensor4D, strides: Pair): tf.Tensor4D {
  const [sh, sw] = strides;
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const spread = tf.pad(dy.reshape([n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return spread.reshape([n, h * sh, w * sw, c]).slice([0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

/**
 * Pad (or crop, for negative amounts) the dilated output gradient so that a stride-1 'valid' correlation
 * with the flipped filter yields the input gradient of shape [inH, inW].
 */
function padForTransposedConv(dyDilated: tf.Tensor4D, kh: number, kw: number, p: PadInfo, inH: number, inW: number): tf.Tensor4D {
  const top = kh - 1 - p.top;
  const left = kw - 1 - p.left;
  const bottom = inH + kh - 1 - dyDilated.shape[1] - top;
  const right = inW + kw - 1 - dyDilated.shape[2] - left;
  let t = dyDilated;
  const crop = { top: Math.max(0, -top), bottom: Math.max(0, -bottom), left: Math.max(0, -left), right: Math.max(0, -right) };
  if (crop.top || crop.bottom || crop.left || crop.right) {
    const [n, h, w, c] = t.shape;
    t = t.slice([0, crop.top, crop.left, 0], [n, h - crop.top - crop.bottom, w - crop.left - crop.right, c]);
  }
  return padSpatial(t, { top: Math.max(0, top), bottom: Math.max(0, bottom), left: Math.max(0, left), right: Math.max(0, right) });
}

/**
 * Gradient of conv2d with respect to its filter: a forward convolution of the transposed input (channels as batch)
 * with the transposed output gradient as the filter, dilation = stride. 1x1 stride-1 filters take a matrix product
 * instead (x^T dy over all pixels; measured 2.5-8x faster on wasm than the convolution form). Padding follows TF ('same' puts the extra
 * pixel at the bottom/right), taken from `computeConv2DInfo`.
 * (Measured and dropped: swapping the roles so that the narrower x is the packed filter was 1.5-2x slower.)
 */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw, ci, co] = filterShape;
    const { padInfo } = convPadding(x.shape, filterShape, s, pad, rounding, false);
    if (kh === 1 && kw === 1 && s[0] === 1 && s[1] === 1 && !padInfo.top && !padInfo.bottom && !padInfo.left && !padInfo.right) {
      // 1x1, stride 1: a plain matrix product x^T dy over all pixels
      const m = x.shape[0] * x.shape[1] * x.shape[2];
      return tf.matMul(x.reshape([m, ci]), dy.reshape([m, co]), true, false).reshape([1, 1, ci, co]) as tf.Tensor4D;
    }
    const xT = padSpatial(x, padInfo).transpose([3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, N]
    const dyT = dy.transpose([1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Co]
    const g = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', s); // [Ci, >=kh, >=kw, Co]
    const cropped = g.shape[1] === kh && g.shape[2] === kw ? g : g.slice([0, 0, 0, 0], [ci, kh, kw, co]);
    return cropped.transpose([1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** Gradient of conv2d with respect to its input: a stride-1 correlation of the zero-dilated dy with the flipped, transposed filter. */
export function conv2dInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw] = filter.shape;
    const { padInfo } = convPadding(inputShape, filter.shape, s, pad, rounding, false);
    const flipped = flipSpatial(filter).transpose([0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, Co, Ci]
    const padded = padForTransposedConv(dilateSpatial(dy, s), kh, kw, padInfo, inputShape[1], inputShape[2]);
    return tf.conv2d(padded, flipped, 1, 'valid');
  });
}

/**
 * Every (output pixel, filter tap) pair whose input pixel lies inside the image, for one image, in the order
 * oy, ox, ky, kx: `col` is the offset in the im2col row-major [Ho*Wo, kh*kw*Ci] matrix, `pixel` the offset of the
 * input pixel in [H, W, Ci]. im2col gathers along these pairs, col2im scatter-adds along them.
 */
function windowTaps(g: { h: number; w: number; ho: number; wo: number; kh: number; kw: number; sh: number; sw: number; top: number; left: number; ci: number }): { col: Int32Array; pixel: Int32Array } {
  const col: number[] = [];
  const pixel: number[] = [];
  const k = g.kh * g.kw * g.ci;
  for (let oy = 0; oy < g.ho; oy++) {
    for (let ox = 0; ox < g.wo; ox++) {
      for (let ky = 0; ky < g.kh; ky++) {
        const iy = oy * g.sh - g.top + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (let kx = 0; kx < g.kw; kx++) {
          const ix = ox * g.sw - g.left + kx;
          if (ix < 0 || ix >= g.w) continue;
          col.push((oy * g.wo + ox) * k + (ky * g.kw + kx) * g.ci);
          pixel.push((iy * g.w + ix) * g.ci);
        }
      }
    }
  }
  return { col: Int32Array.from(col), pixel: Int32Array.from(pixel) };
}

/**
 * What im2col and col2im share for a convolution of `inputShape` by `filterShape` giving `outShape`: the matrix sizes
 * (M = N*Ho*Wo rows, K = kh*kw*Ci columns), the per-image strides of the cols matrix and of the input, and the taps.
 */
function im2colLayout(
  inputShape: number[],
  filterShape: [number, number, number, number],
  outShape: number[],
  strides: number | number[],
  pad: Pad,
  rounding: Rounding,
): { m: number; k: number; ci: number; co: number; colsPerImage: number; pixelsPerImage: number; taps: { col: Int32Array; pixel: Int32Array } } {
  const [sh, sw] = pair(strides);
  const [kh, kw, ci, co] = filterShape;
  const { padInfo } = convPadding(inputShape, filterShape, [sh, sw], pad, rounding, false);
  const [n, h, w] = inputShape;
  const [, ho, wo] = outShape;
  const k = kh * kw * ci;
  const taps = windowTaps({ h, w, ho, wo, kh, kw, sh, sw, top: padInfo.top, left: padInfo.left, ci });
  return { m: n * ho * wo, k, ci, co, colsPerImage: ho * wo * k, pixelsPerImage: h * w * ci, taps };
}

/**
 * Gradient of conv2d with respect to its input as a matrix product and a scatter-add: cols = dy[M, Co] W^T[Co, kh*kw*Ci]
 * (M = N*Ho*Wo; the small filter is the matrix product's packed operand), then each row of cols is added into its
 * receptive field (col2im, a JavaScript loop). No zero-dilation, so strided convolutions cost what stride 1 does.
 */
export function conv2dInputGradientCol2im(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  const { m, k, ci, co, colsPerImage, pixelsPerImage, taps } = im2colLayout(inputShape, filter.shape, dy.shape, strides, pad, rounding);
  const colsTensor = tf.tidy(() => tf.matMul(dy.reshape([m, co]) as tf.Tensor2D, filter.reshape([k, co]).transpose() as tf.Tensor2D));
  const cols = colsTensor.dataSync() as Float32Array;
  colsTensor.dispose();
  const dx = new Float32Array(inputShape[0] * pixelsPerImage);
  for (let b = 0; b < inputShape[0]; b++) {
    const colBase = b * colsPerImage;
    const pixelBase = b * pixelsPerImage;
    for (let t = 0; t < taps.col.length; t++) {
      const src = colBase + taps.col[t];
      const dst = pixelBase + taps.pixel[t];
      for (let c = 0; c < ci; c++) dx[dst + c] += cols[src + c];
    }
  }
  return tf.tensor4d(dx, inputShape);
}

/**
 * Gradient of conv2d with respect to its filter as im2col and one matrix product: dW^T[Co, K] = dy^T[Co, M] cols[M, K]
 * with K = kh*kw*Ci. XNNPACK packs the right operand per call, so this pays when K is small (the RGB stem: K = 27);
 * for wide inputs the convolution form (`conv2dFilterGradient`) is faster.
 */
export function conv2dFilterGradientIm2col(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  const { m, k, ci, co, colsPerImage, pixelsPerImage, taps } = im2colLayout(x.shape, filterShape, dy.shape, strides, pad, rounding);
  const xv = x.dataSync() as Float32Array;
  const cols = new Float32Array(m * k); // zero where the window hangs over the padding
  for (let b = 0; b < x.shape[0]; b++) {
    const colBase = b * colsPerImage;
    const pixelBase = b * pixelsPerImage;
    for (let t = 0; t < taps.col.length; t++) {
      const src = pixelBase + taps.pixel[t];
      const dst = colBase + taps.col[t];
      for (let c = 0; c < ci; c++) cols[dst + c] = xv[src + c];
    }
  }
  return tf.tidy(() => {
    const colsTensor = tf.tensor2d(cols, [m, k]);
    const dwT = tf.matMul(dy.reshape([m, co]).transpose() as tf.Tensor2D, colsTensor); // [Co, K]
    return dwT.transpose().reshape(filterShape) as tf.Tensor4D;
  });
}

/**
 * Gradient of a depthwise conv with respect to its filter: the batch is folded into the channels of one image,
 * dy becomes a depthwise filter (dilation = stride), and the per-image results are summed.
 */
export function depthwiseFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw, c, m] = filterShape;
    const [n] = x.shape;
    const { padInfo } = convPadding(x.shape, filterShape, s, pad, rounding, true);
    const xp = padSpatial(x, padInfo);
    const xR = xp.transpose([1, 2, 0, 3]).reshape([1, xp.shape[1], xp.shape[2], n * c]) as tf.Tensor4D;
    const [, ho, wo] = dy.shape;
    const dyR = dy.transpose([1, 2, 0, 3]).reshape([ho, wo, n * c, m]) as tf.Tensor4D;
    const g = tf.depthwiseConv2d(xR, dyR, 1, 'valid', 'NHWC', s); // [1, >=kh, >=kw, N*C*M]
    const cropped = g.shape[1] === kh && g.shape[2] === kw ? g : g.slice([0, 0, 0, 0], [1, kh, kw, n * c * m]);
    return cropped.reshape([kh, kw, n, c, m]).sum(2) as tf.Tensor4D;
  });
}

/** Gradient of a depthwise conv with respect to its input. */
export function depthwiseInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | number[],
  pad: Pad,
  rounding?: Rounding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const s = pair(strides);
    const [kh, kw, c, m] = filter.shape;
    const { padInfo } = convPadding(inputShape, filter.shape, s, pad, rounding, true);
    const flipped = flipSpatial(filter).reshape([kh, kw, c * m, 1]) as tf.Tensor4D;
    const padded = padForTransposedConv(dilateSpatial(dy, s), kh, kw, padInfo, inputShape[1], inputShape[2]);
    const out = tf.depthwiseConv2d(padded, flipped, 1, 'valid'); // [N, H, W, C*M]
    if (m === 1) return out;
    const [n, h, w] = out.shape;
    return out.reshape([n, h, w, c, m]).sum(4) as tf.Tensor4D;
  });
}

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

/** unsortedSegmentSum as a one-hot matrix product (segment ids outside [0, numSegments) are dropped, as in TF). */
export function unsortedSegmentSumByMatMul(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const ids = segmentIds.reshape([-1]).cast('int32') as tf.Tensor1D;
    const rows = ids.shape[0];
    const rest = x.shape.slice(segmentIds.rank);
    const flat = x.cast('float32').reshape([rows, -1]) as tf.Tensor2D;
    const oneHot = tf.oneHot(ids, numSegments).cast('float32') as tf.Tensor2D;
    const out = tf.matMul(oneHot, flat, true, false).reshape([numSegments, ...rest]);
    return x.dtype === 'float32' ? out : out.cast(x.dtype);
  });
}

function swapLastTwo(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = t.rank;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return t.transpose(perm);
}

interface KernelArgs {
  inputs: tf.NamedTensorMap | Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

function asTensor(info: tf.TensorInfo | tf.Tensor): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  throw new Error('composed kernel: expected a Tensor input');
}

const registeredOn = new Set<string>();
/** Filter gradients with kh*kw*Ci up to this take im2col + matMul (measured faster only for narrow inputs). */
const IM2COL_MAX_K = 32;

/**
 * Register, on the wasm backend, the gradient kernels training needs that it lacks or runs slowly:
 * Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input, UnsortedSegmentSum (missing), and
 * Conv2DBackpropInput (replaced for stride 1 by a forward conv), MaxPoolGrad (a JavaScript loop) and BatchMatMul with transposeA/B
 * (replaced by an explicit transpose then the fast path), then switches on the speed-only fast paths
 * (`setWasmTrainingFastPaths`). Idempotent; returns the kernel (and gradient) names registered.
 */
export function registerWasmTrainingKernels(backendName = 'wasm'): string[] {
  const names: string[] = [];
  if (registeredOn.has(backendName)) return [...KERNELS_REGISTERED];
  const install = (kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo, replace: boolean): void => {
    const existing = tf.getKernel(kernelName, backendName);
    if (existing && !replace) return;
    if (existing) tf.unregisterKernel(kernelName, backendName);
    tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    names.push(kernelName);
  };

  install(
    'Conv2DBackpropFilter',
    ({ inputs, attrs }) => {
      const a = attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; filterShape: [number, number, number, number]; dataFormat?: string };
      if (a.dataFormat && a.dataFormat !== 'NHWC') throw new Error('Conv2DBackpropFilter (composed): only NHWC');
      const [kh, kw, ci] = a.filterShape;
      if (fastPathsOn.get(backendName) && kh * kw * ci <= IM2COL_MAX_K) {
        return conv2dFilterGradientIm2col(asTensor(inputs.x) as tf.Tensor4D, asTensor(inputs.dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
      }
      return conv2dFilterGradient(asTensor(inputs.x) as tf.Tensor4D, asTensor(inputs.dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
    },
    false,
  );

  const originalInput = tf.getKernel('Conv2DBackpropInput', backendName);
  install(
    'Conv2DBackpropInput',
    (args) => {
      const a = args.attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; inputShape: [number, number, number, number]; dataFormat?: string };
      const s = pair(a.strides);
      const nhwc = !a.dataFormat || a.dataFormat === 'NHWC';
      if (nhwc && (s[0] !== 1 || s[1] !== 1) && fastPathsOn.get(backendName)) {
        return conv2dInputGradientCol2im(asTensor(args.inputs.dy) as tf.Tensor4D, asTensor(args.inputs.filter) as tf.Tensor4D, a.inputShape, s, a.pad, a.dimRoundingMode);
      }
      if (originalInput && (process.env.AGEKIT_NATIVE_BPI || s[0] !== 1 || s[1] !== 1 || !nhwc)) {
        return originalInput.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
      }
      return conv2dInputGradient(asTensor(args.inputs.dy) as tf.Tensor4D, asTensor(args.inputs.filter) as tf.Tensor4D, a.inputShape, s, a.pad, a.dimRoundingMode);
    },
    true,
  );

  install(
    'DepthwiseConv2dNativeBackpropFilter',
    ({ inputs, attrs }) => {
      const a = attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; filterShape: [number, number, number, number]; dilations?: number | number[] };
      assertNoDilation(a.dilations, 'DepthwiseConv2dNativeBackpropFilter');
      return depthwiseFilterGradient(asTensor(inputs.x) as tf.Tensor4D, asTensor(inputs.dy) as tf.Tensor4D, a.filterShape, a.strides, a.pad, a.dimRoundingMode);
    },
    false,
  );

  install(
    'DepthwiseConv2dNativeBackpropInput',
    ({ inputs, attrs }) => {
      const a = attrs as { strides: number | number[]; pad: Pad; dimRoundingMode?: Rounding; inputShape: [number, number, number, number]; dilations?: number | number[] };
      assertNoDilation(a.dilations, 'DepthwiseConv2dNativeBackpropInput');
      return depthwiseInputGradient(asTensor(inputs.dy) as tf.Tensor4D, asTensor(inputs.filter) as tf.Tensor4D, a.inputShape, a.strides, a.pad, a.dimRoundingMode);
    },
    false,
  );

  install(
    'MaxPoolGrad',
    ({ inputs, attrs }) => {
      const a = attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: Pad; dimRoundingMode?: Rounding };
      return maxPoolGradient(asTensor(inputs.dy) as tf.Tensor4D, asTensor(inputs.input) as tf.Tensor4D, asTensor(inputs.output) as tf.Tensor4D, a.filterSize, a.strides, a.pad, a.dimRoundingMode);
    },
    true,
  );

  install(
    'UnsortedSegmentSum',
    ({ inputs, attrs }) => unsortedSegmentSumByMatMul(asTensor(inputs.x), asTensor(inputs.segmentIds), (attrs as { numSegments: number }).numSegments),
    false,
  );

  const originalMatMul = tf.getKernel('BatchMatMul', backendName);
  if (originalMatMul) {
    install(
      'BatchMatMul',
      (args) => {
        const a = args.attrs as { transposeA: boolean; transposeB: boolean };
        if (fastPathsOn.get(backendName) && swapMatMulOperands(args.inputs.a.shape, args.inputs.b.shape, a.transposeA, a.transposeB)) {
          // (A B)^T = B^T A^T: the narrow A^T becomes the operand XNNPACK packs
          return tf.tidy(() => {
            const left = asTensor(args.inputs.a);
            const right = asTensor(args.inputs.b);
            const bT = a.transposeB ? right : right.transpose();
            const aT = a.transposeA ? left : left.transpose();
            return tf.matMul(bT as tf.Tensor2D, aT as tf.Tensor2D).transpose();
          });
        }
        if (!a.transposeA && !a.transposeB) return originalMatMul.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
        return tf.tidy(() => {
          const left = asTensor(args.inputs.a);
          const right = asTensor(args.inputs.b);
          return tf.matMul(a.transposeA ? swapLastTwo(left) : left, a.transposeB ? swapLastTwo(right) : right);
        });
      },
      true,
    );
  }
  registeredOn.add(backendName);
  const fast: FastPath[] = Object.entries(FAST_WASM_KERNELS).map(([kernelName, kernel]) => {
    const original = tf.getKernel(kernelName, backendName);
    return { kernelName, original, fast: { kernelName, backendName, kernelFunc: ((args: KernelArgs) => kernel(args as never, original)) as unknown as tf.KernelFunc } };
  });
  fastPaths.set(backendName, fast);
  fastPathsOn.set(backendName, false);
  names.push(...setWasmTrainingFastPaths(true, backendName));
  KERNELS_REGISTERED.push(...names);
  return names;
}

interface FastPath {
  kernelName: string;
  original: tf.KernelConfig | undefined;
  fast: tf.KernelConfig;
}
const fastPaths = new Map<string, FastPath[]>();
const fastPathsOn = new Map<string, boolean>();

/**
 * Switch the speed-only training paths on or off (default on once `registerWasmTrainingKernels` ran): wasm kernels
 * for Tile, Identity, Cast, Sum and Mean over leading axes (see gradients-wasm.ts); the FusedBatchNorm and Mean
 * gradients (gradients.ts; global, every backend); strided Conv2DBackpropInput by col2im (instead of wasm's native
 * kernel), the RGB stem's filter gradient by im2col, and operand-swapped transposed matMuls (`swapMatMulOperands`).
 * Off restores tfjs's own kernels and gradients and the previous choices; for A/B benchmarks
 * (tools/bench/train/fast-paths-ab.ts). Returns the names of the kernels and gradients switched.
 */
export function setWasmTrainingFastPaths(enabled: boolean, backendName = 'wasm'): string[] {
  const paths = fastPaths.get(backendName);
  if (!paths) return [];
  const switched: string[] = [];
  if (fastPathsOn.get(backendName) !== enabled) {
    for (const p of paths) {
      if (tf.getKernel(p.kernelName, backendName)) tf.unregisterKernel(p.kernelName, backendName);
      const config = enabled ? p.fast : p.original;
      if (config) tf.registerKernel(config);
      switched.push(p.kernelName);
    }
    fastPathsOn.set(backendName, enabled);
  }
  if (enabled) switched.push(...installFastGradients().map((n) => `${n} gradient`));
  else restoreOriginalGradients();
  return switched;
}

const KERNELS_REGISTERED: string[] = [];

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

function assertNoDilation(dilations: number | number[] | undefined, name: string): void {
  const d = dilations === undefined ? [1, 1] : pair(dilations);
  if (d[0] !== 1 || d[1] !== 1) throw new Error(`${name} (composed): dilations other than 1 are not supported`);
}
