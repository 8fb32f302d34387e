import { createRng } from './rng';

export interface SplitRatios {
  train: number;
  val: number;
  test: number;
}

export interface SplitOptions<T> {
  ratios?: SplitRatios;
  seed: number;
  /** Group id: all items of a group go to one split. */
  groupOf: (item: T) => string;
  /** Stratum (e.g. the age label). A group takes the stratum of its first item. */
  stratumOf?: (item: T) => string;
}

export interface Splits<T> {
  train: T[];
  val: T[];
  test: T[];
}

export const DEFAULT_SPLIT_RATIOS: SplitRatios = { train: 0.7, val: 0.15, test: 0.15 };

/**
 * Stratified, seeded, grouped split. Groups (not items) are shuffled within each stratum and dealt
 * to the split whose item count is furthest below its target share, so each stratum is split in
 * the ratios as closely as group sizes allow and no group spans two splits.
 * The result depends only on the items' groups/strata and the seed, not on input order.
 */
export function splitGrouped<T>(items: readonly T[], options: SplitOptions<T>): Splits<T> {
  const ratios = options.ratios ?? DEFAULT_SPLIT_RATIOS;
  const total = ratios.train + ratios.val + ratios.test;
  if (!(total > 0) || [ratios.train, ratios.val, ratios.test].some((r) => r < 0 || !Number.isFinite(r))) {
    throw new Error(`split ratios must be non-negative and sum to more than 0 (got ${JSON.stringify(ratios)})`);
  }
  const share = { train: ratios.train / total, val: ratios.val / total, test: ratios.test / total };
  const names = ['train', 'val', 'test'] as const;

  const groups = new Map<string, { stratum: string; items: T[] }>();
  for (const item of items) {
    const g = options.groupOf(item);
    let entry = groups.get(g);
    if (!entry) {
      entry = { stratum: options.stratumOf ? options.stratumOf(item) : '', items: [] };
      groups.set(g, entry);
    }
    entry.items.push(item);
  }
  const strata = new Map<string, string[]>();
  for (const [g, entry] of groups) {
    const list = strata.get(entry.stratum) ?? [];
    list.push(g);
    strata.set(entry.stratum, list);
  }
  const out: Splits<T> = { train: [], val: [], test: [] };
  const rng = createRng(options.seed);
  for (const stratum of [...strata.keys()].sort()) {
    const groupIds = strata.get(stratum)!.sort();
    rng.fork(stratum).shuffle(groupIds);
    const count = { train: 0, val: 0, test: 0 };
    let assigned = 0;
    for (const g of groupIds) {
      const size = groups.get(g)!.items.length;
      // deficit after adding this group: pick the split that is furthest below its share
      let best: (typeof names)[number] = 'train';
      let bestDeficit = -Infinity;
      for (const name of names) {
        if (share[name] === 0) continue;
        const deficit = share[name] * (assigned + size) - count[name];
        if (deficit > bestDeficit + 1e-12) {
          bestDeficit = deficit;
          best = name;
        }
      }
      count[best] += size;
      assigned += size;
      out[best].push(...groups.get(g)!.items);
    }
  }
  return out;
}
