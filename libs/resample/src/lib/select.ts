import { createRng } from '@agekit/dataset';
import { drawAugmentation, type AugmentationOptions, type AugmentParams } from './augment';
import type { ResamplingPlan } from './plan';

/** One item of the resampled set: an original (copy 0) or an augmented copy of it. */
export interface ResampledItem<T> {
  source: T;
  label: string;
  /** 0 for the original itself, 1.. for augmented copies of the same source. */
  copy: number;
  /** Parameters of an augmented copy (undefined for an original). */
  augmentation?: AugmentParams;
}

export interface SelectOptions<T> {
  seed: number;
  labelOf: (item: T) => string;
  /** Stable id of an item (its order does not matter, its id does). */
  idOf: (item: T) => string;
  augmentation?: AugmentationOptions;
}

/**
 * Apply a plan: a class above its target keeps a seeded random selection of `targetCount` images;
 * a class below it keeps every image and gets `difference` augmented copies, spread evenly over
 * its images (each image is copied once before any is copied twice; who goes first is seeded).
 * Each copy's augmentation parameters are drawn from a generator forked from the seed, the class
 * and the copy's source and number, so they do not depend on the order of the input.
 * Returns items grouped by class in plan order, originals (by id) before copies.
 */
export function applyPlan<T>(items: readonly T[], plan: ResamplingPlan, options: SelectOptions<T>): ResampledItem<T>[] {
  const byLabel = new Map<string, T[]>();
  for (const item of items) {
    const label = options.labelOf(item);
    const list = byLabel.get(label) ?? [];
    list.push(item);
    byLabel.set(label, list);
  }
  const rng = createRng(options.seed);
  const out: ResampledItem<T>[] = [];
  const byId = (a: T, b: T): number => {
    const x = options.idOf(a);
    const y = options.idOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  for (const row of plan.rows) {
    const members = [...(byLabel.get(row.label) ?? [])].sort(byId);
    if (members.length !== row.currentCount) {
      throw new Error(`plan says class ${row.label} has ${row.currentCount} images but ${members.length} were given`);
    }
    if (row.targetCount <= members.length) {
      const chosen = rng.fork(`select:${row.label}`).shuffle(members).slice(0, row.targetCount).sort(byId);
      for (const source of chosen) out.push({ source, label: row.label, copy: 0 });
      continue;
    }
    if (members.length === 0) throw new Error(`class ${row.label} has no image to augment`);
    for (const source of members) out.push({ source, label: row.label, copy: 0 });
    const order = rng.fork(`order:${row.label}`).shuffle([...members]);
    const extra = row.targetCount - members.length;
    for (let k = 0; k < extra; k++) {
      const source = order[k % order.length];
      const copy = Math.floor(k / order.length) + 1;
      const augmentation = drawAugmentation(rng.fork(`augment:${row.label}:${options.idOf(source)}:${copy}`), options.augmentation);
      out.push({ source, label: row.label, copy, augmentation });
    }
  }
  return out;
}
