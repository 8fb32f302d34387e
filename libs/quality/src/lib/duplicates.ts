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

/** Union-find over 0 .. n - 1; a root's parent is -1 (so it is set up by a fill, without a loop over the items). */
class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n).fill(-1);
  }
  find(i: number): number {
    for (let p = this.parent[i]; p >= 0; p = this.parent[i]) {
      // path halving: point i at its grandparent and go on from there
      const grand = this.parent[p];
      if (grand < 0) return p;
      this.parent[i] = grand;
      i = grand;
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

/** A typed array of the same kind with at least `length` values, holding `array`'s, the rest `fill`. */
function grown<A extends Int32Array | Uint32Array>(array: A, length: number, fill = 0): A {
  if (length <= array.length) return array;
  const bigger = new (array.constructor as new (size: number) => A)(Math.max(length, array.length * 2));
  bigger.fill(fill);
  bigger.set(array);
  return bigger;
}

/**
 * The typed arrays start this small so that each has grown (and V8 has seen its field change) before add is
 * optimized: a first growth after that (past 1024 hashes, as they started) threw away add's optimized code or the
 * compile under way, and the next items ran unoptimized until add was compiled again.
 */
const INITIAL_ROOM = 16;

/** Bands of at most this many bits find their buckets by value (an array of 2^bits); wider ones in a Map. */
const DIRECT_BAND_BITS = 16;

/**
 * Exact duplicates (equal pixel hashes) and near duplicates (perceptual hashes within `maxDistance` bits), built
 * item by item in any order of their indices (e.g. as measurements arrive while others are still being made), with
 * the result findDuplicates gives for the same items in index order. Near duplicates use band bucketing: the 64
 * bits are cut into maxDistance + 1 bands; two hashes within maxDistance bits agree exactly on at least one band
 * (pigeonhole), so each new perceptual hash is compared only with the earlier ones that share a band value. This
 * is exact (no pair within the distance is missed) and near-linear on real data. Buckets are found by band value and
 * the distinct perceptual hashes in an open-addressing table of their 32-bit halves: on a real dataset the
 * comparisons run over a million pairs, and string-keyed maps cost more than the comparisons.
 */
export class DuplicateFinder {
  private readonly ids: string[] = [];
  /** Each distinct pixel hash's group (its exact copies), and each group's smallest index (the first copy). */
  private readonly groupByPixels = new Map<string, number>();
  private groupFirst: Int32Array = new Int32Array(INITIAL_ROOM);
  /** Each index's pixel group and distinct perceptual hash (-1: none, or not added). */
  private groupOf: Int32Array = new Int32Array(INITIAL_ROOM).fill(-1);
  private distinctOf: Int32Array = new Int32Array(INITIAL_ROOM).fill(-1);
  /** The distinct perceptual hashes as two 32-bit halves. */
  private hi: Uint32Array = new Uint32Array(INITIAL_ROOM);
  private lo: Uint32Array = new Uint32Array(INITIAL_ROOM);
  private distinct = 0;
  /** Open addressing over the distinct hashes: slot -> distinct + 1 (0: empty); a power of two, at most half full. */
  private table: Int32Array = new Int32Array(2 * INITIAL_ROOM);
  /** Pairs of distinct perceptual hashes within maxDistance bits, flattened. */
  private readonly close: number[] = [];
  private readonly bounds: number[] = [];
  /** Per band: the distinct hashes with each band value (a bucket), by value or in a Map. */
  private readonly buckets: Array<Array<number[] | undefined> | Map<number, number[]>> = [];
  private comparisons = 0;

  constructor(private readonly maxDistance = 4) {
    if (maxDistance > 0) {
      const bands = Math.min(maxDistance + 1, 64);
      for (let b = 0; b <= bands; b++) this.bounds.push(Math.round((b * 64) / bands));
      for (let b = 0; b < bands; b++) {
        const bits = this.bounds[b + 1] - this.bounds[b];
        this.buckets.push(bits <= DIRECT_BAND_BITS ? new Array<number[] | undefined>(1 << bits) : new Map());
      }
    }
  }

  /** Add the item at `index` (each index once; an index never added counts as an item without hashes). */
  add(index: number, item: HashedItem): void {
    this.ids[index] = item.id;
    if (index >= this.distinctOf.length) {
      this.groupOf = grown(this.groupOf, index + 1, -1);
      this.distinctOf = grown(this.distinctOf, index + 1, -1);
    }
    if (item.pixelHash) {
      let group = this.groupByPixels.get(item.pixelHash);
      if (group === undefined) {
        group = this.groupByPixels.size;
        this.groupByPixels.set(item.pixelHash, group);
        this.groupFirst = grown(this.groupFirst, group + 1, 0);
        this.groupFirst[group] = index;
      } else if (index < this.groupFirst[group]) this.groupFirst[group] = index;
      this.groupOf[index] = group;
    }
    if (!item.phash) return;
    const hi = parseInt(item.phash.slice(0, 8), 16) >>> 0;
    const lo = parseInt(item.phash.slice(8, 16), 16) >>> 0;
    const slot = this.slotOf(hi, lo);
    const seen = this.table[slot] - 1;
    if (seen >= 0) {
      this.distinctOf[index] = seen;
      return;
    }
    const d = this.distinct++;
    this.hi = grown(this.hi, d + 1);
    this.lo = grown(this.lo, d + 1);
    this.hi[d] = hi;
    this.lo[d] = lo;
    this.table[slot] = d + 1;
    if (2 * this.distinct > this.table.length) this.rehash();
    this.distinctOf[index] = d;
    const his = this.hi;
    const los = this.lo;
    for (let b = 0; b < this.buckets.length; b++) {
      const key = bits32(hi, lo, this.bounds[b], this.bounds[b + 1]);
      const byValue = this.buckets[b];
      let bucket = byValue instanceof Map ? byValue.get(key) : byValue[key];
      if (!bucket) {
        bucket = [];
        if (byValue instanceof Map) byValue.set(key, bucket);
        else byValue[key] = bucket;
      }
      for (let k = 0; k < bucket.length; k++) {
        const other = bucket[k];
        if (popcount32(hi ^ his[other]) + popcount32(lo ^ los[other]) <= this.maxDistance) this.close.push(other, d);
      }
      this.comparisons += bucket.length;
      bucket.push(d);
    }
  }

  /** The slot of hash hi:lo in the table: where it is, or the empty slot where it belongs. */
  private slotOf(hi: number, lo: number): number {
    const mask = this.table.length - 1;
    let slot = (Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b) >>> 0) & mask;
    for (;;) {
      const at = this.table[slot] - 1;
      if (at < 0 || (this.hi[at] === hi && this.lo[at] === lo)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private rehash(): void {
    this.table = new Int32Array(this.table.length * 2);
    for (let d = 0; d < this.distinct; d++) this.table[this.slotOf(this.hi[d], this.lo[d])] = d + 1;
  }

  /** The links of items 0 .. count - 1 (default: up to the largest index added). */
  result(count = this.ids.length): DuplicateResult {
    const duplicateOf: Array<string | undefined> = new Array(count).fill(undefined);
    const nearDuplicateOf: Array<string | undefined> = new Array(count).fill(undefined);
    // near matching is over the first copies (and items with no pixel hash), in index order: each distinct
    // perceptual hash stands for its first such item, and identical perceptual hashes are joined directly
    const uf = new UnionFind(count);
    const representative = new Int32Array(this.distinct).fill(-1);
    const added = Math.min(count, this.distinctOf.length);
    for (let i = 0; i < added; i++) {
      const group = this.groupOf[i];
      // exact: every copy points at the first
      if (group >= 0 && this.groupFirst[group] !== i) {
        duplicateOf[i] = this.ids[this.groupFirst[group]];
        continue;
      }
      const d = this.distinctOf[i];
      if (d < 0) continue;
      if (representative[d] < 0) representative[d] = i;
      else uf.union(representative[d], i);
    }
    // close pairs of hashes that only copies carry (a pixel-hash collision) are left out, as if never compared
    for (let k = 0; k < this.close.length; k += 2) {
      const a = representative[this.close[k]];
      const b = representative[this.close[k + 1]];
      if (a >= 0 && b >= 0) uf.union(a, b);
    }
    // only items that took part were joined: the others are still roots
    for (let i = 0; i < added; i++) if (uf.parent[i] >= 0) nearDuplicateOf[i] = this.ids[uf.find(i)];
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
