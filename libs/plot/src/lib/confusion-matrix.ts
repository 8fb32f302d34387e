import type { ChartConfiguration, Plugin } from 'chart.js';
import { axisTitle, DEFAULT_HEIGHT, DEFAULT_WIDTH, fontSizes, plotFontFamily, renderConfig, titleOptions } from './canvas';
import type { ChartBaseOptions } from './charts';

export interface ConfusionMatrixOptions extends ChartBaseOptions {
  /** Class names, in matrix order. */
  labels: string[];
  /** matrix[trueIndex][predictedIndex] = count. */
  matrix: number[][];
  /** Default "Predicted class". */
  xLabel?: string;
  /** Default "True class". */
  yLabel?: string;
}

const LOW: [number, number, number] = [247, 251, 255];
const HIGH: [number, number, number] = [8, 48, 107];

/** Colour for a row share p in [0, 1] (white -> dark blue). */
export function heatColor(p: number): string {
  const t = Math.min(1, Math.max(0, p));
  const c = LOW.map((lo, i) => Math.round(lo + (HIGH[i] - lo) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** Each row divided by its sum (a row of zeros stays zeros). */
export function rowNormalize(matrix: number[][]): number[][] {
  return matrix.map((row) => {
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (sum > 0 ? v / sum : 0));
  });
}

/** Confusion-matrix heatmap: counts in the cells, colour = share of the true class's row. */
export async function renderConfusionMatrix(opts: ConfusionMatrixOptions): Promise<Buffer> {
  const width = opts.width ?? DEFAULT_WIDTH;
  const height = opts.height ?? DEFAULT_HEIGHT;
  const sizes = fontSizes(width, height);
  const n = opts.labels.length;
  if (n === 0) throw new TypeError('renderConfusionMatrix: no labels');
  if (opts.matrix.length !== n || opts.matrix.some((row) => row.length !== n)) {
    throw new RangeError(`renderConfusionMatrix: matrix must be ${n}x${n} for ${n} labels`);
  }
  const shares = rowNormalize(opts.matrix);
  const total = opts.matrix.flat().reduce((a, b) => a + b, 0);
  const correct = opts.matrix.reduce((a, row, i) => a + row[i], 0);
  const colorBarWidth = Math.round(width * 0.025);
  const colorBarRoom = colorBarWidth + Math.round(sizes.tick * 6);
  const family = plotFontFamily();

  const cells: Plugin<'bar'> = {
    id: 'agekitConfusionCells',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea } = chart;
      const cw = (chartArea.right - chartArea.left) / n;
      const ch = (chartArea.bottom - chartArea.top) / n;
      const countSize = Math.max(8, Math.min(sizes.tick + 4, Math.floor(Math.min(cw / 4.2, ch / 2.6))));
      ctx.save();
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      for (let r = 0; r < n; r++) {
        for (let c = 0; c < n; c++) {
          const p = shares[r][c];
          const x = chartArea.left + c * cw;
          const y = chartArea.top + r * ch;
          ctx.fillStyle = heatColor(p);
          ctx.fillRect(x, y, cw, ch);
          ctx.strokeStyle = '#ffffff';
          ctx.lineWidth = 1;
          ctx.strokeRect(x, y, cw, ch);
          if (countSize >= 9) {
            ctx.fillStyle = p > 0.5 ? '#ffffff' : '#111111';
            const showShare = ch >= countSize * 2.4 && opts.matrix[r][c] > 0;
            ctx.font = `${r === c ? 'bold ' : ''}${countSize}px ${family}`;
            ctx.fillText(String(opts.matrix[r][c]), x + cw / 2, y + ch / 2 - (showShare ? countSize * 0.55 : 0));
            if (showShare) {
              ctx.font = `${Math.round(countSize * 0.8)}px ${family}`;
              ctx.fillText(`${(100 * p).toFixed(0)}%`, x + cw / 2, y + ch / 2 + countSize * 0.6);
            }
          }
        }
      }
      // Colour bar: share of the row.
      const bx = chartArea.right + Math.round(sizes.tick * 1.2);
      const gradient = ctx.createLinearGradient(0, chartArea.bottom, 0, chartArea.top);
      for (let i = 0; i <= 10; i++) gradient.addColorStop(i / 10, heatColor(i / 10));
      ctx.fillStyle = gradient;
      ctx.fillRect(bx, chartArea.top, colorBarWidth, chartArea.bottom - chartArea.top);
      ctx.strokeStyle = '#666666';
      ctx.strokeRect(bx, chartArea.top, colorBarWidth, chartArea.bottom - chartArea.top);
      ctx.fillStyle = '#222222';
      ctx.font = `${sizes.tick}px ${family}`;
      ctx.textAlign = 'left';
      for (const t of [0, 0.25, 0.5, 0.75, 1]) {
        const ty = chartArea.bottom - t * (chartArea.bottom - chartArea.top);
        ctx.fillText(`${t * 100}%`, bx + colorBarWidth + 6, ty);
      }
      ctx.save();
      ctx.translate(bx + colorBarWidth + sizes.tick * 3.6, (chartArea.top + chartArea.bottom) / 2);
      ctx.rotate(Math.PI / 2);
      ctx.textAlign = 'center';
      ctx.font = `${sizes.axis * 0.8}px ${family}`;
      ctx.fillText('share of true class (row)', 0, 0);
      ctx.restore();
      ctx.restore();
    },
  };

  const subtitle = [opts.subtitle, `n = ${total.toLocaleString('en-US')}, diagonal (correct) = ${total > 0 ? ((100 * correct) / total).toFixed(1) : '0'}%`]
    .filter(Boolean)
    .join(' — ');
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: { labels: opts.labels, datasets: [{ label: 'cells', data: [] }] },
    options: {
      layout: { padding: { left: 10, right: colorBarRoom + 10, top: 0, bottom: 10 } },
      plugins: { ...titleOptions(opts.title, subtitle, sizes), legend: { display: false } },
      scales: {
        x: {
          type: 'category',
          labels: opts.labels,
          offset: true,
          position: 'bottom',
          title: axisTitle(opts.xLabel ?? 'Predicted class', sizes),
          ticks: { font: { size: sizes.tick }, autoSkip: false, maxRotation: 60 },
          grid: { display: false },
        },
        y: {
          type: 'category',
          labels: opts.labels,
          offset: true,
          title: axisTitle(opts.yLabel ?? 'True class', sizes),
          ticks: { font: { size: sizes.tick }, autoSkip: false },
          grid: { display: false },
        },
      },
    },
    plugins: [cells],
  };
  return renderConfig(config as unknown as ChartConfiguration, width, height);
}
