import { clampByte, reflect101 } from './planes';

/** Normalised 1-D Gaussian kernel of odd `size` and standard deviation `sigma`. */
export function gaussianKernel(size: number, sigma: number): Float64Array {
  if (size < 1 || size % 2 === 0) throw new RangeError(`Gaussian kernel size must be odd and positive (got ${size})`);
  if (!(sigma > 0)) throw new RangeError(`Gaussian sigma must be positive (got ${sigma})`);
  const k = new Float64Array(size);
  const half = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const x = i - half;
    k[i] = Math.exp(-(x * x) / (2 * sigma * sigma));
    sum += k[i];
  }
  for (let i = 0; i < size; i++) k[i] /= sum;
  return k;
}

/**
 * Separable convolution of a float plane with the same 1-D kernel along rows then columns,
 * BORDER_REFLECT_101 ('same' output size).
 */
export function convolveSeparable(src: Float64Array, width: number, height: number, kernel: Float64Array): Float64Array {
  const taps = kernel.length;
  const half = (taps - 1) / 2;
  const tmp = new Float64Array(width * height);
  const out = new Float64Array(width * height);
  // rows: interior pixels index directly, the borders through reflected indices
  const xs = new Int32Array(width + 2 * half);
  for (let i = 0; i < xs.length; i++) xs[i] = reflect101(i - half, width);
  const inner0 = Math.min(half, width);
  const inner1 = Math.max(inner0, width - half);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < inner0; x++) {
      let s = 0;
      for (let k = 0; k < taps; k++) s += kernel[k] * src[row + xs[x + k]];
      tmp[row + x] = s;
    }
    for (let x = inner0; x < inner1; x++) {
      let s = 0;
      const base = row + x - half;
      for (let k = 0; k < taps; k++) s += kernel[k] * src[base + k];
      tmp[row + x] = s;
    }
    for (let x = inner1; x < width; x++) {
      let s = 0;
      for (let k = 0; k < taps; k++) s += kernel[k] * src[row + xs[x + k]];
      tmp[row + x] = s;
    }
  }
  // columns: accumulate whole rows (contiguous memory)
  for (let y = 0; y < height; y++) {
    const dst = y * width;
    for (let k = 0; k < taps; k++) {
      const w = kernel[k];
      const srcRow = reflect101(y + k - half, height) * width;
      for (let x = 0; x < width; x++) out[dst + x] += w * tmp[srcRow + x];
    }
  }
  return out;
}

/**
 * High-pass (Laplacian) sharpening of a plane: out = in - amount * Laplacian(in), with the 4-neighbour
 * Laplacian kernel (0 1 0 / 1 -4 1 / 0 1 0) and BORDER_REFLECT_101.
 */
export function laplacianSharpen(src: Uint8Array, width: number, height: number, amount: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const up = reflect101(y - 1, height) * width;
    const down = reflect101(y + 1, height) * width;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const left = reflect101(x - 1, width);
      const right = reflect101(x + 1, width);
      const c = src[row + x];
      const lap = src[up + x] + src[down + x] + src[row + left] + src[row + right] - 4 * c;
      out[row + x] = clampByte(c - amount * lap);
    }
  }
  return out;
}

/**
 * Add back a multiple of the detail a blur removed: out = in + amount * (in - blurred), where the
 * detail's magnitude exceeds `threshold` (else the pixel is kept). The unsharp mask and the
 * large-radius texture enhancement are both this, with different blur radii.
 */
export function addDetail(src: Uint8Array, blurred: Uint8Array, amount: number, threshold = 0): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const detail = src[i] - blurred[i];
    out[i] = Math.abs(detail) > threshold ? clampByte(src[i] + amount * detail) : src[i];
  }
  return out;
}

/** Apply a 256-entry look-up table to a plane. */
export function applyLut(src: Uint8Array, lut: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return out;
}

/** Gamma correction table: out = 255 * (in / 255) ^ gamma (gamma < 1 brightens, > 1 darkens). */
export function gammaLut(gamma: number): Uint8Array {
  if (!(gamma > 0)) throw new RangeError(`gamma must be positive (got ${gamma})`);
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = clampByte(255 * Math.pow(v / 255, gamma));
  return lut;
}

/**
 * Histogram equalisation table as OpenCV's equalizeHist builds it: the cumulative histogram, with
 * the lowest occupied level mapped to 0, scaled to 0..255. A single-level plane maps to itself.
 */
export function equalizeLut(src: Uint8Array): Uint8Array {
  const hist = new Uint32Array(256);
  for (let i = 0; i < src.length; i++) hist[src[i]]++;
  const lut = new Uint8Array(256);
  let first = 0;
  while (first < 256 && hist[first] === 0) first++;
  if (first === 256 || hist[first] === src.length) {
    for (let v = 0; v < 256; v++) lut[v] = v;
    return lut;
  }
  const scale = 255 / (src.length - hist[first]);
  let sum = 0;
  for (let v = first + 1; v < 256; v++) {
    sum += hist[v];
    lut[v] = clampByte(sum * scale);
  }
  return lut;
}

/**
 * Bilateral filter (Tomasi & Manduchi 1998) of an interleaved image: each pixel becomes the average
 * of its (2r+1)^2 neighbourhood (r = floor(diameter / 2)), weighted by a spatial Gaussian
 * (sigmaSpace, pixels) times a range Gaussian of the colour distance (sigmaColor, 0..255 levels;
 * distance = sum of absolute channel differences, as OpenCV does for colour). Alpha is copied.
 */
export function bilateralFilter(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  diameter: number,
  sigmaColor: number,
  sigmaSpace: number,
): Uint8Array {
  const r = Math.max(1, Math.floor(diameter / 2));
  const colourChannels = channels === 4 ? 3 : channels;
  const spatial = new Float64Array((2 * r + 1) * (2 * r + 1));
  for (let dy = -r, k = 0; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++, k++) spatial[k] = Math.exp(-(dx * dx + dy * dy) / (2 * sigmaSpace * sigmaSpace));
  }
  const maxDistance = 255 * colourChannels;
  const range = new Float64Array(maxDistance + 1);
  for (let d = 0; d <= maxDistance; d++) range[d] = Math.exp(-(d * d) / (2 * sigmaColor * sigmaColor));
  const out = new Uint8Array(src.length);
  const sums = new Float64Array(colourChannels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * channels;
      sums.fill(0);
      let weightSum = 0;
      for (let dy = -r, k = 0; dy <= r; dy++) {
        const row = reflect101(y + dy, height) * width;
        for (let dx = -r; dx <= r; dx++, k++) {
          const q = (row + reflect101(x + dx, width)) * channels;
          let distance = 0;
          for (let c = 0; c < colourChannels; c++) distance += Math.abs(src[p + c] - src[q + c]);
          const w = spatial[k] * range[distance];
          weightSum += w;
          for (let c = 0; c < colourChannels; c++) sums[c] += w * src[q + c];
        }
      }
      for (let c = 0; c < colourChannels; c++) out[p + c] = clampByte(sums[c] / weightSum);
      if (channels === 4) out[p + 3] = src[p + 3];
    }
  }
  return out;
}
