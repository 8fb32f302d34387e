import sharp from 'sharp';
import { PALETTE } from './canvas';
import { histogramSeriesBins, renderBarChart, renderGroupedBarChart, renderHistogram, renderLineChart } from './charts';
import { renderConfusionMatrix } from './confusion-matrix';

interface Raw {
  width: number;
  height: number;
  data: Buffer;
}

async function decode(png: Buffer): Promise<Raw> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Variance of the grey level over all pixels: 0 for a blank image. */
function pixelVariance(img: Raw): number {
  let sum = 0;
  let sq = 0;
  const n = img.width * img.height;
  for (let i = 0; i < n; i++) {
    const g = (img.data[3 * i] + img.data[3 * i + 1] + img.data[3 * i + 2]) / 3;
    sum += g;
    sq += g * g;
  }
  const mean = sum / n;
  return sq / n - mean * mean;
}

async function expectNonBlankPng(png: Buffer, width = 1200, height = 800): Promise<Raw> {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  const img = await decode(png);
  expect([img.width, img.height]).toEqual([width, height]);
  expect(pixelVariance(img)).toBeGreaterThan(50);
  return img;
}

function hexRgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

describe('charts', () => {
  jest.setTimeout(30000);

  it('renders a histogram with thresholds and flagged regions, default 1200x800', async () => {
    const values = Array.from({ length: 500 }, (_, i) => (i * 37) % 255);
    await expectNonBlankPng(
      await renderHistogram({
        title: 'Mean intensity',
        xLabel: 'Mean intensity (grey level)',
        values,
        min: 0,
        max: 255,
        thresholds: [{ value: 50, label: 'dark < 50' }],
        flaggedRegions: [{ to: 50, label: 'dark' }],
      }),
    );
  });

  it('draws histogram bars where the library put the counts', async () => {
    // Bins [0,1) [1,2) [2,3) [3,4]: counts 0, 5, 0, 10.
    const values = [...Array(5).fill(1.5), ...Array(10).fill(3.2)];
    const bins = histogramSeriesBins({ values, bins: 4, min: 0, max: 4 })[0].bins;
    expect(bins.counts).toEqual([0, 5, 0, 10]);
    const color = '#ff00ff';
    const img = await expectNonBlankPng(
      await renderHistogram({ title: 'Known bins', xLabel: 'value (units)', series: [{ name: 'v', values, color }], bins: 4, min: 0, max: 4 }),
    );
    // Bars are drawn at alpha 0.85 over white.
    const target = hexRgb(color).map((c) => Math.round(0.85 * c + 0.15 * 255));
    const isBar = (x: number, y: number) => {
      const o = 3 * (y * img.width + x);
      return target.every((c, k) => Math.abs(img.data[o + k] - c) <= 6);
    };
    // Per column: height of the bar-coloured run.
    const heights = Array.from({ length: img.width }, (_, x) => {
      let h = 0;
      for (let y = 0; y < img.height; y++) if (isBar(x, y)) h++;
      return h;
    });
    const runs: { start: number; end: number; height: number }[] = [];
    heights.forEach((h, x) => {
      if (h === 0) return;
      const last = runs[runs.length - 1];
      if (last && last.end === x - 1) {
        last.end = x;
        last.height = Math.max(last.height, h);
      } else runs.push({ start: x, end: x, height: h });
    });
    expect(runs).toHaveLength(2);
    const [a, b] = runs;
    const w1 = a.end - a.start + 1;
    const w2 = b.end - b.start + 1;
    expect(Math.abs(w1 - w2)).toBeLessThanOrEqual(2);
    // One empty bin (the same width) between them; nothing left of the first bar but one empty bin.
    expect(Math.abs(b.start - a.end - 1 - w1)).toBeLessThanOrEqual(3);
    expect(b.height / a.height).toBeCloseTo(2, 1);
  });

  it('renders overlaid histogram series on shared bins', async () => {
    const bins = histogramSeriesBins({
      series: [
        { name: 'before', values: [0, 1, 2] },
        { name: 'after', values: [5, 6, 10] },
      ],
      bins: 5,
    });
    expect(bins[0].bins.edges).toEqual(bins[1].bins.edges);
    expect(bins[0].bins.edges[0]).toBe(0);
    expect(bins[0].bins.edges[5]).toBe(10);
    await expectNonBlankPng(
      await renderHistogram({
        title: 'Before and after',
        xLabel: 'value (units)',
        series: [
          { name: 'before', values: [0, 1, 2] },
          { name: 'after', values: [5, 6, 10] },
        ],
        bins: 5,
        width: 600,
        height: 400,
      }),
      600,
      400,
    );
  });

  it('renders a log-scale histogram', async () => {
    const values = Array.from({ length: 300 }, (_, i) => 2 ** (i / 30));
    await expectNonBlankPng(await renderHistogram({ title: 'Laplacian variance', xLabel: 'Laplacian variance', values, scale: 'log', thresholds: [{ value: 100, label: 'blurry' }] }));
  });

  it('renders bar, grouped bar, line and confusion-matrix charts', async () => {
    await expectNonBlankPng(await renderBarChart({ title: 'Ages', xLabel: 'Age (years)', yLabel: 'Images (count)', labels: ['20', '21', '22'], values: [3, 9, 4] }));
    await expectNonBlankPng(
      await renderGroupedBarChart({
        title: 'Rebalancing',
        xLabel: 'Age group',
        yLabel: 'Images (count)',
        labels: ['young', 'middle', 'old'],
        series: [
          { name: 'current', values: [10, 50, 5] },
          { name: 'target', values: [20, 20, 20] },
          { name: 'achieved', values: [19, 20, 18] },
        ],
      }),
    );
    await expectNonBlankPng(
      await renderLineChart({
        title: 'Loss',
        xLabel: 'Epoch',
        yLabel: 'Loss',
        series: [
          { name: 'train', values: [1, 0.7, 0.5, 0.4] },
          { name: 'validation', values: [1.1, 0.8, null, 0.6], dashed: true },
        ],
        markBest: 'min',
      }),
    );
    const cm = await expectNonBlankPng(
      await renderConfusionMatrix({
        title: 'Confusion',
        labels: ['a', 'b'],
        matrix: [
          [9, 1],
          [0, 0],
        ],
      }),
    );
    // The darkest heat colour (row share 0.9) must be present.
    let dark = 0;
    for (let i = 0; i < cm.width * cm.height; i++) if (cm.data[3 * i] < 40 && cm.data[3 * i + 2] > 90) dark++;
    expect(dark).toBeGreaterThan(1000);
  });

  it('rejects mismatched inputs with a clear message', async () => {
    await expect(renderBarChart({ title: 't', xLabel: 'x', yLabel: 'y', labels: ['a'], values: [1, 2] })).rejects.toThrow(/1 labels but 2 values/);
    await expect(renderConfusionMatrix({ title: 't', labels: ['a', 'b'], matrix: [[1]] })).rejects.toThrow(/2x2/);
    await expect(renderHistogram({ title: 't', xLabel: 'x' })).rejects.toThrow(/values/);
  });

  it('uses the palette colour for the first series', () => {
    expect(PALETTE[0]).toMatch(/^#[0-9A-F]{6}$/i);
  });
});
