/** Side of the thumbnail the perceptual hash is computed on. */
const THUMB = 32;
/** Side of the block of lowest DCT frequencies kept (8x8 = 64 bits). */
const LOW = 8;

/** cos((2x + 1) u pi / 2N) for u < LOW, x < THUMB. */
const COS = (() => {
  const t = new Float64Array(LOW * THUMB);
  for (let u = 0; u < LOW; u++) for (let x = 0; x < THUMB; x++) t[u * THUMB + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * THUMB));
  return t;
})();

/**
 * Area-average (box filter) resampling of one 8-bit channel to `outW` x `outH`: each output pixel is
 * the mean of the source area it covers (fractional coverage at the edges); works for up- and downscaling.
 */
export function resampleArea(src: Uint8Array, width: number, height: number, outW: number, outH: number): Float64Array {
  const xs = areaWeights(width, outW);
  const ys = areaWeights(height, outH);
  // horizontal pass: width -> outW, per row
  const tmp = new Float64Array(outW * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let ox = 0; ox < outW; ox++) {
      const { first, weights } = xs[ox];
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += src[row + first + k] * weights[k];
      tmp[y * outW + ox] = acc;
    }
  }
  const out = new Float64Array(outW * outH);
  for (let oy = 0; oy < outH; oy++) {
    const { first, weights } = ys[oy];
    for (let ox = 0; ox < outW; ox++) {
      let acc = 0;
      for (let k = 0; k < weights.length; k++) acc += tmp[(first + k) * outW + ox] * weights[k];
      out[oy * outW + ox] = acc;
    }
  }
  return out;
}

/** For each output index: the first source index it covers and the normalised coverage of each source index. */
const weightCache = new Map<string, Array<{ first: number; weights: Float64Array }>>();

function areaWeights(size: number, outSize: number): Array<{ first: number; weights: Float64Array }> {
  const cacheKey = `${size}:${outSize}`;
  const cached = weightCache.get(cacheKey);
  if (cached) return cached;
  if (weightCache.size > 64) weightCache.clear();
  const scale = size / outSize;
  const out: Array<{ first: number; weights: Float64Array }> = [];
  for (let o = 0; o < outSize; o++) {
    const a = o * scale;
    const b = a + scale;
    const first = Math.floor(a);
    const last = Math.min(size - 1, Math.ceil(b) - 1);
    const weights = new Float64Array(Math.max(1, last - first + 1));
    for (let i = first; i <= last; i++) weights[i - first] = Math.max(0, Math.min(i + 1, b) - Math.max(i, a)) / scale;
    out.push({ first, weights });
  }
  weightCache.set(cacheKey, out);
  return out;
}

/** Area weights flattened for the hot loop: output o covers source first[o] .. first[o] + count[o] - 1 with weights[offset[o] + k]. */
interface FlatWeights {
  first: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weights: Float64Array;
}

const flatCache = new Map<string, FlatWeights>();

function flatWeights(size: number, outSize: number): FlatWeights {
  const cacheKey = `${size}:${outSize}`;
  const cached = flatCache.get(cacheKey);
  if (cached) return cached;
  if (flatCache.size > 64) flatCache.clear();
  const list = areaWeights(size, outSize);
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const offset = new Int32Array(outSize);
  let total = 0;
  list.forEach((w, o) => {
    first[o] = w.first;
    count[o] = w.weights.length;
    offset[o] = total;
    total += w.weights.length;
  });
  const weights = new Float64Array(total);
  list.forEach((w, o) => weights.set(w.weights, offset[o]));
  const flat = { first, count, offset, weights };
  flatCache.set(cacheKey, flat);
  return flat;
}

let thumbTmp = new Float64Array(0);
const thumbScratch = new Float64Array(THUMB * THUMB);
const rowsScratch = new Float64Array(LOW * THUMB);
const coeffScratch = new Float64Array(LOW * LOW);
const sortScratch = new Float64Array(LOW * LOW);

/** resampleArea to THUMB x THUMB into a scratch buffer: the same sums in the same order, without per-call allocations. */
function thumbnail(src: Uint8Array, width: number, height: number): Float64Array {
  const xs = flatWeights(width, THUMB);
  const ys = flatWeights(height, THUMB);
  if (thumbTmp.length < THUMB * height) thumbTmp = new Float64Array(THUMB * height);
  const tmp = thumbTmp;
  const xf = xs.first;
  const xc = xs.count;
  const xo = xs.offset;
  const xw = xs.weights;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let ox = 0; ox < THUMB; ox++) {
      const base = row + xf[ox];
      const wo = xo[ox];
      const cnt = xc[ox];
      let acc = 0;
      for (let k = 0; k < cnt; k++) acc += src[base + k] * xw[wo + k];
      tmp[y * THUMB + ox] = acc;
    }
  }
  const out = thumbScratch;
  for (let oy = 0; oy < THUMB; oy++) {
    const first = ys.first[oy];
    const cnt = ys.count[oy];
    const wo = ys.offset[oy];
    for (let ox = 0; ox < THUMB; ox++) {
      let acc = 0;
      for (let k = 0; k < cnt; k++) acc += tmp[(first + k) * THUMB + ox] * ys.weights[wo + k];
      out[oy * THUMB + ox] = acc;
    }
  }
  return out;
}

/**
 * 64-bit perceptual hash (the pHash idea as imagehash.phash does it): gray -> 32x32 area-average
 * thumbnail -> 2-D DCT-II -> the 8x8 lowest frequencies -> bit set where the coefficient exceeds their
 * median. Returned as 16 hex digits, bit 63 first (row-major over the 8x8 block).
 */
export function perceptualHash(gray: Uint8Array, width: number, height: number): string {
  const thumb = thumbnail(gray, width, height);
  // rows: R[u][y] = sum_x cos(u, x) * thumb[y][x]
  const rows = rowsScratch;
  for (let u = 0; u < LOW; u++) {
    for (let y = 0; y < THUMB; y++) {
      let acc = 0;
      for (let x = 0; x < THUMB; x++) acc += COS[u * THUMB + x] * thumb[y * THUMB + x];
      rows[u * THUMB + y] = acc;
    }
  }
  const coeffs = coeffScratch;
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      let acc = 0;
      for (let y = 0; y < THUMB; y++) acc += COS[v * THUMB + y] * rows[u * THUMB + y];
      coeffs[v * LOW + u] = acc;
    }
  }
  sortScratch.set(coeffs);
  const sorted = sortScratch.sort();
  const median = (sorted[31] + sorted[32]) / 2;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 64; i++) {
    if (coeffs[i] > median) {
      if (i < 32) hi |= 1 << (31 - i);
      else lo |= 1 << (63 - i);
    }
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** Number of differing bits between two 16-hex-digit hashes. */
export function hammingDistance(a: string, b: string): number {
  return popcount32(parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16)) + popcount32(parseInt(a.slice(8, 16), 16) ^ parseInt(b.slice(8, 16), 16));
}

export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
