import { popcount32 } from './phash';

export interface HashedItem {
  id: string;
  /** Exact pixel hash (undefined for images that could not be read). */
  pixelHash?: string;
  /** 64-bit perceptual hash, 16 hex digits. */
  phash?: string;
}

export interface DuplicateResult {
  /** For each input index: the id of the first item (in input order) with identical pixels, if it is not itself the first. */
  duplicateOf: Array<string | undefined>;
  /**
   * For each input index: the id of the first item of its near-duplicate group (perceptual hashes chained
   * at <= maxDistance bits), if it is not itself the first. Exact duplicates are reported only in duplicateOf.
   */
  nearDuplicateOf: Array<string | undefined>;
  /** Pairs of hashes compared (a measure of the work done). */
  comparisons: number;
}

class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]];
      i = this.parent[i];
    }
    return i;
  }
  /** Join two sets; the smaller index becomes the root (so the root is the first in input order). */
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
  }
}

/**
 * Exact duplicates (equal pixel hashes) and near duplicates (perceptual hashes within `maxDistance`
 * bits). Near duplicates use band bucketing: the 64 bits are cut into maxDistance + 1 bands; two hashes
 * within maxDistance bits agree exactly on at least one band (pigeonhole), so only items sharing a band
 * value are compared. This is exact (no pair within the distance is missed) and near-linear on real data.
 */
export function findDuplicates(items: readonly HashedItem[], maxDistance = 4): DuplicateResult {
  const duplicateOf: Array<string | undefined> = new Array(items.length).fill(undefined);
  const nearDuplicateOf: Array<string | undefined> = new Array(items.length).fill(undefined);
  // exact: first occurrence of each pixel hash
  const firstByPixels = new Map<string, number>();
  const uniques: number[] = [];
  items.forEach((item, i) => {
    if (!item.pixelHash) {
      if (item.phash) uniques.push(i);
      return;
    }
    const first = firstByPixels.get(item.pixelHash);
    if (first === undefined) {
      firstByPixels.set(item.pixelHash, i);
      if (item.phash) uniques.push(i);
    } else {
      duplicateOf[i] = items[first].id;
    }
  });
  // near: over the exact-unique items; identical perceptual hashes are joined directly
  const uf = new UnionFind(items.length);
  const byHash = new Map<string, number>();
  const distinct: Array<{ index: number; hi: number; lo: number }> = [];
  for (const i of uniques) {
    const h = (items[i].phash ?? '').toLowerCase();
    const seen = byHash.get(h);
    if (seen !== undefined) {
      uf.union(seen, i);
      continue;
    }
    byHash.set(h, i);
    distinct.push({ index: i, hi: parseInt(h.slice(0, 8), 16) >>> 0, lo: parseInt(h.slice(8, 16), 16) >>> 0 });
  }
  let comparisons = 0;
  if (maxDistance > 0 && distinct.length > 1) {
    const bands = Math.min(maxDistance + 1, 64);
    const bounds: number[] = [];
    for (let b = 0; b <= bands; b++) bounds.push(Math.round((b * 64) / bands));
    // bits [from, to) of hi:lo (bit 0 = the first hex digit's top bit) as a number, to - from <= 32
    const bits32 = (hi: number, lo: number, from: number, to: number): number => {
      const width = to - from;
      const mask = width === 32 ? 0xffffffff : (1 << width) - 1;
      if (to <= 32) return ((hi >>> (32 - to)) & mask) >>> 0;
      if (from >= 32) return ((lo >>> (64 - to)) & mask) >>> 0;
      // straddles the two halves: the top (32 - from) bits from hi, the rest from lo
      const low = to - 32;
      return (hi & ((1 << (32 - from)) - 1)) * 2 ** low + (lo >>> (32 - low));
    };
    // a band's key: one number, or two joined when the band is wider than 32 bits (maxDistance 0)
    const bitsOf = (hi: number, lo: number, from: number, to: number): number | string =>
      to - from <= 32 ? bits32(hi, lo, from, to) : `${bits32(hi, lo, from, from + 32)}:${bits32(hi, lo, from + 32, to)}`;
    for (let b = 0; b < bands; b++) {
      const buckets = new Map<number | string, number[]>();
      for (let k = 0; k < distinct.length; k++) {
        const key = bitsOf(distinct[k].hi, distinct[k].lo, bounds[b], bounds[b + 1]);
        const list = buckets.get(key);
        if (list) list.push(k);
        else buckets.set(key, [k]);
      }
      for (const list of buckets.values()) {
        for (let x = 0; x < list.length; x++) {
          const a = distinct[list[x]];
          for (let y = x + 1; y < list.length; y++) {
            const c = distinct[list[y]];
            comparisons++;
            if (popcount32(a.hi ^ c.hi) + popcount32(a.lo ^ c.lo) <= maxDistance) uf.union(a.index, c.index);
          }
        }
      }
    }
  }
  for (const i of uniques) {
    const root = uf.find(i);
    if (root !== i) nearDuplicateOf[i] = items[root].id;
  }
  return { duplicateOf, nearDuplicateOf, comparisons };
}
