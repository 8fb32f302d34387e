import { existsSync } from 'node:fs';
import type { Chart, ChartConfiguration } from 'chart.js';
import { ChartJSNodeCanvas } from 'chartjs-node-canvas';

/** Default figure size (pixels). */
export const DEFAULT_WIDTH = 1200;
export const DEFAULT_HEIGHT = 800;

/** Okabe-Ito colour-blind-safe palette (black moved last); series take colours in this order. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'] as const;

/** Fonts are registered from these files when present (deterministic text); else fontconfig picks a sans-serif. */
const FONT_FILES: { file: string; weight: string }[] = [
  { file: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', weight: 'normal' },
  { file: '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf', weight: 'bold' },
];
const REGISTERED_FAMILY = 'AgekitPlotSans';
let fontFamily: string | undefined;

/** The font family every figure uses (a registered DejaVu Sans when available). */
export function plotFontFamily(): string {
  if (fontFamily === undefined) {
    const present = FONT_FILES.filter((f) => existsSync(f.file));
    fontFamily = present.length > 0 ? `${REGISTERED_FAMILY}, DejaVu Sans, sans-serif` : 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
  }
  return fontFamily;
}

/** Font sizes at the default 1200x800, scaled with the figure's smaller side. */
export interface FontSizes {
  title: number;
  subtitle: number;
  axis: number;
  tick: number;
  legend: number;
  annotation: number;
}

export function fontSizes(width: number, height: number): FontSizes {
  const k = Math.min(width / DEFAULT_WIDTH, height / DEFAULT_HEIGHT);
  const s = (px: number) => Math.max(9, Math.round(px * k));
  return { title: s(28), subtitle: s(18), axis: s(21), tick: s(17), legend: s(18), annotation: s(16) };
}

const canvases = new Map<string, ChartJSNodeCanvas>();

/** One ChartJSNodeCanvas per size, reused (creating one loads a fresh chart.js and is slow). */
function canvasFor(width: number, height: number): ChartJSNodeCanvas {
  checkSize(width, height);
  const key = `${width}x${height}`;
  let canvas = canvases.get(key);
  if (!canvas) {
    canvas = new ChartJSNodeCanvas({
      width,
      height,
      backgroundColour: 'white',
      chartCallback: (chartAuto) => {
        // chartjs-node-canvas loads its own copy of chart.js/auto (the Chart class with every named export
        // assigned onto it, everything registered); keep only what these figures use.
        const ChartJS = chartAuto as unknown as typeof import('chart.js') & typeof chartAuto;
        ChartJS.unregister(...ChartJS.registerables);
        ChartJS.register(
          ChartJS.BarController,
          ChartJS.BarElement,
          ChartJS.LineController,
          ChartJS.LineElement,
          ChartJS.PointElement,
          ChartJS.CategoryScale,
          ChartJS.LinearScale,
          ChartJS.Legend,
          ChartJS.Title,
          ChartJS.SubTitle,
        );
        ChartJS.defaults.animation = false;
        ChartJS.defaults.responsive = false;
        ChartJS.defaults.devicePixelRatio = 1;
        ChartJS.defaults.font.family = plotFontFamily();
        ChartJS.defaults.color = '#222222';
      },
    });
    for (const f of FONT_FILES) {
      if (existsSync(f.file)) canvas.registerFont(f.file, { family: REGISTERED_FAMILY, weight: f.weight });
    }
    canvases.set(key, canvas);
  }
  return canvas;
}

export function checkSize(width: number, height: number): void {
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 100 || v > 10000) throw new RangeError(`@agekit/plot: ${name} must be an integer in 100..10000 (got ${v})`);
  }
}

/** Render a chart.js configuration to a PNG buffer on the shared canvas of that size. */
export async function renderConfig(config: ChartConfiguration, width: number, height: number): Promise<Buffer> {
  return canvasFor(width, height).renderToBuffer(config as Parameters<ChartJSNodeCanvas['renderToBuffer']>[0], 'image/png');
}

export type AnyChart = Chart;

/** Title + optional subtitle + legend options shared by every chart. */
export function titleOptions(title: string, subtitle: string | undefined, sizes: FontSizes) {
  return {
    title: { display: true, text: title, font: { size: sizes.title, weight: 'bold' as const }, padding: { top: 12, bottom: subtitle ? 4 : 16 } },
    subtitle: { display: Boolean(subtitle), text: subtitle ?? '', font: { size: sizes.subtitle }, color: '#444444', padding: { bottom: 14 } },
  };
}

export function legendOptions(show: boolean, sizes: FontSizes) {
  return {
    display: show,
    position: 'top' as const,
    labels: { font: { size: sizes.legend }, boxWidth: Math.round(sizes.legend * 2), padding: 18 },
  };
}

export function axisTitle(text: string, sizes: FontSizes) {
  return { display: true, text, font: { size: sizes.axis }, padding: { top: 8, bottom: 4 } };
}

/** A colour with alpha, from '#rrggbb'. */
export function withAlpha(hex: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return hex;
  return `rgba(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)}, ${alpha})`;
}

/** Compact number for tick labels and annotations. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(1);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return Number(v.toFixed(1)).toString();
  return Number(v.toFixed(2)).toString();
}
