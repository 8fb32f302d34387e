/** How values are binned for a histogram. All bins are equal-width (in log10 space for `scale: 'log'`). */
export interface HistogramBinOptions {
  /** Number of bins (default 40). */
  bins?: number;
  /** Lower edge of the first bin (default: the smallest finite value). */
  min?: number;
  /** Upper edge of the last bin (default: the largest finite value). */
  max?: number;
  /** 'log' bins in log10(value): edges are geometric; values <= 0 count as `dropped`. Default 'linear'. */
  scale?: 'linear' | 'log';
}

/** The counts of a histogram, computed here (not by chart.js) so they can be checked. */
export interface HistogramBins {
  /** bins + 1 edges, ascending, in data units. Bin i is [edges[i], edges[i+1]); the last bin includes its upper edge. */
  edges: number[];
  /** Count per bin. */
  counts: number[];
  /** Finite values below edges[0]. */
  below: number;
  /** Finite values above the last edge. */
  above: number;
  /** Values not counted at all: NaN, +-Infinity, and (log scale) values <= 0. */
  dropped: number;
  scale: 'linear' | 'log';
}

/**
 * Bin `values` into equal-width bins. Values outside [min, max] are counted in `below`/`above`,
 * never silently folded into the edge bins.
 */
export function computeHistogram(values: ArrayLike<number>, options: HistogramBinOptions = {}): HistogramBins {
  const scale = options.scale ?? 'linear';
  const binCount = Math.max(1, Math.floor(options.bins ?? 40));
  const toAxis = scale === 'log' ? Math.log10 : (v: number) => v;
  const fromAxis = scale === 'log' ? (v: number) => 10 ** v : (v: number) => v;

  let dropped = 0;
  let lo = Infinity;
  let hi = -Infinity;
  const usable: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || (scale === 'log' && v <= 0)) {
      dropped++;
      continue;
    }
    usable.push(v);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let min = options.min ?? (usable.length ? lo : 0);
  let max = options.max ?? (usable.length ? hi : 1);
  if (scale === 'log' && min <= 0) throw new RangeError(`computeHistogram: a log-scale histogram needs min > 0 (got ${min})`);
  if (!(max > min)) {
    // One distinct value (or an empty set): give it a bin of width 1 (a factor of 10 on a log scale) centred on it.
    const centre = toAxis(min);
    min = fromAxis(centre - 0.5);
    max = fromAxis(centre + 0.5);
  }
  const a0 = toAxis(min);
  const a1 = toAxis(max);
  const width = (a1 - a0) / binCount;
  const edges = Array.from({ length: binCount + 1 }, (_, i) => (i === 0 ? min : i === binCount ? max : fromAxis(a0 + i * width)));
  const counts = new Array<number>(binCount).fill(0);
  let below = 0;
  let above = 0;
  for (const v of usable) {
    if (v < min) below++;
    else if (v > max) above++;
    else {
      let index = Math.floor((toAxis(v) - a0) / width);
      if (index >= binCount) index = binCount - 1; // v === max
      if (index < 0) index = 0;
      // Guard against floating-point error at the edges: the data-unit edges are the truth.
      while (index > 0 && v < edges[index]) index--;
      while (index < binCount - 1 && v >= edges[index + 1]) index++;
      counts[index]++;
    }
  }
  return { edges, counts, below, above, dropped, scale };
}

/** Value at quantile q (0..1) of the finite values, linear interpolation; NaN when there are none. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) sorted.push(values[i]);
  if (sorted.length === 0) return NaN;
  sorted.sort((x, y) => x - y);
  const pos = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const i = Math.floor(pos);
  const frac = pos - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - frac) + sorted[i + 1] * frac : sorted[i];
}
