import type { BackendInfo } from '@agekit/runtime';
import type { Evaluation } from './evaluate';
import type { EpochRecord } from './train';

/** A figure with `digits` decimals, or 'n/a' when missing or not finite. */
export const formatMetric = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

/** An evaluation's headline figures for JSON (non-finite figures as null). */
export function evaluationFigures(e: Evaluation): Record<'count' | 'loss' | 'mae' | 'cs5' | 'accuracy' | 'auc', number | null> {
  const n = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return { count: e.count, loss: n(e.loss), mae: n(e.mae), cs5: n(e.cs5), accuracy: n(e.accuracy), auc: n(e.auc) };
}

/** 'MAE by age band: 20-29: 3.10 (n=12), ...' over the bands that hold images. */
export function describeBands(e: Pick<Evaluation, 'bands'>): string {
  return `MAE by age band: ${e.bands.filter((b) => b.count > 0).map((b) => `${b.band}: ${formatMetric(b.mae, 2)} (n=${b.count})`).join(', ')}`;
}

/** An evaluation as text lines: the figures, the MAE per age band and the confusion matrix (rows: true classes). */
export function describeEvaluation(title: string, e: Evaluation, labels: string[]): string[] {
  const lines = [`${title}: n=${e.count} MAE=${formatMetric(e.mae)} CS(5)=${formatMetric(e.cs5)} accuracy=${formatMetric(e.accuracy)} macroAUC=${formatMetric(e.auc)} loss=${formatMetric(e.loss, 4)}`, describeBands(e)];
  if (e.confusion.length) {
    const width = Math.max(3, ...labels.map((l) => l.length), ...e.confusion.flat().map((v) => String(v).length));
    lines.push('confusion matrix (rows: true, columns: predicted):', `${''.padStart(width)} ${labels.map((l) => l.padStart(width)).join(' ')}`);
    e.confusion.forEach((row, i) => lines.push(`${labels[i].padStart(width)} ${row.map((v) => String(v).padStart(width)).join(' ')}`));
  }
  return lines;
}

/** The backend a run trains on and its training threads, in one line. */
export function describeTrainingBackend(backend: BackendInfo, threads: number): string {
  return (
    `backend: ${backend.name} — ${backend.reason}${backend.composedKernels.length ? `; composed kernels: ${backend.composedKernels.join(', ')}` : ''}; ` +
    `${threads} training thread${threads === 1 ? '' : 's'}${threads > 1 ? ' (data parallel)' : ''}` +
    // the data-parallel pool splits the native kernels' OpenMP threads between the training threads
    (backend.native && threads > 1 ? `, oneDNN on ${Math.max(1, Math.floor(backend.native.threads / threads))} thread(s) each` : '') +
    (backend.nativeUnavailable ? `; no native kernels: ${backend.nativeUnavailable}` : '')
  );
}

/** One epoch of `fitModel` in one line. */
export function describeEpoch(r: EpochRecord, epochs: number): string {
  const f = formatMetric;
  return `epoch ${r.epoch}/${epochs}: lr ${r.learningRate.toExponential(2)} train loss ${f(r.trainLoss, 4)} | val loss ${f(r.val.loss, 4)} MAE ${f(r.val.mae)} CS(5) ${f(r.val.cs5)} acc ${f(r.val.accuracy)} AUC ${f(r.val.auc)} | ${r.imagesPerSecond.toFixed(1)} img/s${r.best ? ' *best' : ''}`;
}
