import type { DatasetRecord } from './layouts';
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
  /**
   * Items to hold out of train/val/test as their own evaluation set (e.g. one population, see holdOutMatcher). A group
   * with any held-out item is held out whole, so no copy of a held-out face is ever trained on.
   */
  heldOutOf?: (item: T) => boolean;
}

export interface Splits<T> {
  train: T[];
  val: T[];
  test: T[];
  /** The held-out evaluation set (SplitOptions.heldOutOf); empty without it. */
  heldout: T[];
}

/** Records whose extra field (a UTKFace name's race, any other column of a labels CSV) has one of these values. */
export interface HoldOutSpec {
  /** The `extra` field of a record, e.g. 'race' (UTKFace: 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others). */
  field: string;
  values: string[];
}

/** JSON schema of a HoldOutSpec in a config (the resample config's `holdOut`, the transfer config's). */
export const holdOutSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'values'],
  description:
    'records whose extra field (UTKFace name: gender, race, datetime; labels CSV: any other column) has one of these values, with their groups, form the heldout split, never train/val/test',
  properties: { field: { type: 'string', minLength: 1 }, values: { type: 'array', items: { type: 'string' }, minItems: 1 } },
} as const;

/** The predicate of a HoldOutSpec over records (a record without the field is never held out). */
export function holdOutMatcher(spec: HoldOutSpec): (record: Pick<DatasetRecord, 'extra'>) => boolean {
  const values = new Set(spec.values);
  return (record) => {
    const value = record.extra?.[spec.field];
    return value !== undefined && values.has(value);
  };
}

export const DEFAULT_SPLIT_RATIOS: SplitRatios = { train: 0.7, val: 0.15, test: 0.15 };

/**
 * Stratified, seeded, grouped split. Groups (not items) are shuffled within each stratum and dealt
 * to the split whose item count is furthest below its target share, so each stratum is split in
 * the ratios as closely as group sizes allow and no group spans two splits.
 * The result depends only on the items' groups/strata and the seed, not on input order. Held-out groups (heldOutOf)
 * are taken out first and never dealt.
 */
export function splitGrouped<T>(items: readonly T[], options: SplitOptions<T>): Splits<T> {
  const ratios = options.ratios ?? DEFAULT_SPLIT_RATIOS;
  const total = ratios.train + ratios.val + ratios.test;
  if (!(total > 0) || [ratios.train, ratios.val, ratios.test].some((r) => r < 0 || !Number.isFinite(r))) {
    throw new Error(`split ratios must be non-negative and sum to more than 0 (got ${JSON.stringify(ratios)})`);
  }
  const share = { train: ratios.train / total, val: ratios.val / total, test: ratios.test / total };
  const names = ['train', 'val', 'test'] as const;

  const heldOutGroups = new Set<string>();
  if (options.heldOutOf) for (const item of items) if (options.heldOutOf(item)) heldOutGroups.add(options.groupOf(item));
  const out: Splits<T> = { train: [], val: [], test: [], heldout: [] };
  const groups = new Map<string, { stratum: string; items: T[] }>();
  for (const item of items) {
    const g = options.groupOf(item);
    if (heldOutGroups.has(g)) {
      out.heldout.push(item);
      continue;
    }
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
