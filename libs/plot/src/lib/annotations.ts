import type { Chart, Plugin } from 'chart.js';
import { plotFontFamily, withAlpha } from './canvas';

/** A vertical line at an x value, e.g. a quality threshold. */
export interface ThresholdLine {
  value: number;
  /** Shown beside the line, e.g. "blurry < 100". */
  label: string;
  color?: string;
}

/** A shaded x range, e.g. where images are flagged. Open-ended when `from`/`to` is omitted. */
export interface FlaggedRegion {
  from?: number;
  to?: number;
  label: string;
  color?: string;
}

export const THRESHOLD_COLOR = '#B2182B';
export const REGION_COLOR = '#D6604D';

/**
 * Draws shaded regions behind the bars and dashed threshold lines over them, on the 'x' scale.
 * `toAxis` maps data units to the scale's units (log10 for log histograms).
 */
export function annotationPlugin(
  thresholds: ThresholdLine[],
  regions: FlaggedRegion[],
  fontSize: number,
  toAxis: (v: number) => number = (v) => v,
): Plugin<'bar'> {
  const font = (bold = false) => `${bold ? 'bold ' : ''}${fontSize}px ${plotFontFamily()}`;
  const xPixel = (chart: Chart, v: number): number | undefined => {
    const a = toAxis(v);
    if (!Number.isFinite(a)) return undefined;
    return chart.scales['x'].getPixelForValue(a);
  };
  return {
    id: 'agekitAnnotations',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea } = chart;
      ctx.save();
      regions.forEach((r) => {
        const left = r.from === undefined ? chartArea.left : xPixel(chart, r.from);
        const right = r.to === undefined ? chartArea.right : xPixel(chart, r.to);
        if (left === undefined || right === undefined) return;
        const x0 = Math.max(chartArea.left, Math.min(left, right));
        const x1 = Math.min(chartArea.right, Math.max(left, right));
        if (x1 <= x0) return;
        const color = r.color ?? REGION_COLOR;
        ctx.fillStyle = withAlpha(color, 0.13);
        ctx.fillRect(x0, chartArea.top, x1 - x0, chartArea.bottom - chartArea.top);
      });
      ctx.restore();
    },
    afterDatasetsDraw(chart) {
      const { ctx, chartArea } = chart;
      ctx.save();
      ctx.font = font(true);
      // Region labels: one row below the threshold labels, at the region's outer side, on a white box.
      const regionRow = chartArea.top + 8 + thresholds.length * (fontSize + 8);
      regions.forEach((r) => {
        const left = r.from === undefined ? chartArea.left : xPixel(chart, r.from);
        const right = r.to === undefined ? chartArea.right : xPixel(chart, r.to);
        if (left === undefined || right === undefined) return;
        const x0 = Math.max(chartArea.left, Math.min(left, right));
        const x1 = Math.min(chartArea.right, Math.max(left, right));
        if (x1 <= x0) return;
        const w = ctx.measureText(r.label).width;
        // Open on the right -> label at the right edge; otherwise at the left edge of the region.
        let tx = r.to === undefined && r.from !== undefined ? x1 - 8 - w : x0 + 8;
        tx = Math.max(chartArea.left + 2, Math.min(tx, chartArea.right - w - 2));
        ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
        ctx.fillRect(tx - 3, regionRow - 2, w + 6, fontSize + 6);
        ctx.fillStyle = r.color ?? REGION_COLOR;
        ctx.textAlign = 'left';
        ctx.textBaseline = 'top';
        ctx.fillText(r.label, tx, regionRow);
      });
      thresholds.forEach((t, i) => {
        const x = xPixel(chart, t.value);
        if (x === undefined || x < chartArea.left - 0.5 || x > chartArea.right + 0.5) return;
        const color = t.color ?? THRESHOLD_COLOR;
        ctx.strokeStyle = color;
        ctx.lineWidth = 3;
        ctx.setLineDash([10, 6]);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        const w = ctx.measureText(t.label).width;
        const y = chartArea.top + 8 + i * (fontSize + 8);
        const onRight = x + 8 + w <= chartArea.right;
        const tx = onRight ? x + 8 : x - 8 - w;
        // White box behind the text so it stays legible over bars.
        ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
        ctx.fillRect(tx - 3, y - 2, w + 6, fontSize + 6);
        ctx.fillStyle = color;
        ctx.textAlign = 'left';
        ctx.textBaseline = 'top';
        ctx.fillText(t.label, tx, y);
      });
      ctx.restore();
    },
  };
}

/** Draws each bar's value above it (small bar charts). */
export function valueLabelPlugin(fontSize: number, format: (v: number) => string): Plugin<'bar'> {
  return {
    id: 'agekitValueLabels',
    afterDatasetsDraw(chart) {
      const { ctx } = chart;
      ctx.save();
      ctx.font = `${fontSize}px ${plotFontFamily()}`;
      ctx.fillStyle = '#333333';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'bottom';
      chart.data.datasets.forEach((ds, di) => {
        const meta = chart.getDatasetMeta(di);
        if (meta.hidden) return;
        meta.data.forEach((el, i) => {
          const v = ds.data[i];
          if (typeof v !== 'number' || !Number.isFinite(v)) return;
          ctx.fillText(format(v), el.x, el.y - 3);
        });
      });
      ctx.restore();
    },
  };
}
