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

/** Bits [from, to) of hi:lo (bit 0 = the first hex digit's top bit) as a number, to - from <= 32. */
function bits32(hi: number, lo: number, from: number, to: number): number {
  const width = to - from;
  const mask = width === 32 ? 0xffffffff : (1 << width) - 1;
  if (to <= 32) return ((hi >>> (32 - to)) & mask) >>> 0;
  if (from >= 32) return ((lo >>> (64 - to)) & mask) >>> 0;
  // straddles the two halves: the top (32 - from) bits from hi, the rest from lo
  const low = to - 32;
  return (hi & ((1 << (32 - from)) - 1)) * 2 ** low + (lo >>> (32 - low));
}

/** A band's key: one number, or two joined when the band is wider than 32 bits (maxDistance 0). */
function bandKey(hi: number, lo: number, from: number, to: number): number | string {
  return to - from <= 32 ? bits32(hi, lo, from, to) : `${bits32(hi, lo, from, from + 32)}:${bits32(hi, lo, from + 32, to)}`;
}

/** A Uint32Array twice as long holding `array`'s values. */
function grown(array: Uint32Array): Uint32Array {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/**
 * Exact duplicates (equal pixel hashes) and near duplicates (perceptual hashes within `maxDistance` bits), built
 * item by item in any order of their indices (e.g. as measurements arrive while others are still being made), with
 * the result findDuplicates gives for the same items in index order. Near duplicates use band bucketing: the 64
 * bits are cut into maxDistance + 1 bands; two hashes within maxDistance bits agree exactly on at least one band
 * (pigeonhole), so each new perceptual hash is compared only with the earlier ones that share a band value. This
 * is exact (no pair within the distance is missed) and near-linear on real data.
 */
export class DuplicateFinder {
  private readonly ids: string[] = [];
  private readonly pixelHashes: Array<string | undefined> = [];
  /** The smallest index added with each pixel hash (the first copy, in index order). */
  private readonly firstByPixels = new Map<string, number>();
  /** Each index's distinct perceptual hash (-1: none). */
  private readonly distinctOf: number[] = [];
  private readonly distinctByHash = new Map<string, number>();
  /** The distinct perceptual hashes as two 32-bit halves (typed arrays: the comparisons run over a million pairs on a real dataset). */
  private hi: Uint32Array = new Uint32Array(1024);
  private lo: Uint32Array = new Uint32Array(1024);
  private distinct = 0;
  /** Pairs of distinct perceptual hashes within maxDistance bits, flattened. */
  private readonly close: number[] = [];
  private readonly bounds: number[] = [];
  private readonly buckets: Array<Map<number | string, number[]>> = [];
  private comparisons = 0;

  constructor(private readonly maxDistance = 4) {
    if (maxDistance > 0) {
      const bands = Math.min(maxDistance + 1, 64);
      for (let b = 0; b <= bands; b++) this.bounds.push(Math.round((b * 64) / bands));
      for (let b = 0; b < bands; b++) this.buckets.push(new Map());
    }
  }

  /** Add the item at `index` (each index once; an index never added counts as an item without hashes). */
  add(index: number, item: HashedItem): void {
    this.ids[index] = item.id;
    this.distinctOf[index] = -1;
    if (item.pixelHash) {
      this.pixelHashes[index] = item.pixelHash;
      const first = this.firstByPixels.get(item.pixelHash);
      if (first === undefined || index < first) this.firstByPixels.set(item.pixelHash, index);
    }
    if (!item.phash) return;
    const h = item.phash.toLowerCase();
    const seen = this.distinctByHash.get(h);
    if (seen !== undefined) {
      this.distinctOf[index] = seen;
      return;
    }
    const d = this.distinct++;
    if (d === this.hi.length) {
      this.hi = grown(this.hi);
      this.lo = grown(this.lo);
    }
    const hi = parseInt(h.slice(0, 8), 16) >>> 0;
    const lo = parseInt(h.slice(8, 16), 16) >>> 0;
    this.hi[d] = hi;
    this.lo[d] = lo;
    this.distinctByHash.set(h, d);
    this.distinctOf[index] = d;
    const his = this.hi;
    const los = this.lo;
    for (let b = 0; b < this.buckets.length; b++) {
      const key = bandKey(hi, lo, this.bounds[b], this.bounds[b + 1]);
      const list = this.buckets[b].get(key);
      if (!list) {
        this.buckets[b].set(key, [d]);
        continue;
      }
      for (let k = 0; k < list.length; k++) {
        const other = list[k];
        if (popcount32(hi ^ his[other]) + popcount32(lo ^ los[other]) <= this.maxDistance) this.close.push(other, d);
      }
      this.comparisons += list.length;
      list.push(d);
    }
  }

  /** The links of items 0 .. count - 1 (default: up to the largest index added). */
  result(count = this.ids.length): DuplicateResult {
    const duplicateOf: Array<string | undefined> = new Array(count).fill(undefined);
    const nearDuplicateOf: Array<string | undefined> = new Array(count).fill(undefined);
    // exact: every copy points at the first; the first copies (and items with no pixel hash) take part in near matching
    const uniques: number[] = [];
    for (let i = 0; i < count; i++) {
      const pixelHash = this.pixelHashes[i];
      if (pixelHash) {
        const first = this.firstByPixels.get(pixelHash) as number;
        if (first !== i) {
          duplicateOf[i] = this.ids[first];
          continue;
        }
      }
      if ((this.distinctOf[i] ?? -1) >= 0) uniques.push(i);
    }
    // near: over those items, in index order; each distinct perceptual hash stands for its first item, and identical
    // perceptual hashes are joined directly
    const uf = new UnionFind(count);
    const representative = new Int32Array(this.distinct).fill(-1);
    for (const i of uniques) {
      const d = this.distinctOf[i];
      if (representative[d] < 0) representative[d] = i;
      else uf.union(representative[d], i);
    }
    // close pairs of hashes that only copies carry (a pixel-hash collision) are left out, as if never compared
    for (let k = 0; k < this.close.length; k += 2) {
      const a = representative[this.close[k]];
      const b = representative[this.close[k + 1]];
      if (a >= 0 && b >= 0) uf.union(a, b);
    }
    for (const i of uniques) {
      const root = uf.find(i);
      if (root !== i) nearDuplicateOf[i] = this.ids[root];
    }
    return { duplicateOf, nearDuplicateOf, comparisons: this.comparisons };
  }
}

/**
 * Exact duplicates (equal pixel hashes) and near duplicates (perceptual hashes within `maxDistance` bits) of
 * `items`, in their order (see DuplicateFinder, which builds the same result item by item).
 */
export function findDuplicates(items: readonly HashedItem[], maxDistance = 4): DuplicateResult {
  const finder = new DuplicateFinder(maxDistance);
  items.forEach((item, i) => finder.add(i, item));
  return finder.result(items.length);
}
