import * as path from 'node:path';
import { FLAG_NAMES, isInside, PROCESSING_STATUSES, type MetadataRow, type ProcessingMeasurement, type ProcessingRow, type QualityThresholds } from '@agekit/dataset';
import { renderBarChart, renderGroupedBarChart, renderHistogram } from '../charts';
import { renderContactSheetDetailed, type ContactSheetItem } from '../contact-sheet';
import { quantile } from '../histogram-bins';

/** The drawn thresholds, in the order the summary lists them. */
export const DRAWN_THRESHOLDS = ['blurryBelow', 'noisyLaplacianAbove', 'darkBelow', 'brightAbove', 'lowTextureBelow', 'noisyStdAbove', 'minSide'] as const;

/** One figure to write: `file` is relative to <out>/visualizations/. */
export interface FigureSpec {
  section: 'original' | 'flagged' | 'processed';
  file: string;
  caption: string;
  render(): Promise<{ png: Buffer; warnings?: string[] }>;
}


const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits)) : 'n/a');
const count = (n: number) => n.toLocaleString('en-US');
/** Min/max without spreading large arrays into arguments. */
function extent(values: number[], extra: number[] = []): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of [...extra, ...values]) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
const minSide = (r: { width: number; height: number }) => Math.min(r.width, r.height);

/** Numeric ages sort as numbers, other labels naturally ('9' < '10'). */
function compareLabels(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function ageDistribution(rows: MetadataRow[]): { labels: string[]; values: number[]; numeric: boolean } {
  const ages = rows.map((r) => r.age).filter((a) => Number.isFinite(a));
  if (ages.length > 0 && ages.length >= rows.length / 2) {
    const [lo, hi] = extent(ages).map((v, i) => (i === 0 ? Math.floor(v) : Math.ceil(v)));
    const values = new Array<number>(hi - lo + 1).fill(0);
    for (const a of ages) values[Math.round(a) - lo]++;
    return { labels: values.map((_, i) => String(lo + i)), values, numeric: true };
  }
  const counts = new Map<string, number>();
  for (const r of rows) {
    const label = r.label || r.ageGroup || '(none)';
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const labels = [...counts.keys()].sort(compareLabels);
  return { labels, values: labels.map((l) => counts.get(l) ?? 0), numeric: false };
}

export function flagNames(rows: { flags: string[] }[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const f of r.flags) seen.add(f);
  const extra = [...seen].filter((f) => !(FLAG_NAMES as readonly string[]).includes(f)).sort();
  return [...FLAG_NAMES.filter((f) => seen.has(f)), ...extra];
}

/** The part of `reasons` about `flag` ("grayscale: mean chroma 0 < 2" -> "mean chroma 0 < 2"), else the flag. */
export function reasonFor(r: { reasons: string }, flag: string): string {
  const hit = r.reasons.split('; ').find((x) => x.startsWith(`${flag}:`));
  return hit ? hit.slice(flag.length + 1).trim() : flag;
}

/** Sheet items for duplicate flags: each flagged image next to the image it copies. */
function duplicatePairs(flagged: MetadataRow[], flag: string, root: string, pairs: number): ContactSheetItem[] | undefined {
  const of = (r: MetadataRow) => (flag === 'duplicate' ? r.duplicateOf : flag === 'near_duplicate' ? r.nearDuplicateOf : '');
  const withPartner = flagged.filter((r) => of(r));
  if (withPartner.length === 0) return undefined;
  return withPartner.slice(0, pairs).flatMap((r) => [
    { image: path.resolve(root, r.id), caption: `${path.basename(r.id)}\n${flag === 'duplicate' ? 'copy' : 'near copy'} of →` },
    { image: path.resolve(root, of(r)), caption: `${path.basename(of(r))}\n(kept)` },
  ]);
}

/** How to pick a flag's worst examples: a sort key (ascending = worst first) and a caption. */
function worstOrder(flag: string): { key: (r: MetadataRow) => number; describe: string; metric: (r: MetadataRow) => string } {
  const lap = (r: MetadataRow) => `lap var ${fmt(r.laplacianVariance)}`;
  switch (flag) {
    case 'blurry':
      return { key: (r) => r.laplacianVariance, describe: 'lowest Laplacian variance first', metric: lap };
    case 'noisy':
      return { key: (r) => -r.laplacianVariance, describe: 'highest Laplacian variance first', metric: (r) => `lap ${fmt(r.laplacianVariance, 0)} std ${fmt(r.stdIntensity, 0)}` };
    case 'dark':
      return { key: (r) => r.meanIntensity, describe: 'darkest first', metric: (r) => `mean ${fmt(r.meanIntensity)}` };
    case 'bright':
      return { key: (r) => -r.meanIntensity, describe: 'brightest first', metric: (r) => `mean ${fmt(r.meanIntensity)}` };
    case 'low_texture':
      return { key: (r) => r.stdIntensity, describe: 'lowest standard deviation first', metric: (r) => `std ${fmt(r.stdIntensity)}` };
    case 'low_resolution':
      return { key: (r) => minSide(r), describe: 'smallest first', metric: (r) => `${r.width}x${r.height} px` };
    default:
      return { key: () => 0, describe: 'in CSV order', metric: (r) => reasonFor(r, flag) };
  }
}

export interface FigureInputs {
  rows: MetadataRow[];
  processing?: ProcessingRow[];
  thresholds: QualityThresholds;
  /** Dataset root for contact sheets (ids are relative to it); none -> no sheets. */
  dataRoot?: string;
  /** Thumbnails per contact sheet. */
  sheetSize: number;
}

/** The figures to draw, each rendered when asked. */
export function buildFigures(inp: FigureInputs): FigureSpec[] {
  const { rows, thresholds: t } = inp;
  const ok = rows.filter((r) => !r.error);
  const failed = rows.length - ok.length;
  const failNote = failed ? `${count(failed)} unreadable images left out` : undefined;
  const figures: FigureSpec[] = [];

  const ages = ageDistribution(rows);
  figures.push({
    section: 'original',
    file: 'original_image/age_distribution.png',
    caption: `Images per ${ages.numeric ? 'age' : 'label'} (${count(rows.length)} images, including unreadable ones).`,
    render: async () => ({
      png: await renderBarChart({
        title: ages.numeric ? 'Age distribution' : 'Label distribution',
        subtitle: `n = ${count(ages.values.reduce((a, b) => a + b, 0))} images, ${ages.labels.length} ${ages.numeric ? 'ages' : 'labels'}`,
        xLabel: ages.numeric ? 'Age (years)' : 'Label',
        yLabel: 'Images (count)',
        labels: ages.labels,
        values: ages.values,
      }),
    }),
  });

  const lapValues = ok.map((r) => r.laplacianVariance);
  const lapPositive = lapValues.filter((v) => v > 0);
  const [lapMin, lapMax] = extent(lapPositive, [t.blurryBelow / 2, t.noisyLaplacianAbove * 2]);
  figures.push({
    section: 'original',
    file: 'original_image/laplacian_variance.png',
    caption: `Sharpness: variance of the Laplacian (log scale); blurry below ${t.blurryBelow}, noisy above ${t.noisyLaplacianAbove}.`,
    render: async () => ({
      png: await renderHistogram({
        title: 'Sharpness: variance of the Laplacian',
        subtitle: failNote,
        xLabel: 'Laplacian variance (grey levels², 3x3 kernel)',
        values: lapValues,
        scale: 'log',
        bins: 60,
        min: lapMin,
        max: lapMax,
        thresholds: [
          { value: t.blurryBelow, label: `blurry < ${t.blurryBelow}` },
          { value: t.noisyLaplacianAbove, label: `noisy > ${t.noisyLaplacianAbove}` },
        ],
        flaggedRegions: [
          { to: t.blurryBelow, label: 'blurry' },
          { from: t.noisyLaplacianAbove, label: 'noisy' },
        ],
      }),
    }),
  });

  figures.push({
    section: 'original',
    file: 'original_image/mean_intensity.png',
    caption: `Brightness: mean grey level; dark below ${t.darkBelow}, bright above ${t.brightAbove}.`,
    render: async () => ({
      png: await renderHistogram({
        title: 'Brightness: mean intensity',
        subtitle: failNote,
        xLabel: 'Mean intensity (grey level, 0-255)',
        values: ok.map((r) => r.meanIntensity),
        bins: 64,
        min: 0,
        max: 255,
        thresholds: [
          { value: t.darkBelow, label: `dark < ${t.darkBelow}` },
          { value: t.brightAbove, label: `bright > ${t.brightAbove}` },
        ],
        flaggedRegions: [
          { to: t.darkBelow, label: 'dark' },
          { from: t.brightAbove, label: 'bright' },
        ],
      }),
    }),
  });

  figures.push({
    section: 'original',
    file: 'original_image/std_intensity.png',
    caption: `Contrast: standard deviation of the grey levels; low texture below ${t.lowTextureBelow}, noisy above ${t.noisyStdAbove}.`,
    render: async () => ({
      png: await renderHistogram({
        title: 'Contrast: standard deviation of intensity',
        subtitle: failNote,
        xLabel: 'Standard deviation of intensity (grey levels)',
        values: ok.map((r) => r.stdIntensity),
        bins: 64,
        min: 0,
        max: 128,
        thresholds: [
          { value: t.lowTextureBelow, label: `low texture < ${t.lowTextureBelow}` },
          { value: t.noisyStdAbove, label: `noisy > ${t.noisyStdAbove}` },
        ],
        flaggedRegions: [
          { to: t.lowTextureBelow, label: 'low texture' },
          { from: t.noisyStdAbove, label: 'noisy' },
        ],
      }),
    }),
  });

  const sides = ok.map(minSide).filter((v) => Number.isFinite(v));
  const sideMax = Math.max(t.minSide * 2, Math.ceil(quantile(sides, 0.99) * 1.1) || 0);
  figures.push({
    section: 'original',
    file: 'original_image/min_side.png',
    caption: `Resolution: shorter image side; low resolution below ${t.minSide} px.`,
    render: async () => ({
      png: await renderHistogram({
        title: 'Resolution: shorter side of each image',
        subtitle: failNote,
        xLabel: 'Shorter side (pixels)',
        values: sides,
        bins: 50,
        min: 0,
        max: sideMax,
        thresholds: [{ value: t.minSide, label: `low resolution < ${t.minSide} px` }],
        flaggedRegions: [{ to: t.minSide, label: 'low resolution' }],
      }),
    }),
  });

  const flags = flagNames(rows);
  const anyFlag = rows.filter((r) => r.flags.length > 0).length;
  figures.push({
    section: 'original',
    file: 'original_image/flag_counts.png',
    caption: `Images per quality flag (an image can carry several); ${count(anyFlag)} of ${count(rows.length)} images have at least one.`,
    render: async () => ({
      png: await renderBarChart({
        title: 'Images per quality flag',
        subtitle: `n = ${count(rows.length)} images; ${count(anyFlag)} flagged (${rows.length ? ((100 * anyFlag) / rows.length).toFixed(1) : '0'}%); ${count(failed)} unreadable`,
        xLabel: 'Flag',
        yLabel: 'Images (count)',
        labels: flags.length ? [...flags, 'unreadable'] : ['(no flags)', 'unreadable'],
        values: flags.length ? [...flags.map((f) => rows.filter((r) => r.flags.includes(f)).length), failed] : [0, failed],
        showValues: true,
      }),
    }),
  });

  if (inp.dataRoot) {
    const root = inp.dataRoot;
    for (const flag of flags) {
      const order = worstOrder(flag);
      // an id that leaves the dataset folder (a hand-edited CSV) is never read
      const flagged = rows.filter((r) => r.flags.includes(flag) && !r.error && isInside(path.resolve(root, r.id), root));
      const worst = flagged
        .map((r, i) => ({ r, i, k: order.key(r) }))
        .sort((a, b) => (Number.isNaN(a.k) ? 1 : Number.isNaN(b.k) ? -1 : a.k - b.k || a.i - b.i))
        .slice(0, inp.sheetSize)
        .map((x) => x.r);
      const shown = worst.length;
      figures.push({
        section: 'flagged',
        file: `flagged/${flag}.png`,
        caption: `${flag}: ${shown} of ${count(flagged.length)} flagged images, ${order.describe}.`,
        render: async () => {
          const pairs = duplicatePairs(flagged, flag, root, Math.max(1, Math.floor(inp.sheetSize / 2)));
          if (pairs) {
            const res = await renderContactSheetDetailed({
              title: `Flagged "${flag}": ${pairs.length / 2} of ${count(flagged.length)} images, each beside its ${flag === 'duplicate' ? 'original' : 'near twin'}`,
              subtitle: 'pairs left to right, in CSV order',
              items: pairs,
              columns: 6,
              thumbSize: 180,
            });
            return { png: res.png, warnings: res.unreadable.map((u) => `${String(pairs[u.index].image)}: cannot read for the '${flag}' contact sheet: ${u.reason}`) };
          }
          const items: ContactSheetItem[] = worst.map((r) => ({
            image: path.resolve(root, r.id),
            caption: `${path.basename(r.id)}\n${order.metric(r)} · ${Number.isFinite(r.age) ? `${r.age} y` : r.label}`,
          }));
          const res = await renderContactSheetDetailed({
            title: `Flagged "${flag}": ${shown} of ${count(flagged.length)} images`,
            subtitle: order.describe,
            items,
            columns: 6,
            thumbSize: 180,
          });
          return { png: res.png, warnings: res.unreadable.map((u) => `${path.resolve(root, worst[u.index].id)}: cannot read for the '${flag}' contact sheet: ${u.reason}`) };
        },
      });
    }
  }

  if (inp.processing) figures.push(...processingFigures(inp.processing, t));
  return figures;
}

const METRIC_AXES: { metric: keyof ProcessingMeasurement; file: string; title: string; xLabel: string; scale?: 'log'; min?: number; max?: number; lines: (t: QualityThresholds) => { value: number; label: string }[] }[] = [
  {
    metric: 'laplacianVariance',
    file: 'laplacian_variance',
    title: 'Sharpness before and after processing',
    xLabel: 'Laplacian variance (grey levels², 3x3 kernel)',
    scale: 'log',
    lines: (t) => [
      { value: t.blurryBelow, label: `blurry < ${t.blurryBelow}` },
      { value: t.noisyLaplacianAbove, label: `noisy > ${t.noisyLaplacianAbove}` },
    ],
  },
  {
    metric: 'meanIntensity',
    file: 'mean_intensity',
    title: 'Brightness before and after processing',
    xLabel: 'Mean intensity (grey level, 0-255)',
    min: 0,
    max: 255,
    lines: (t) => [
      { value: t.darkBelow, label: `dark < ${t.darkBelow}` },
      { value: t.brightAbove, label: `bright > ${t.brightAbove}` },
    ],
  },
  {
    metric: 'stdIntensity',
    file: 'std_intensity',
    title: 'Contrast before and after processing',
    xLabel: 'Standard deviation of intensity (grey levels)',
    min: 0,
    max: 128,
    lines: (t) => [
      { value: t.lowTextureBelow, label: `low texture < ${t.lowTextureBelow}` },
      { value: t.noisyStdAbove, label: `noisy > ${t.noisyStdAbove}` },
    ],
  },
];

function processingFigures(processing: ProcessingRow[], t: QualityThresholds): FigureSpec[] {
  const figures: FigureSpec[] = [];
  const changed = processing.filter((r) => r.status === 'resolved' || r.status === 'unresolved');
  const subset = changed.length ? changed : processing.filter((r) => r.status !== 'error');
  const which = changed.length ? `the ${count(changed.length)} processed images (resolved or unresolved)` : `all ${count(subset.length)} images`;
  for (const m of METRIC_AXES) {
    const before = subset.map((r) => r.before?.[m.metric] ?? NaN);
    const after = subset.map((r) => r.after?.[m.metric] ?? NaN);
    let min = m.min;
    let max = m.max;
    if (m.scale === 'log') {
      [min, max] = extent([...before, ...after].filter((v) => v > 0), [t.blurryBelow / 2, t.noisyLaplacianAbove * 2]);
    }
    figures.push({
      section: 'processed',
      file: `processed_image/${m.file}_before_after.png`,
      caption: `${m.title.replace(' before and after processing', '')}: before vs after processing, over ${which}.`,
      render: async () => ({
        png: await renderHistogram({
          title: m.title,
          subtitle: which,
          xLabel: m.xLabel,
          series: [
            { name: 'before', values: before },
            { name: 'after', values: after },
          ],
          scale: m.scale,
          bins: m.scale === 'log' ? 50 : 64,
          min,
          max,
          thresholds: m.lines(t),
        }),
      }),
    });
  }
  const statuses = [...PROCESSING_STATUSES];
  figures.push({
    section: 'processed',
    file: 'processed_image/status.png',
    caption: `Outcome of processing per image (${count(processing.length)} images).`,
    render: async () => ({
      png: await renderBarChart({
        title: 'Processing outcome',
        subtitle: `n = ${count(processing.length)} images`,
        xLabel: 'Status',
        yLabel: 'Images (count)',
        labels: statuses,
        values: statuses.map((s) => processing.filter((r) => r.status === s).length),
        showValues: true,
      }),
    }),
  });
  const flags = flagNames([...processing.map((r) => ({ flags: r.flagsBefore })), ...processing.map((r) => ({ flags: r.flagsAfter }))]);
  if (flags.length) {
    figures.push({
      section: 'processed',
      file: 'processed_image/flags_before_after.png',
      caption: 'Images per quality flag before and after processing.',
      render: async () => ({
        png: await renderGroupedBarChart({
          title: 'Quality flags before and after processing',
          subtitle: `n = ${count(processing.length)} images`,
          xLabel: 'Flag',
          yLabel: 'Images (count)',
          labels: flags,
          series: [
            { name: 'before', values: flags.map((f) => processing.filter((r) => r.flagsBefore.includes(f)).length) },
            { name: 'after', values: flags.map((f) => processing.filter((r) => r.flagsAfter.includes(f)).length) },
          ],
          showValues: true,
        }),
      }),
    });
  }
  return figures;
}
