import type { TargetDistribution } from './distribution';
import { MissingClassesError } from './errors';

/**
 * Which classes to resample, in the spirit of imbalanced-learn's `sampling_strategy`:
 * - `distribution`: every class gets its share of the total (largest-remainder rounding);
 * - `counts`: explicit target counts per class label (classes left out keep their current count);
 * - `equalize`: over-sampling raises the selected classes to the majority's count, under-sampling
 *   lowers them to the minority's count. `classes` selects: 'all', 'not majority', 'not minority',
 *   'minority' or 'majority' (imbalanced-learn's 'auto' is 'not majority' for over-sampling and
 *   'not minority' for under-sampling).
 */
export type SamplingStrategy =
  | { kind: 'distribution'; distribution: TargetDistribution }
  | { kind: 'counts'; counts: Readonly<Record<string, number>> }
  | { kind: 'equalize'; classes: EqualizeClasses; direction: 'over' | 'under' };

export type EqualizeClasses = 'all' | 'not majority' | 'not minority' | 'minority' | 'majority';

export const EQUALIZE_CLASSES: readonly EqualizeClasses[] = ['all', 'not majority', 'not minority', 'minority', 'majority'];

export interface PlanRow {
  label: string;
  /** Share of the total this class should have (0..1). */
  targetShare: number;
  targetCount: number;
  currentCount: number;
  /** targetCount - currentCount: > 0 means augmented copies, < 0 means images dropped. */
  difference: number;
}

export interface ResamplingPlan {
  strategy: string;
  /** Sum of the target counts. */
  total: number;
  /** Sum of the current counts. */
  currentTotal: number;
  rows: PlanRow[];
}

export interface PlanOptions {
  /** Total after resampling for a `distribution` strategy (default: the current total). */
  total?: number;
}

/**
 * Hamilton's largest-remainder method: integers proportional to `weights` that sum to `total`
 * exactly. Ties in the remainders go to the earlier index.
 */
export function largestRemainder(weights: readonly number[], total: number): number[] {
  if (!Number.isInteger(total) || total < 0) throw new Error(`largestRemainder: total must be a whole number >= 0 (got ${total})`);
  if (weights.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new Error('largestRemainder: weights must be finite and >= 0');
  const sum = weights.reduce((s, w) => s + w, 0);
  if (weights.length === 0 || sum <= 0) {
    if (total === 0) return weights.map(() => 0);
    throw new Error('largestRemainder: weights sum to zero');
  }
  const quotas = weights.map((w) => (w / sum) * total);
  const counts = quotas.map((q) => Math.floor(q));
  let left = total - counts.reduce((s, c) => s + c, 0);
  const order = quotas.map((q, i) => ({ i, r: q - Math.floor(q) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length) {
    if (weights[order[k].i] === 0) continue;
    counts[order[k].i]++;
    left--;
  }
  return counts;
}

function toMap(current: ReadonlyMap<string, number> | Readonly<Record<string, number>>): Map<string, number> {
  return current instanceof Map ? new Map(current) : new Map(Object.entries(current));
}

/** Numeric-aware label order: "9" < "20" < "20-24" < "YOUNG". */
export function compareLabels(a: string, b: string): number {
  const na = parseFloat(a);
  const nb = parseFloat(b);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  if (Number.isFinite(na) !== Number.isFinite(nb)) return Number.isFinite(na) ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function describeStrategy(strategy: SamplingStrategy): string {
  if (strategy.kind === 'distribution') return `distribution ${strategy.distribution.name}`;
  if (strategy.kind === 'counts') return 'explicit counts';
  return `${strategy.direction}-sample ${strategy.classes}`;
}

/**
 * Plan per class: target share and count, current count and the difference.
 * Throws MissingClassesError naming every class the target wants (share > 0 or count > 0)
 * but the current data has no image of (an empty class cannot be up-sampled).
 */
export function planResampling(
  current: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
  strategy: SamplingStrategy,
  options: PlanOptions = {},
): ResamplingPlan {
  const counts = toMap(current);
  const currentTotal = [...counts.values()].reduce((s, c) => s + c, 0);
  let labels: string[];
  let targets: number[];
  if (strategy.kind === 'distribution') {
    const dist = strategy.distribution;
    const total = options.total ?? currentTotal;
    labels = dist.classes.map((c) => c.label);
    const extra = [...counts.keys()].filter((l) => !labels.includes(l) && (counts.get(l) ?? 0) > 0).sort(compareLabels);
    const weights = [...dist.shares, ...extra.map(() => 0)];
    labels = [...labels, ...extra];
    targets = largestRemainder(weights, total);
  } else if (strategy.kind === 'counts') {
    for (const [label, n] of Object.entries(strategy.counts)) {
      if (!Number.isInteger(n) || n < 0) throw new Error(`target count for class ${label} must be a whole number >= 0 (got ${n})`);
    }
    labels = [...new Set([...counts.keys(), ...Object.keys(strategy.counts)])].sort(compareLabels);
    targets = labels.map((l) => strategy.counts[l] ?? counts.get(l) ?? 0);
  } else {
    labels = [...counts.keys()].filter((l) => (counts.get(l) ?? 0) > 0).sort(compareLabels);
    if (labels.length === 0) throw new Error('cannot equalize: no class has any image');
    const values = labels.map((l) => counts.get(l) ?? 0);
    const max = Math.max(...values);
    const min = Math.min(...values);
    const selected = (n: number): boolean => {
      switch (strategy.classes) {
        case 'all':
          return true;
        case 'not majority':
          return n !== max;
        case 'not minority':
          return n !== min;
        case 'majority':
          return n === max;
        case 'minority':
          return n === min;
      }
    };
    const goal = strategy.direction === 'over' ? max : min;
    targets = values.map((n) => (selected(n) ? goal : n));
  }
  const total = targets.reduce((s, t) => s + t, 0);
  const rows: PlanRow[] = labels.map((label, i) => {
    const currentCount = counts.get(label) ?? 0;
    const targetShare =
      strategy.kind === 'distribution' ? (strategy.distribution.shares[i] ?? 0) : total > 0 ? targets[i] / total : 0;
    return { label, targetShare, targetCount: targets[i], currentCount, difference: targets[i] - currentCount };
  });
  const missing = rows.filter((r) => r.currentCount === 0 && (r.targetCount > 0 || r.targetShare > 0)).map((r) => r.label);
  if (missing.length > 0) throw new MissingClassesError(missing);
  return { strategy: describeStrategy(strategy), total, currentTotal, rows };
}

/** Count items per class label. */
export function countByLabel<T>(items: readonly T[], labelOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const label = labelOf(item);
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return counts;
}
