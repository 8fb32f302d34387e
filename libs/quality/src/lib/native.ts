import { loadNativeAddon, METADATA_METRICS, type MetadataNumberMetric, type PixelImage } from '@agekit/dataset';
import type { ImageMetrics } from './metrics';

/** The numeric metrics in CSV order: the number entries of @agekit/dataset's METADATA_METRICS (the one metric table). */
export const METRIC_NAMES: readonly MetadataNumberMetric[] = METADATA_METRICS.flatMap((m) => (m.kind === 'number' ? [m.name] : []));

/**
 * The optional native engine (libs/quality/native: C, N-API, libjpeg): reads plain 8-bit JPEGs, decodes
 * them with libjpeg(-turbo) and computes every ImageMetrics field with the same arithmetic as
 * measureImage (bit-for-bit equal results, checked in native.spec.ts), on libuv's thread pool.
 * Files it does not handle come back as 'not-handled' for the JS path (decode + measureImage).
 * It is built by `node tools/scripts/build-native.mjs`; without it everything works in JS.
 */

/** File name of the built addon. */
export const NATIVE_ADDON_FILE = 'agekit_quality.node';
/** Set to 1 to pretend the addon is absent (the JS path is then used everywhere). */
export const NATIVE_DISABLE_ENV = 'AGEKIT_NO_NATIVE';
/** An explicit path to the addon (else it is looked for next to this library, see loadNativeQuality). */
export const NATIVE_PATH_ENV = 'AGEKIT_QUALITY_NATIVE';

/** The addon's ABI this wrapper speaks (AQ_ABI in native/src/addon.c). */
const ABI = 2;
/**
 * The metric the engine gives as a histogram (AQ_HIST bins per image) rather than a value: entropy is computed
 * here from it (see metricsFrom). Every other numeric metric of the table is a slot of the engine's metrics array.
 */
const HISTOGRAM_METRIC: MetadataNumberMetric = 'entropy';
const INFO_PER_IMAGE = 4;
/** Output-array sets kept for the next batches (explore keeps 4 batches in flight). */
const SPARE_OUTPUTS = 4;
const HIST_PER_IMAGE = 768;
const HASH_CHARS = 32;

/** Status codes of native/src/engine.h. */
const STATUS_OK = 0;
// 1 = not handled (anything else that is not listed here is treated the same way)
const STATUS_NOT_FOUND = 2;
const STATUS_PERMISSION = 3;
const STATUS_IS_DIRECTORY = 4;

interface BatchArrays {
  info: Int32Array;
  metrics: Float64Array;
  hist: Uint32Array;
  hashes: string;
  timers: Float64Array;
}

interface NativeBinding {
  abi: number;
  /** The metric name of each slot of the per-image metrics array (enum aq_metric in native/src/engine.h). */
  metricNames: string[];
  setCosTable(table: Float64Array): void;
  measureFiles(paths: string[], maxPixels: number, threads: number, timers: boolean, outputs?: Partial<Pick<BatchArrays, 'info' | 'metrics' | 'hist'>>): Promise<BatchArrays>;
  measurePixels(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): { metrics: Float64Array; hist: Uint32Array; hashes: string };
}

/** One file's outcome from the native engine. */
export type NativeOutcome =
  | { status: 'ok'; metrics: ImageMetrics; format: 'jpeg'; sourceChannels: 1 | 3 }
  /** Not a case the engine handles (not a plain complete 8-bit JPEG without EXIF rotation, too large, a libjpeg warning or error, ...): measure it in JS. */
  | { status: 'not-handled' }
  /** The file could not be read; reason and detail as @agekit/dataset's ImageDecodeError gives them. */
  | { status: 'failed'; reason: 'not-found' | 'unreadable'; detail: string };

export interface NativeMeasureOptions {
  /** Files with more pixels (from the header) are left to the JS path, which names the error. */
  maxPixels: number;
  /** Work items on libuv's thread pool (default 1); files are dealt to them round-robin. */
  threads?: number;
  /** Measure per-stage thread CPU time (default false). */
  timers?: boolean;
}

/** Thread CPU seconds spent per stage, summed over the engine's threads (zeros unless timers were asked for). */
export interface NativeStageTimes {
  readSeconds: number;
  decodeSeconds: number;
  metricsSeconds: number;
}

export interface NativeBatchResult {
  /** One outcome per path, in order. */
  outcomes: NativeOutcome[];
  times: NativeStageTimes;
}

export interface NativeQuality {
  /** The addon file loaded. */
  file: string;
  /** The metric of each slot of the engine's per-image metrics array, as the addon names them. */
  metricNames: readonly string[];
  /** Read, decode and measure files on libuv's thread pool; never rejects for a bad file (that is an outcome). */
  measureFiles(paths: readonly string[], options: NativeMeasureOptions): Promise<NativeBatchResult>;
  /** The native arithmetic on decoded pixels (1, 3 or 4 channels; alpha ignored), synchronously: what measureImage gives. */
  measurePixels(image: PixelImage): ImageMetrics;
}

/** cos((2x + 1) u pi / 64), the same expression as phash.ts's table, so the C DCT uses V8's cosines. */
function cosTable(): Float64Array {
  const t = new Float64Array(8 * 32);
  for (let u = 0; u < 8; u++) for (let x = 0; x < 32; x++) t[u * 32 + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * 32));
  return t;
}

/**
 * Entropy of hist[offset, offset + bins) exactly as histogramEntropy computes it (same terms, same order,
 * so the same bits). The term p log2 p (p = count / total) depends only on count once total is fixed, and
 * all images of one size share total: for a total seen often a table of terms is filled lazily (a few
 * tables at most), which saves most Math.log2 calls on datasets of equal-sized images; other images
 * memoise their own terms.
 */
const TABLE_MIN_SEEN = 8;
const TABLE_MAX_TOTAL = 1 << 22;
const TABLE_MAX_COUNT = 8;
const seenTotals = new Map<number, number>();
const termTables = new Map<number, Float64Array>();
const MEMO_SIZE = 1 << 16;
const memoStamps = new Uint32Array(MEMO_SIZE);
const memoTerms = new Float64Array(MEMO_SIZE);
let memoStamp = 0;

function termTable(total: number): Float64Array | undefined {
  const table = termTables.get(total);
  if (table) return table;
  if (total > TABLE_MAX_TOTAL) return undefined;
  if (seenTotals.size >= 8192) seenTotals.clear();
  const seen = (seenTotals.get(total) ?? 0) + 1;
  seenTotals.set(total, seen);
  if (seen < TABLE_MIN_SEEN) return undefined;
  if (termTables.size >= TABLE_MAX_COUNT) {
    const oldest = termTables.keys().next().value as number;
    termTables.delete(oldest);
  }
  const created = new Float64Array(total + 1).fill(NaN);
  termTables.set(total, created);
  return created;
}

function entropyOf(hist: Uint32Array, offset: number, bins: number): number {
  const end = offset + bins;
  let total = 0;
  for (let i = offset; i < end; i++) total += hist[i];
  if (total === 0) return 0;
  const terms = termTable(total);
  let e = 0;
  if (!terms) {
    // no table for this total: memoise the terms of this image only (small images repeat small counts)
    const stamp = ++memoStamp;
    if (stamp === 0xffffffff) {
      memoStamps.fill(0);
      memoStamp = 1;
    }
    for (let i = offset; i < end; i++) {
      const c = hist[i];
      if (c > 0) {
        if (c < MEMO_SIZE) {
          if (memoStamps[c] === memoStamp) e -= memoTerms[c];
          else {
            const p = c / total;
            const t = p * Math.log2(p);
            memoTerms[c] = t;
            memoStamps[c] = memoStamp;
            e -= t;
          }
        } else {
          const p = c / total;
          e -= p * Math.log2(p);
        }
      }
    }
    return e;
  }
  for (let i = offset; i < end; i++) {
    const c = hist[i];
    if (c > 0) {
      let t = terms[c];
      if (t !== t) {
        const p = c / total;
        t = p * Math.log2(p);
        terms[c] = t;
      }
      e -= t;
    }
  }
  return e;
}

/** Where each numeric metric of the table is in the engine's per-image metrics array (by the names the addon gives). */
interface MetricSlots {
  /** Values per image in the metrics array (AQ_METRICS). */
  perImage: number;
  /** [name, slot] for every numeric metric but the histogram one, in table order. */
  slots: Array<[MetadataNumberMetric, number]>;
}

/** Map the table onto the addon's slots; throws when the engine lacks a metric of the table (an addon from older sources). */
export function nativeMetricSlots(engineNames: readonly string[]): MetricSlots {
  const slots: Array<[MetadataNumberMetric, number]> = [];
  for (const name of METRIC_NAMES) {
    if (name === HISTOGRAM_METRIC) continue;
    const slot = engineNames.indexOf(name);
    if (slot < 0) throw new Error(`the native engine does not compute ${name} (rebuild it: node tools/scripts/build-native.mjs quality)`);
    slots.push([name, slot]);
  }
  return { perImage: engineNames.length, slots };
}

function metricsFrom(
  layout: MetricSlots,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  m: Float64Array,
  mo: number,
  hist: Uint32Array,
  ho: number,
  hashes: string,
  so: number,
): ImageMetrics {
  const metrics = { width, height, channels, pixelHash: hashes.slice(so, so + 16), phash: hashes.slice(so + 16, so + 32) } as ImageMetrics;
  for (const [name, slot] of layout.slots) metrics[name] = m[mo + slot];
  // entropy in JS from the engine's histogram (as histogramEntropy computes it): glibc's log2 and V8's
  // Math.log2 differ in the last bit for ~1% of arguments, so the C side does not take logarithms
  metrics[HISTOGRAM_METRIC] = entropyOf(hist, ho, channels === 1 ? 256 : HIST_PER_IMAGE);
  return metrics;
}

interface OutputArrays {
  info: Int32Array;
  metrics: Float64Array;
  hist: Uint32Array;
  capacity: number;
}

function wrap(binding: NativeBinding, file: string): NativeQuality {
  const layout = nativeMetricSlots(binding.metricNames);
  const metricsPerImage = layout.perImage;
  binding.setCosTable(cosTable());
  // output arrays handed back to the engine batch after batch (no allocation per batch); a set is in use
  // by one batch at a time, from the call until its outcomes are built
  const spare: OutputArrays[] = [];
  const outputsFor = (n: number): OutputArrays => {
    const k = spare.findIndex((o) => o.capacity >= n);
    if (k >= 0) return spare.splice(k, 1)[0];
    return { info: new Int32Array(n * INFO_PER_IMAGE), metrics: new Float64Array(n * metricsPerImage), hist: new Uint32Array(n * HIST_PER_IMAGE), capacity: n };
  };
  return {
    file,
    metricNames: [...binding.metricNames],
    async measureFiles(paths, options) {
      const threads = Math.max(1, Math.floor(options.threads ?? 1));
      if (paths.length === 0) return { outcomes: [], times: { readSeconds: 0, decodeSeconds: 0, metricsSeconds: 0 } };
      const out = outputsFor(paths.length);
      let r: BatchArrays;
      try {
        r = await binding.measureFiles([...paths], options.maxPixels, threads, Boolean(options.timers), out);
      } catch (error) {
        spare.push(out);
        throw error;
      }
      const outcomes: NativeOutcome[] = new Array(paths.length);
      for (let i = 0; i < paths.length; i++) {
        const io = i * INFO_PER_IMAGE;
        const status = r.info[io];
        if (status === STATUS_OK) {
          const components = r.info[io + 3] === 1 ? 1 : 3;
          outcomes[i] = {
            status: 'ok',
            format: 'jpeg',
            sourceChannels: components,
            metrics: metricsFrom(layout, r.info[io + 1], r.info[io + 2], components, r.metrics, i * metricsPerImage, r.hist, i * HIST_PER_IMAGE, r.hashes, i * HASH_CHARS),
          };
        } else if (status === STATUS_NOT_FOUND) outcomes[i] = { status: 'failed', reason: 'not-found', detail: 'no such file' };
        else if (status === STATUS_PERMISSION) outcomes[i] = { status: 'failed', reason: 'unreadable', detail: 'permission denied' };
        else if (status === STATUS_IS_DIRECTORY) outcomes[i] = { status: 'failed', reason: 'unreadable', detail: 'is a directory' };
        else outcomes[i] = { status: 'not-handled' };
      }
      if (spare.length < SPARE_OUTPUTS) spare.push(out);
      const ns = r.timers;
      return { outcomes, times: { readSeconds: ns[0] / 1e9, decodeSeconds: ns[1] / 1e9, metricsSeconds: ns[2] / 1e9 } };
    },
    measurePixels(image) {
      const { width, height, channels, data } = image;
      const n = width * height;
      if (n === 0) throw new Error(`image has no pixels (${width}x${height})`);
      if (data.length < n * channels) throw new Error(`pixel buffer holds ${data.length} bytes, expected ${n * channels}`);
      let pixels = data;
      if (channels === 4) {
        pixels = new Uint8Array(n * 3);
        for (let i = 0, j = 0; i < n; i++, j += 4) {
          pixels[i * 3] = data[j];
          pixels[i * 3 + 1] = data[j + 1];
          pixels[i * 3 + 2] = data[j + 2];
        }
      }
      const r = binding.measurePixels(pixels, width, height, channels === 1 ? 1 : 3);
      return metricsFrom(layout, width, height, channels, r.metrics, 0, r.hist, 0, r.hashes, 0);
    },
  };
}

let loaded: NativeQuality | undefined;
let reason: string | undefined;
let tried = false;

/**
 * The native engine, loaded once; undefined when it is disabled (AGEKIT_NO_NATIVE=1), not built, or fails
 * to load (then nativeQualityUnavailableReason() says why).
 */
export function loadNativeQuality(): NativeQuality | undefined {
  if (process.env[NATIVE_DISABLE_ENV] === '1') {
    reason = `disabled by ${NATIVE_DISABLE_ENV}=1`;
    return undefined;
  }
  if (tried) return loaded;
  tried = true;
  const result = loadNativeAddon<NativeBinding>({
    file: NATIVE_ADDON_FILE,
    lib: 'quality',
    from: __dirname,
    pathEnv: NATIVE_PATH_ENV,
    disableEnv: NATIVE_DISABLE_ENV,
    abi: ABI,
    buildHint: 'node tools/scripts/build-native.mjs quality',
    requires: 'libjpeg.so.62; Debian: apt-get install libjpeg62-turbo',
  });
  reason = result.reason;
  if (result.binding) {
    try {
      loaded = wrap(result.binding, result.file);
    } catch (error) {
      reason = `${result.file}: ${(error as Error).message}`;
    }
  }
  return loaded;
}

/** Why loadNativeQuality() gave undefined (undefined when the engine is loaded or was not asked for yet). */
export function nativeQualityUnavailableReason(): string | undefined {
  return reason;
}
