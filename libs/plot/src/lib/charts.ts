import type { ChartConfiguration, ChartDataset, Plugin } from 'chart.js';
import { annotationPlugin, valueLabelPlugin, type FlaggedRegion, type ThresholdLine } from './annotations';
import {
  axisTitle,
  DEFAULT_HEIGHT,
  DEFAULT_WIDTH,
  fontSizes,
  formatNumber,
  legendOptions,
  PALETTE,
  renderConfig,
  titleOptions,
  withAlpha,
} from './canvas';
import { computeHistogram, type HistogramBinOptions, type HistogramBins } from './histogram-bins';

/** Options every chart takes. */
export interface ChartBaseOptions {
  title: string;
  /** A second, smaller line under the title (e.g. "n = 19,000 images"). */
  subtitle?: string;
  /** Pixels; default 1200x800. */
  width?: number;
  height?: number;
}

export interface HistogramSeries {
  name: string;
  values: ArrayLike<number>;
  color?: string;
}

export interface HistogramOptions extends ChartBaseOptions, HistogramBinOptions {
  /** x axis title with units, e.g. "Laplacian variance (grey levels²)". */
  xLabel: string;
  /** Default "Images (count)". */
  yLabel?: string;
  /** One series ... */
  values?: ArrayLike<number>;
  /** ... or several, overlaid on the same bins (e.g. before/after). */
  series?: HistogramSeries[];
  thresholds?: ThresholdLine[];
  flaggedRegions?: FlaggedRegion[];
}

/** The bins renderHistogram draws, one per series (same edges for all), for checking. */
export function histogramSeriesBins(opts: Pick<HistogramOptions, 'values' | 'series' | keyof HistogramBinOptions>): { name: string; bins: HistogramBins }[] {
  const series = resolveSeries(opts);
  let min = opts.min;
  let max = opts.max;
  if (min === undefined || max === undefined) {
    // Shared range over all series so overlays use identical bins.
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of series) {
      const b = computeHistogram(s.values, { bins: 1, scale: opts.scale });
      if (b.counts[0] > 0) {
        lo = Math.min(lo, b.edges[0]);
        hi = Math.max(hi, b.edges[1]);
      }
    }
    if (Number.isFinite(lo)) {
      min ??= lo;
      max ??= hi;
    }
  }
  return series.map((s) => ({ name: s.name, bins: computeHistogram(s.values, { bins: opts.bins, scale: opts.scale, min, max }) }));
}

function resolveSeries(opts: Pick<HistogramOptions, 'values' | 'series'>): HistogramSeries[] {
  if (opts.series && opts.series.length > 0) return opts.series;
  if (opts.values) return [{ name: 'images', values: opts.values }];
  throw new TypeError('renderHistogram: give `values` or a non-empty `series`');
}

/** A histogram (bins computed by computeHistogram) with optional threshold lines and shaded flagged regions. */
export async function renderHistogram(opts: HistogramOptions): Promise<Buffer> {
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  const sizes = fontSizes(width, height);
  const all = histogramSeriesBins(opts);
  const log = opts.scale === 'log';
  const toAxis = log ? Math.log10 : (v: number) => v;
  const first = all[0].bins;
  const a0 = toAxis(first.edges[0]);
  const a1 = toAxis(first.edges[first.edges.length - 1]);
  const binWidth = (a1 - a0) / first.counts.length;
  const overlay = all.length > 1;
  const datasets: ChartDataset<'bar', { x: number; y: number }[]>[] = all.map(({ name, bins }, i) => {
    const color = resolveSeries(opts)[i].color ?? PALETTE[i % PALETTE.length];
    return {
      label: name,
      data: bins.counts.map((c, b) => ({ x: (toAxis(bins.edges[b]) + toAxis(bins.edges[b + 1])) / 2, y: c })),
      backgroundColor: withAlpha(color, overlay ? 0.45 : 0.85),
      // Single series: a thin white edge separates neighbouring bins.
      borderColor: overlay ? color : '#ffffff',
      borderWidth: overlay ? 1.5 : { left: 0.5, right: 0.5, top: 0, bottom: 0 },
      // chart.js sizes bars on a linear axis from the data spacing and percentages; pin them to the bin width instead.
      barThickness: ((ctx: { chart: { scales: Record<string, { getPixelForValue(v: number): number }> } }) => {
        const x = ctx.chart.scales['x'];
        return Math.max(1, Math.abs(x.getPixelForValue(a0 + binWidth) - x.getPixelForValue(a0)));
      }) as unknown as number,
      grouped: false,
    };
  });
  const notes: string[] = [];
  all.forEach(({ name, bins }) => {
    const total = bins.counts.reduce((a, b) => a + b, 0) + bins.below + bins.above;
    const parts = [`n = ${total.toLocaleString('en-US')}`];
    if (bins.below) parts.push(`${bins.below.toLocaleString('en-US')} below ${formatNumber(bins.edges[0])} not shown`);
    if (bins.above) parts.push(`${bins.above.toLocaleString('en-US')} above ${formatNumber(bins.edges[bins.edges.length - 1])} not shown`);
    if (bins.dropped) parts.push(`${bins.dropped.toLocaleString('en-US')} missing${log ? ' or <= 0' : ''}`);
    notes.push(overlay ? `${name}: ${parts.join(', ')}` : parts.join(', '));
  });
  // Overlays whose notes are identical (same n, nothing cut) say it once.
  const bare = notes.map((n, i) => (overlay ? n.slice(all[i].name.length + 2) : n));
  const sameNotes = overlay && new Set(bare).size === 1;
  const subtitle = [opts.subtitle, sameNotes ? `${bare[0]} each` : notes.join(' | ')].filter(Boolean).join(' — ');
  const config: ChartConfiguration<'bar', { x: number; y: number }[]> = {
    type: 'bar',
    data: { datasets },
    options: {
      layout: { padding: { left: 10, right: 30, top: 0, bottom: 10 } },
      plugins: { ...titleOptions(opts.title, subtitle, sizes), legend: legendOptions(overlay, sizes) },
      scales: {
        x: {
          type: 'linear',
          min: a0,
          max: a1,
          offset: false,
          title: axisTitle(opts.xLabel + (log ? ' — log scale' : ''), sizes),
          ticks: {
            font: { size: sizes.tick },
            // No extra tick at an odd range end (e.g. 128 next to 120).
            includeBounds: false,
            maxTicksLimit: log ? undefined : 12,
            callback: (v) => formatNumber(log ? 10 ** Number(v) : Number(v)),
          },
          // Log axis: ticks at 1-2-5 (or whole decades when the range is wide), not at odd powers.
          afterBuildTicks: log ? (scale) => (scale.ticks = logTicks(a0, a1).map((value) => ({ value }))) : undefined,
          grid: { color: '#e6e6e6' },
        },
        y: {
          type: 'linear',
          beginAtZero: true,
          title: axisTitle(opts.yLabel ?? 'Images (count)', sizes),
          ticks: { font: { size: sizes.tick }, precision: 0, callback: (v) => formatNumber(Number(v)) },
          grid: { color: '#e6e6e6' },
        },
      },
    },
    plugins: [annotationPlugin(opts.thresholds ?? [], opts.flaggedRegions ?? [], sizes.annotation, toAxis)],
  };
  return renderConfig(config as unknown as ChartConfiguration, width, height);
}

/** log10 positions of 1-2-5 values (whole decades when the range spans more than 4 decades) inside [a0, a1]. */
export function logTicks(a0: number, a1: number): number[] {
  const steps = a1 - a0 > 4 ? [1] : [1, 2, 5];
  const out: number[] = [];
  for (let d = Math.floor(a0); d <= Math.ceil(a1); d++) {
    for (const m of steps) {
      const a = Math.log10(m) + d;
      if (a >= a0 - 1e-9 && a <= a1 + 1e-9) out.push(a);
    }
  }
  return out;
}

/** For more than 30 integer labels: the round step (2, 5, 10, ...) that labels at most ~25 of them; else 0. */
export function numericTickStep(labels: string[]): number {
  if (labels.length <= 30 || !labels.every((l) => /^-?\d+$/.test(l))) return 0;
  return [2, 5, 10, 20, 50, 100, 200, 500, 1000].find((step) => labels.length / step <= 25) ?? 0;
}

export interface BarChartOptions extends ChartBaseOptions {
  xLabel: string;
  yLabel: string;
  labels: string[];
  values: number[];
  color?: string;
  /** Draw each bar's value above it; default when there are at most 30 bars. */
  showValues?: boolean;
  /** Name of the series (shown in the legend only if `showLegend`). */
  seriesName?: string;
  showLegend?: boolean;
}

/** A bar chart of one series, e.g. images per age. */
export async function renderBarChart(opts: BarChartOptions): Promise<Buffer> {
  if (opts.labels.length !== opts.values.length) throw new RangeError(`renderBarChart: ${opts.labels.length} labels but ${opts.values.length} values`);
  return renderGroupedBarChart({
    ...opts,
    series: [{ name: opts.seriesName ?? opts.yLabel, values: opts.values, color: opts.color }],
    showLegend: opts.showLegend ?? false,
  });
}

export interface GroupedBarChartOptions extends ChartBaseOptions {
  xLabel: string;
  yLabel: string;
  labels: string[];
  series: { name: string; values: number[]; color?: string }[];
  showValues?: boolean;
  /** Default: when there is more than one series. */
  showLegend?: boolean;
}

/** Bars grouped per label, one colour per series (e.g. current vs target vs achieved counts per age). */
export async function renderGroupedBarChart(opts: GroupedBarChartOptions): Promise<Buffer> {
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  const sizes = fontSizes(width, height);
  if (opts.series.length === 0) throw new TypeError('renderGroupedBarChart: no series');
  for (const s of opts.series) {
    if (s.values.length !== opts.labels.length) {
      throw new RangeError(`renderGroupedBarChart: series '${s.name}' has ${s.values.length} values for ${opts.labels.length} labels`);
    }
  }
  const bars = opts.labels.length * opts.series.length;
  const tickStep = numericTickStep(opts.labels);
  const showValues = opts.showValues ?? bars <= 30;
  const plugins: Plugin<'bar'>[] = showValues ? [valueLabelPlugin(sizes.annotation, formatNumber)] : [];
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: {
      labels: opts.labels,
      datasets: opts.series.map((s, i) => {
        const color = s.color ?? PALETTE[i % PALETTE.length];
        return { label: s.name, data: s.values, backgroundColor: withAlpha(color, 0.88), borderColor: color, borderWidth: 0 };
      }),
    },
    options: {
      layout: { padding: { left: 10, right: 30, top: 0, bottom: 10 } },
      plugins: { ...titleOptions(opts.title, opts.subtitle, sizes), legend: legendOptions(opts.showLegend ?? opts.series.length > 1, sizes) },
      scales: {
        x: {
          type: 'category',
          title: axisTitle(opts.xLabel, sizes),
          ticks:
            tickStep > 0
              ? // Many integer labels (e.g. ages 1..116): label round values only (0, 10, 20, ...).
                { font: { size: sizes.tick }, autoSkip: false, maxRotation: 0, callback: (_v, i) => (Number(opts.labels[i]) % tickStep === 0 ? opts.labels[i] : null) }
              : { font: { size: sizes.tick }, autoSkip: true, maxRotation: Math.max(...opts.labels.map((l) => l.length)) <= 3 ? 0 : 60 },
          grid: { display: false },
        },
        y: {
          type: 'linear',
          beginAtZero: true,
          // Head-room for the value labels.
          grace: showValues ? '8%' : 0,
          title: axisTitle(opts.yLabel, sizes),
          ticks: { font: { size: sizes.tick }, callback: (v) => formatNumber(Number(v)) },
          grid: { color: '#e6e6e6' },
        },
      },
    },
    plugins,
  };
  return renderConfig(config as unknown as ChartConfiguration, width, height);
}

export interface LineSeries {
  name: string;
  /** One value per x; null leaves a gap. */
  values: (number | null)[];
  color?: string;
  dashed?: boolean;
}

export interface LineChartOptions extends ChartBaseOptions {
  xLabel: string;
  yLabel: string;
  /** x values (e.g. epochs 1..n); default 1..max series length. */
  x?: (number | string)[];
  series: LineSeries[];
  yMin?: number;
  yMax?: number;
  /** Mark each series' best point ('min' for loss/MAE, 'max' for AUC/accuracy). */
  markBest?: 'min' | 'max';
}

/** Line chart, e.g. training history (train vs validation loss per epoch). */
export async function renderLineChart(opts: LineChartOptions): Promise<Buffer> {
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  const sizes = fontSizes(width, height);
  if (opts.series.length === 0) throw new TypeError('renderLineChart: no series');
  const n = Math.max(...opts.series.map((s) => s.values.length));
  const x = (opts.x ?? Array.from({ length: n }, (_, i) => i + 1)).map(String);
  const pointRadius = n > 60 ? 0 : 4;
  const config: ChartConfiguration<'line'> = {
    type: 'line',
    data: {
      labels: x,
      datasets: opts.series.map((s, i) => {
        const color = s.color ?? PALETTE[i % PALETTE.length];
        let best = -1;
        if (opts.markBest) {
          s.values.forEach((v, j) => {
            if (v === null || !Number.isFinite(v)) return;
            const b = best < 0 ? null : s.values[best];
            if (b === null || (opts.markBest === 'min' ? v < b : v > b)) best = j;
          });
        }
        return {
          label: best >= 0 ? `${s.name} (best ${formatNumber(s.values[best] as number)} at ${x[best]})` : s.name,
          data: s.values,
          borderColor: color,
          backgroundColor: color,
          borderWidth: 3,
          borderDash: s.dashed ? [10, 6] : undefined,
          pointRadius: s.values.map((_, j) => (j === best ? 9 : pointRadius)),
          pointStyle: s.values.map((_, j) => (j === best ? 'star' : 'circle')),
          spanGaps: false,
          tension: 0,
        };
      }),
    },
    options: {
      layout: { padding: { left: 10, right: 30, top: 0, bottom: 10 } },
      plugins: {
        ...titleOptions(opts.title, opts.subtitle, sizes),
        // A flat swatch reads as a line (solid or dashed) in the legend.
        legend: { ...legendOptions(opts.series.length > 1 || Boolean(opts.markBest), sizes), labels: { ...legendOptions(true, sizes).labels, boxHeight: 4, boxWidth: 44 } },
      },
      scales: {
        x: { type: 'category', title: axisTitle(opts.xLabel, sizes), ticks: { font: { size: sizes.tick }, autoSkip: true, maxRotation: 0 }, grid: { color: '#eeeeee' } },
        y: {
          type: 'linear',
          min: opts.yMin,
          max: opts.yMax,
          title: axisTitle(opts.yLabel, sizes),
          ticks: { font: { size: sizes.tick }, callback: (v) => formatNumber(Number(v)) },
          grid: { color: '#e6e6e6' },
        },
      },
    },
  };
  return renderConfig(config as unknown as ChartConfiguration, width, height);
}
