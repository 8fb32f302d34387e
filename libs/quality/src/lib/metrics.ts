import type { PixelImage } from '@agekit/dataset';
import { perceptualHash } from './phash';

/** Gray values at or below this count as clipped shadows. */
export const SHADOW_CLIP_LEVEL = 5;
/** Gray values at or above this count as clipped highlights. */
export const HIGHLIGHT_CLIP_LEVEL = 250;

/** Everything measured on one decoded image. See libs/quality/README.md for the definitions. */
export interface ImageMetrics {
  width: number;
  height: number;
  /** Channels of the decoded pixels given (1 gray, 3 RGB, 4 RGBA; alpha is ignored). */
  channels: 1 | 3 | 4;
  /** Population variance of the 3x3 Laplacian of gray, reflect-101 borders (= cv2.Laplacian(gray, CV_64F).var()). */
  laplacianVariance: number;
  /** Mean of gray (0..255). */
  meanIntensity: number;
  /** Population standard deviation of gray. */
  stdIntensity: number;
  /** RMS contrast: standard deviation of gray scaled to 0..1 (stdIntensity / 255). */
  rmsContrast: number;
  /** CleanVision dark score: 99th percentile of per-pixel brightness (0..1). */
  darkScore: number;
  /** CleanVision light score: 1 - 5th percentile of per-pixel brightness. */
  lightScore: number;
  /** Share of gray pixels <= SHADOW_CLIP_LEVEL. */
  clippedShadows: number;
  /** Share of gray pixels >= HIGHLIGHT_CLIP_LEVEL. */
  clippedHighlights: number;
  /** Shannon entropy in bits of the R, G and B histograms pooled (PIL's Image.entropy() of an RGB image); gray: of the gray histogram. */
  entropy: number;
  /** min(width / height, height / width) (CleanVision). */
  aspectRatio: number;
  /** Mean over pixels of max(R, G, B) - min(R, G, B) (0 for gray images). */
  chromaMean: number;
  /**
   * 64-bit hash (16 hex digits) of the dimensions and the R, G, B values (alpha ignored; a gray pixel v
   * counts as (v, v, v)): equal for pixel-identical images whatever the decoder's channel count.
   */
  pixelHash: string;
  /** 64-bit perceptual hash (DCT of a 32x32 gray thumbnail), 16 hex digits. */
  phash: string;
}

/**
 * Gray exactly as OpenCV 4.x's cvtColor(COLOR_BGR2GRAY) rounds it for 8-bit images: @agekit/dataset's
 * rgbToGray, Y = (R*9798 + G*19235 + B*3735 + 16384) >> 15, equal to cv2 4.6 on all 16.7M colours.
 */
export function opencvGray(rgb: Uint8Array, width: number, height: number, channels = 3): Uint8Array {
  // the same formula as @agekit/dataset's rgbToGray; written out here so that worker processes measuring
  // images need not load @agekit/dataset (and its sharp/ajv dependencies) at run time
  const n = width * height;
  const out = new Uint8Array(n);
  if (channels === 1) {
    out.set(rgb.subarray(0, n));
    return out;
  }
  for (let i = 0, j = 0; i < n; i++, j += channels) out[i] = (rgb[j] * 9798 + rgb[j + 1] * 19235 + rgb[j + 2] * 3735 + 16384) >> 15;
  return out;
}

function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
}

/** Laplacian at (x, y) with reflect-101 borders (used for the border pixels only). */
function borderLaplacian(gray: Uint8Array, width: number, height: number, x: number, y: number): number {
  const row = y * width;
  const c = gray[row + x];
  const up = gray[reflect101(y - 1, height) * width + x];
  const down = gray[reflect101(y + 1, height) * width + x];
  const left = gray[row + reflect101(x - 1, width)];
  const right = gray[row + reflect101(x + 1, width)];
  return up + down + left + right - 4 * c;
}

/**
 * Population variance of the Laplacian (kernel 0 1 0 / 1 -4 1 / 0 1 0) of an 8-bit gray image with
 * reflect-101 borders: what `cv2.Laplacian(gray, cv2.CV_64F).var()` computes.
 */
export function laplacianVariance(gray: Uint8Array, width: number, height: number): number {
  const n = width * height;
  if (n === 0) return 0;
  let sum = 0;
  let sumSq = 0;
  if (height < 3 || width < 3) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = borderLaplacian(gray, width, height, x, y);
        sum += v;
        sumSq += v * v;
      }
    }
  } else {
    // border pixels: first and last rows, first and last columns
    for (let x = 0; x < width; x++) {
      const a = borderLaplacian(gray, width, height, x, 0);
      const b = borderLaplacian(gray, width, height, x, height - 1);
      sum += a + b;
      sumSq += a * a + b * b;
    }
    for (let y = 1; y < height - 1; y++) {
      const a = borderLaplacian(gray, width, height, 0, y);
      const b = borderLaplacian(gray, width, height, width - 1, y);
      sum += a + b;
      sumSq += a * a + b * b;
    }
    // interior: integer sums per row (|v| <= 1020, so a row's sum of squares stays below 2^31 up to
    // 2,000 columns; wider rows are summed in chunks), accumulated exactly in doubles
    const CHUNK = 2000;
    for (let y = 1; y < height - 1; y++) {
      const row = y * width;
      for (let x0 = 1; x0 < width - 1; x0 += CHUNK) {
        const end = row + Math.min(width - 1, x0 + CHUNK);
        let rs = 0;
        let rq = 0;
        let left = gray[row + x0 - 1];
        let c = gray[row + x0];
        for (let i = row + x0; i < end; i++) {
          const right = gray[i + 1];
          const v = (gray[i - width] + gray[i + width] + left + right - 4 * c) | 0;
          rs = (rs + v) | 0;
          rq = (rq + Math.imul(v, v)) | 0;
          left = c;
          c = right;
        }
        sum += rs;
        sumSq += rq >>> 0;
      }
    }
  }
  // Laplacian values are integers (|v| <= 1020), so the sums are exact in doubles up to ~8e9 pixels.
  const mean = sum / n;
  const variance = sumSq / n - mean * mean;
  return variance > 0 ? variance : 0;
}

/** Histogram of an 8-bit channel. */
export function histogram(values: Uint8Array, stride = 1, offset = 0, into = new Float64Array(256)): Float64Array {
  for (let i = offset; i < values.length; i += stride) into[values[i]]++;
  return into;
}

/** Mean and population standard deviation of 8-bit values from their histogram (what numpy's mean()/std() give). */
export function histogramStats(hist: ArrayLike<number>): { count: number; mean: number; std: number } {
  let count = 0;
  let sum = 0;
  for (let v = 0; v < 256; v++) {
    count += hist[v];
    sum += v * hist[v];
  }
  if (count === 0) return { count, mean: 0, std: 0 };
  const mean = sum / count;
  let ss = 0;
  for (let v = 0; v < 256; v++) {
    if (hist[v] === 0) continue;
    const d = v - mean;
    ss += hist[v] * d * d;
  }
  return { count, mean, std: Math.sqrt(ss / count) };
}

/** Shannon entropy in bits of a histogram (any number of bins), as PIL's Image.entropy(). */
export function histogramEntropy(hist: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (total === 0) return 0;
  let e = 0;
  for (let i = 0; i < hist.length; i++) {
    if (hist[i] > 0) {
      const p = hist[i] / total;
      e -= p * Math.log2(p);
    }
  }
  return e;
}

/** Brightness keys are bucketed by key >>> BUCKET_SHIFT for the order statistics (65,025,000 >>> 16 = 992). */
const BUCKET_SHIFT = 13;
const BUCKETS = (65_025_000 >>> BUCKET_SHIFT) + 1;

/** CleanVision brightness of an integer key 241 R^2 + 691 G^2 + 68 B^2. */
const keyBrightness = (key: number): number => Math.sqrt(key / 1000) / 255;

/** Scratch buffers reused across calls (one set per process/thread; nothing returned points into them). */
const cumulativeScratch = new Uint32Array(BUCKETS + 1);
let memberScratch = new Uint32Array(1024);
const slotScratch = new Uint16Array(BUCKETS);

/**
 * numpy.percentile (linear interpolation) of brightness from keys and their bucket counts: find the
 * bucket holding each needed rank, sort only that bucket's keys.
 */
function percentilesFromKeys(keys: Uint32Array, n: number, counts: Uint32Array, percentiles: readonly number[]): number[] {
  const cumulative = cumulativeScratch;
  cumulative[0] = 0;
  for (let b = 0; b < BUCKETS; b++) cumulative[b + 1] = cumulative[b] + counts[b];
  const bucketOf = (rank: number): number => {
    // binary search: the bucket b with cumulative[b] <= rank < cumulative[b + 1]
    let lo = 0;
    let hi = BUCKETS - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cumulative[mid] <= rank) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  // the distinct buckets holding the ranks needed; their keys are gathered (one scan) and sorted
  const needed: number[] = [];
  for (const p of percentiles) {
    const lo = Math.floor((p / 100) * (n - 1));
    for (const r of [lo, Math.min(lo + 1, n - 1)]) {
      const b = bucketOf(r);
      if (!needed.includes(b)) needed.push(b);
    }
  }
  // each needed bucket gets a slot; slotOf maps bucket -> slot + 1 (0 = not needed) during the one scan
  const slotOf = slotScratch;
  const fill = new Int32Array(needed.length);
  const begin = new Int32Array(needed.length);
  let total = 0;
  needed.forEach((b, s) => {
    slotOf[b] = s + 1;
    begin[s] = total;
    fill[s] = total;
    total += counts[b];
  });
  if (memberScratch.length < total) memberScratch = new Uint32Array(Math.max(total, 2 * memberScratch.length));
  const members = memberScratch;
  for (let i = 0; i < n; i++) {
    const k = keys[i];
    const s = slotOf[k >>> BUCKET_SHIFT];
    if (s !== 0) members[fill[s - 1]++] = k;
  }
  const sorted: Uint32Array[] = [];
  needed.forEach((b, s) => {
    slotOf[b] = 0;
    sorted.push(members.subarray(begin[s], begin[s] + counts[b]).sort());
  });
  const kth = (rank: number): number => {
    const b = bucketOf(rank);
    return sorted[needed.indexOf(b)][rank - cumulative[b]];
  };
  return percentiles.map((p) => {
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const frac = pos - lo;
    const a = keyBrightness(kth(lo));
    if (frac === 0 || lo + 1 >= n) return a;
    const b = keyBrightness(kth(lo + 1));
    return a + (b - a) * frac;
  });
}

/**
 * Percentiles (0..100) of CleanVision's per-pixel brightness sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255
 * (gray images: value / 255), with numpy.percentile's default linear interpolation.
 * Exact: brightness is ranked by the integer key 241 R^2 + 691 G^2 + 68 B^2.
 */
export function brightnessPercentiles(image: PixelImage, percentiles: readonly number[]): number[] {
  const n = image.width * image.height;
  if (n === 0) return percentiles.map(() => 0);
  const keys = new Uint32Array(n);
  const counts = new Uint32Array(BUCKETS);
  const ch = image.channels;
  const d = image.data;
  for (let i = 0, j = 0; i < n; i++, j += ch) {
    const k = ch === 1 ? 1000 * d[j] * d[j] : 241 * d[j] * d[j] + 691 * d[j + 1] * d[j + 1] + 68 * d[j + 2] * d[j + 2];
    keys[i] = k;
    counts[k >>> BUCKET_SHIFT]++;
  }
  return percentilesFromKeys(keys, n, counts, percentiles);
}

/** Finalisation mix of MurmurHash3 (32-bit). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The pass over colour pixels: gray (OpenCV rounding) into `gray`, gray and R/G/B histograms, brightness keys
 * and their bucket counts, the two pixel-hash lanes; returns the lanes and twice the chroma sum.
 */
function rgbPass(
  data: Uint8Array,
  n: number,
  channels: number,
  gray: Uint8Array,
  keys: Uint32Array,
  counts: Uint32Array,
  grayHist: Uint32Array,
  hist: Uint32Array,
  h1: number,
  h2: number,
): { h1: number; h2: number; chroma2: number } {
  // chroma: max - min of three values = (|r - g| + |g - b| + |b - r|) / 2 (branch-free)
  let chroma2 = 0;
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    const r = data[j];
    const g = data[j + 1];
    const b = data[j + 2];
    const y = (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
    gray[i] = y;
    const px = r | (g << 8) | (b << 16);
    h1 = Math.imul(h1 ^ px, 0xcc9e2d51);
    h1 = (h1 << 15) | (h1 >>> 17);
    h2 = Math.imul(h2 ^ px, 0x1b873593) + 0x6b43a9b5;
    h2 = (h2 << 13) | (h2 >>> 19);
    grayHist[y]++;
    hist[r]++;
    hist[256 + g]++;
    hist[512 + b]++;
    const d1 = r - g;
    const d2 = g - b;
    const d3 = b - r;
    chroma2 += ((d1 ^ (d1 >> 31)) - (d1 >> 31) + (d2 ^ (d2 >> 31)) - (d2 >> 31) + (d3 ^ (d3 >> 31)) - (d3 >> 31)) | 0;
    const k = 241 * r * r + 691 * g * g + 68 * b * b;
    keys[i] = k;
    counts[k >>> BUCKET_SHIFT]++;
  }
  return { h1, h2, chroma2 };
}

let grayScratch = new Uint8Array(0);
let keyScratch = new Uint32Array(0);
const countScratch = new Uint32Array(BUCKETS);
const grayHistScratch = new Uint32Array(256);
const rgbHistScratch = new Uint32Array(768);
const rgbHistF64 = new Float64Array(768);

/** Measure every metric of one decoded image (1, 3 or 4 channels; alpha ignored). */
export function measureImage(image: PixelImage): ImageMetrics {
  const { width, height, channels, data } = image;
  const n = width * height;
  if (n === 0) throw new Error(`image has no pixels (${width}x${height})`);
  if (data.length < n * channels) throw new Error(`pixel buffer holds ${data.length} bytes, expected ${n * channels}`);
  // one pass over the pixels: gray (OpenCV rounding), gray and RGB histograms, chroma, brightness keys
  if (keyScratch.length < n) keyScratch = new Uint32Array(n);
  if (channels !== 1 && grayScratch.length < n) grayScratch = new Uint8Array(n);
  const gray = channels === 1 ? data.subarray(0, n) : grayScratch;
  const keys = keyScratch;
  const counts = countScratch;
  counts.fill(0);
  const grayHist = grayHistScratch;
  grayHist.fill(0);
  let chromaSum = 0;
  let entropy: number;
  // two independent 32-bit lanes over the packed RGB value: a 64-bit pixel hash
  let h1 = (0x9747b28c ^ width) >>> 0;
  let h2 = (0x5bd1e995 ^ height) >>> 0;
  if (channels === 1) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      const px = v | (v << 8) | (v << 16);
      h1 = Math.imul(h1 ^ px, 0xcc9e2d51);
      h1 = (h1 << 15) | (h1 >>> 17);
      h2 = Math.imul(h2 ^ px, 0x1b873593) + 0x6b43a9b5;
      h2 = (h2 << 13) | (h2 >>> 19);
      grayHist[v]++;
      const k = 1000 * v * v;
      keys[i] = k;
      counts[k >>> BUCKET_SHIFT]++;
    }
    entropy = histogramEntropy(grayHist);
  } else {
    const hist = rgbHistScratch;
    hist.fill(0);
    const packed = rgbPass(data, n, channels, gray, keys, counts, grayHist, hist, h1, h2);
    h1 = packed.h1;
    h2 = packed.h2;
    const chroma2 = packed.chroma2;
    chromaSum = chroma2 / 2;
    rgbHistF64.set(hist);
    entropy = histogramEntropy(rgbHistF64);
  }
  const { mean, std } = histogramStats(grayHist);
  let shadows = 0;
  for (let v = 0; v <= SHADOW_CLIP_LEVEL; v++) shadows += grayHist[v];
  let highlights = 0;
  for (let v = HIGHLIGHT_CLIP_LEVEL; v < 256; v++) highlights += grayHist[v];
  const [p5, p99] = percentilesFromKeys(keys, n, counts, [5, 99]);
  const pixelHash = fmix32(h1 ^ n).toString(16).padStart(8, '0') + fmix32(h2 ^ Math.imul(n, 0x27d4eb2d) ^ h1).toString(16).padStart(8, '0');
  return {
    width,
    height,
    channels,
    laplacianVariance: laplacianVariance(gray, width, height),
    meanIntensity: mean,
    stdIntensity: std,
    rmsContrast: std / 255,
    darkScore: p99,
    lightScore: 1 - p5,
    clippedShadows: shadows / n,
    clippedHighlights: highlights / n,
    entropy,
    aspectRatio: Math.min(width / height, height / width),
    chromaMean: chromaSum / n,
    pixelHash,
    phash: perceptualHash(gray, width, height),
  };
}
