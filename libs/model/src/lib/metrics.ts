/** Evaluation metrics for age models. Pure functions over plain arrays. */

/** Binary ROC AUC (Mann-Whitney U with tied scores counted half); NaN when only one class is present. */
export function binaryAuc(positive: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (positive[order[k]]) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface MacroAucResult {
  /** Mean of the per-class AUCs over classes present in yTrue (and not making up all of it); NaN if none. */
  auc: number;
  /** Per-class one-vs-rest AUC (NaN for a class absent from yTrue). */
  perClass: number[];
  /** Classes that could be scored. */
  classesScored: number;
}

/**
 * Macro one-vs-rest ROC AUC (sklearn's roc_auc_score(multi_class='ovr', average='macro') when every class occurs
 * in yTrue; classes absent from yTrue are skipped rather than raising).
 */
export function macroAucOvr(yTrue: ArrayLike<number>, probabilities: ArrayLike<ArrayLike<number>>, classes: number): MacroAucResult {
  const perClass: number[] = [];
  for (let k = 0; k < classes; k++) {
    const positive = Array.from(yTrue, (y) => y === k);
    const scores = Array.from(probabilities, (p) => p[k]);
    perClass.push(binaryAuc(positive, scores));
  }
  const scored = perClass.filter((a) => !Number.isNaN(a));
  return { auc: scored.length ? scored.reduce((s, a) => s + a, 0) / scored.length : NaN, perClass, classesScored: scored.length };
}

export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  if (yTrue.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hits++;
  return hits / yTrue.length;
}

function pairs(actual: ArrayLike<number>, predicted: ArrayLike<number>): number[] {
  const errors: number[] = [];
  for (let i = 0; i < actual.length; i++) {
    if (Number.isFinite(actual[i]) && Number.isFinite(predicted[i])) errors.push(Math.abs(actual[i] - predicted[i]));
  }
  return errors;
}

/** Mean absolute error over pairs where both values are finite (NaN if none). */
export function meanAbsoluteError(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  const e = pairs(actual, predicted);
  return e.length ? e.reduce((s, x) => s + x, 0) / e.length : NaN;
}

/** Cumulative score CS(t): the share of predictions with |error| <= t years. */
export function cumulativeScore(actual: ArrayLike<number>, predicted: ArrayLike<number>, threshold = 5): number {
  const e = pairs(actual, predicted);
  return e.length ? e.filter((x) => x <= threshold).length / e.length : NaN;
}

/** Index of the largest value. */
export function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Confusion matrix: rows = true class, columns = predicted class. */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] >= 0 && yTrue[i] < classes && yPred[i] >= 0 && yPred[i] < classes) m[yTrue[i]][yPred[i]]++;
  }
  return m;
}

export interface BandError {
  band: string;
  min: number;
  max: number;
  count: number;
  mae: number;
}

/** MAE per age band of the true age; `edges` are lower bounds (default every 10 years from 0). */
export function maeByAgeBand(actual: ArrayLike<number>, predicted: ArrayLike<number>, edges: number[] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]): BandError[] {
  return edges.map((lo, i) => {
    const hi = edges[i + 1] ?? Infinity;
    const a: number[] = [];
    const p: number[] = [];
    for (let j = 0; j < actual.length; j++) {
      if (actual[j] >= lo && actual[j] < hi) {
        a.push(actual[j]);
        p.push(predicted[j]);
      }
    }
    return { band: Number.isFinite(hi) ? `${lo}-${hi - 1}` : `${lo}+`, min: lo, max: hi, count: a.length, mae: meanAbsoluteError(a, p) };
  });
}
