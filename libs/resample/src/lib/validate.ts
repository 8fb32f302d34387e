import type { ResamplingPlan } from './plan';

/** Total variation distance between two distributions given as weights (each normalised to 1): 0.5 * sum |p - q|. */
export function totalVariationDistance(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new Error(`totalVariationDistance: lengths differ (${p.length} vs ${q.length})`);
  const sp = p.reduce((s, v) => s + v, 0);
  const sq = q.reduce((s, v) => s + v, 0);
  if (!(sp > 0) || !(sq > 0)) throw new Error('totalVariationDistance: a distribution sums to zero');
  let d = 0;
  for (let i = 0; i < p.length; i++) d += Math.abs(p[i] / sp - q[i] / sq);
  return d / 2;
}

export interface ValidationRow {
  label: string;
  targetShare: number;
  achievedShare: number;
  achievedCount: number;
  /** achievedShare - targetShare */
  gap: number;
}

export interface ResamplingValidation {
  /** Total variation distance between the achieved distribution and the target shares. */
  totalVariationDistance: number;
  /** The class with the largest |achieved - target| share, and that gap (signed). */
  largestGap: { label: string; gap: number };
  achievedTotal: number;
  rows: ValidationRow[];
}

/** Compare achieved counts per class with a plan's target shares. */
export function validateResampling(plan: ResamplingPlan, achieved: ReadonlyMap<string, number> | Readonly<Record<string, number>>): ResamplingValidation {
  const get = (label: string): number => (achieved instanceof Map ? (achieved.get(label) ?? 0) : ((achieved as Record<string, number>)[label] ?? 0));
  const labels = plan.rows.map((r) => r.label);
  const extra = [...(achieved instanceof Map ? achieved.keys() : Object.keys(achieved))].filter((l) => !labels.includes(l) && get(l) > 0);
  const all = [...labels, ...extra];
  const counts = all.map(get);
  const achievedTotal = counts.reduce((s, c) => s + c, 0);
  const targetShares = all.map((l) => plan.rows.find((r) => r.label === l)?.targetShare ?? 0);
  const targetSum = targetShares.reduce((s, v) => s + v, 0);
  const rows: ValidationRow[] = all.map((label, i) => {
    const achievedShare = achievedTotal > 0 ? counts[i] / achievedTotal : 0;
    const targetShare = targetSum > 0 ? targetShares[i] / targetSum : 0;
    return { label, targetShare, achievedShare, achievedCount: counts[i], gap: achievedShare - targetShare };
  });
  let largestGap = { label: rows[0]?.label ?? '', gap: 0 };
  for (const r of rows) if (Math.abs(r.gap) > Math.abs(largestGap.gap)) largestGap = { label: r.label, gap: r.gap };
  const tv = achievedTotal > 0 && targetSum > 0 ? rows.reduce((s, r) => s + Math.abs(r.gap), 0) / 2 : 1;
  return { totalVariationDistance: tv, largestGap, achievedTotal, rows };
}
