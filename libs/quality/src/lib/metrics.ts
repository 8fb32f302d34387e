import { rgbToGray, type PixelImage } from '@agekit/dataset';
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

/** Metric names in CSV order (snake_case columns are derived from these). */
export const METRIC_NAMES = [
  'laplacianVariance',
  'meanIntensity',
  'stdIntensity',
  'rmsContrast',
  'darkScore',
  'lightScore',
  'clippedShadows',
  'clippedHighlights',
  'entropy',
  'aspectRatio',
  'chromaMean',
] as const;

/**
 * Gray exactly as OpenCV 4.x's cvtColor(COLOR_BGR2GRAY) rounds it for 8-bit images: @agekit/dataset's
 * rgbToGray, Y = (R*9798 + G*19235 + B*3735 + 16384) >> 15, equal to cv2 4.6 on all 16.7M colours.
 */
export const opencvGray: (rgb: Uint8Array, width: number, height: number, channels?: number) => Uint8Array = rgbToGray;

function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
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
  const border = (x: number, y: number): number => {
    const c = gray[y * width + x];
    const up = gray[reflect101(y - 1, height) * width + x];
    const down = gray[reflect101(y + 1, height) * width + x];
    const left = gray[y * width + reflect101(x - 1, width)];
    const right = gray[y * width + reflect101(x + 1, width)];
    return up + down + left + right - 4 * c;
  };
  for (let y = 0; y < height; y++) {
    if (y === 0 || y === height - 1 || width < 3) {
      for (let x = 0; x < width; x++) {
        const v = border(x, y);
        sum += v;
        sumSq += v * v;
      }
      continue;
    }
    const row = y * width;
    let v = border(0, y);
    sum += v;
    sumSq += v * v;
    const end = row + width - 1;
    for (let i = row + 1; i < end; i++) {
      v = gray[i - width] + gray[i + width] + gray[i - 1] + gray[i + 1] - 4 * gray[i];
      sum += v;
      sumSq += v * v;
    }
    v = border(width - 1, y);
    sum += v;
    sumSq += v * v;
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
const BUCKET_SHIFT = 16;
const BUCKETS = (65_025_000 >>> BUCKET_SHIFT) + 1;

/** CleanVision brightness of an integer key 241 R^2 + 691 G^2 + 68 B^2. */
const keyBrightness = (key: number): number => Math.sqrt(key / 1000) / 255;

/**
 * numpy.percentile (linear interpolation) of brightness from keys and their bucket counts: find the
 * bucket holding each needed rank, sort only that bucket's keys.
 */
function percentilesFromKeys(keys: Uint32Array, counts: Uint32Array, percentiles: readonly number[]): number[] {
  const n = keys.length;
  const cumulative = new Uint32Array(BUCKETS + 1);
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
  // every rank needed, its bucket; then one scan collects the keys of all those buckets
  const ranks: number[] = [];
  for (const p of percentiles) {
    const lo = Math.floor((p / 100) * (n - 1));
    ranks.push(lo, Math.min(lo + 1, n - 1));
  }
  const members: Array<Uint32Array | undefined> = new Array(BUCKETS);
  const filled = new Uint32Array(BUCKETS);
  for (const r of ranks) {
    const b = bucketOf(r);
    members[b] ??= new Uint32Array(counts[b]);
  }
  for (let i = 0; i < n; i++) {
    const b = keys[i] >>> BUCKET_SHIFT;
    const m = members[b];
    if (m !== undefined) m[filled[b]++] = keys[i];
  }
  for (const m of members) m?.sort();
  const kth = (rank: number): number => {
    const b = bucketOf(rank);
    return (members[b] as Uint32Array)[rank - cumulative[b]];
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
  return percentilesFromKeys(keys, counts, percentiles);
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

/** Measure every metric of one decoded image (1, 3 or 4 channels; alpha ignored). */
export function measureImage(image: PixelImage): ImageMetrics {
  const { width, height, channels, data } = image;
  const n = width * height;
  if (n === 0) throw new Error(`image has no pixels (${width}x${height})`);
  if (data.length < n * channels) throw new Error(`pixel buffer holds ${data.length} bytes, expected ${n * channels}`);
  // one pass over the pixels: gray (OpenCV rounding), gray and RGB histograms, chroma, brightness keys
  const gray = channels === 1 ? data.subarray(0, n) : new Uint8Array(n);
  const grayHist = new Uint32Array(256);
  const keys = new Uint32Array(n);
  const counts = new Uint32Array(BUCKETS);
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
    const rHist = new Uint32Array(256);
    const gHist = new Uint32Array(256);
    const bHist = new Uint32Array(256);
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
      rHist[r]++;
      gHist[g]++;
      bHist[b]++;
      const max = r > g ? (r > b ? r : b) : g > b ? g : b;
      const min = r < g ? (r < b ? r : b) : g < b ? g : b;
      chromaSum += max - min;
      const k = 241 * r * r + 691 * g * g + 68 * b * b;
      keys[i] = k;
      counts[k >>> BUCKET_SHIFT]++;
    }
    const rgbHist = new Float64Array(768);
    rgbHist.set(rHist, 0);
    rgbHist.set(gHist, 256);
    rgbHist.set(bHist, 512);
    entropy = histogramEntropy(rgbHist);
  }
  const { mean, std } = histogramStats(grayHist);
  let shadows = 0;
  for (let v = 0; v <= SHADOW_CLIP_LEVEL; v++) shadows += grayHist[v];
  let highlights = 0;
  for (let v = HIGHLIGHT_CLIP_LEVEL; v < 256; v++) highlights += grayHist[v];
  const [p5, p99] = percentilesFromKeys(keys, counts, [5, 99]);
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
