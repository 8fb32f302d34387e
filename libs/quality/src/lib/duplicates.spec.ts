import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRng, decodeImage } from '@agekit/dataset';
import { generateSynthDataset } from '@agekit/synth';
import { DuplicateFinder, findDuplicates, type HashedItem } from './duplicates';
import { measureImage } from './metrics';
import { popcount32 } from './phash';

const hex = (hi: number, lo: number): string => (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');

/** Groups (as sorted lists of ids) from a DuplicateResult's links, by brute force over all pairs. */
function bruteForceNear(items: HashedItem[], maxDistance: number): Array<string | undefined> {
  const parent = items.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const hi = items.map((it) => parseInt((it.phash ?? '').slice(0, 8), 16));
  const lo = items.map((it) => parseInt((it.phash ?? '').slice(8), 16));
  for (let a = 0; a < items.length; a++)
    for (let b = a + 1; b < items.length; b++) {
      if (popcount32(hi[a] ^ hi[b]) + popcount32(lo[a] ^ lo[b]) <= maxDistance) {
        const ra = find(a);
        const rb = find(b);
        if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
      }
    }
  return items.map((_, i) => (find(i) === i ? undefined : items[find(i)].id));
}

describe('findDuplicates', () => {
  it('exact duplicates point at the first copy; near duplicates at the first of their group', () => {
    const items: HashedItem[] = [
      { id: 'a', pixelHash: 'p1', phash: '0000000000000000' },
      { id: 'b', pixelHash: 'p2', phash: '0000000000000007' }, // 3 bits from a
      { id: 'c', pixelHash: 'p1', phash: '0000000000000000' }, // same pixels as a
      { id: 'd', pixelHash: 'p3', phash: 'ffffffffffffffff' },
      { id: 'e' }, // unreadable
      { id: 'f', pixelHash: 'p4', phash: '00000000000000ff' }, // 8 bits from a, 5 from b
    ];
    const r = findDuplicates(items, 4);
    expect(r.duplicateOf).toEqual([undefined, undefined, 'a', undefined, undefined, undefined]);
    expect(r.nearDuplicateOf).toEqual([undefined, 'a', undefined, undefined, undefined, undefined]);
    expect(findDuplicates(items, 5).nearDuplicateOf).toEqual([undefined, 'a', undefined, undefined, undefined, 'a']);
    expect(findDuplicates(items, 0).nearDuplicateOf.every((x) => x === undefined)).toBe(true);
  });

  it('band bucketing finds exactly the groups an all-pairs search finds', () => {
    const rng = createRng(11);
    const items: HashedItem[] = [];
    for (let i = 0; i < 600; i++) {
      if (i > 0 && rng.next() < 0.4) {
        // a near copy of an earlier item: flip up to 6 random bits
        const source = items[rng.int(i)].phash ?? '';
        const [hi, lo] = [parseInt(source.slice(0, 8), 16), parseInt(source.slice(8), 16)];
        let h = hi;
        let l = lo;
        for (let f = rng.int(7); f > 0; f--) {
          const bit = rng.int(64);
          if (bit < 32) h ^= 1 << bit;
          else l ^= 1 << (bit - 32);
        }
        items.push({ id: `i${i}`, pixelHash: `p${i}`, phash: hex(h, l) });
      } else {
        items.push({ id: `i${i}`, pixelHash: `p${i}`, phash: hex(rng.int(2 ** 32), rng.int(2 ** 32)) });
      }
    }
    // band widths 64 (d = 0, a two-part key), 32, 21-22 and 9-13 (bands straddling the two 32-bit halves), 2
    for (const d of [0, 1, 2, 3, 4, 6, 10, 31]) expect(findDuplicates(items, d).nearDuplicateOf).toEqual(bruteForceNear(items, d));
  });

  it('finds a pair that agrees on one band only, for every band of every distance', () => {
    const rng = createRng(3);
    for (const d of [1, 2, 3, 4, 5, 6, 7, 10, 31, 63]) {
      const bands = d + 1;
      const bounds = Array.from({ length: bands + 1 }, (_, b) => Math.round((b * 64) / bands));
      for (let keep = 0; keep < bands; keep++) {
        const hi = rng.int(2 ** 32);
        const lo = rng.int(2 ** 32);
        // flip one bit in every band but `keep`: d bits apart, equal on band `keep` only
        let h = hi;
        let l = lo;
        for (let b = 0; b < bands; b++) {
          if (b === keep) continue;
          const bit = bounds[b] + rng.int(bounds[b + 1] - bounds[b]);
          if (bit < 32) h ^= 1 << (31 - bit);
          else l ^= 1 << (63 - bit);
        }
        const items: HashedItem[] = [
          { id: 'x', pixelHash: 'px', phash: hex(hi, lo) },
          { id: 'y', pixelHash: 'py', phash: hex(h, l) },
        ];
        expect({ d, keep, near: findDuplicates(items, d).nearDuplicateOf }).toEqual({ d, keep, near: [undefined, 'x'] });
        expect({ d, keep, near: findDuplicates(items, d - 1).nearDuplicateOf }).toEqual({ d, keep, near: [undefined, undefined] });
      }
    }
  });

  it('DuplicateFinder fed in any order gives what findDuplicates gives in index order', () => {
    const rng = createRng(17);
    const items: HashedItem[] = [];
    for (let i = 0; i < 800; i++) {
      const r = rng.next();
      if (i > 0 && r < 0.15) {
        // an exact copy of an earlier item (same pixels, so the same perceptual hash)
        const source = items[rng.int(i)];
        items.push({ id: `i${i}`, pixelHash: source.pixelHash, phash: source.phash });
      } else if (i > 0 && r < 0.45) {
        // a near copy: up to 6 bits flipped
        const source = items[rng.int(i)].phash ?? '0000000000000000';
        let h = parseInt(source.slice(0, 8), 16);
        let l = parseInt(source.slice(8), 16);
        for (let f = rng.int(7); f > 0; f--) {
          const bit = rng.int(64);
          if (bit < 32) h ^= 1 << bit;
          else l ^= 1 << (bit - 32);
        }
        items.push({ id: `i${i}`, pixelHash: `p${i}`, phash: hex(h, l).toUpperCase() });
      } else if (r > 0.97) {
        items.push({ id: `i${i}` }); // unreadable
      } else {
        items.push({ id: `i${i}`, pixelHash: `p${i}`, phash: hex(rng.int(2 ** 32), rng.int(2 ** 32)) });
      }
    }
    for (const d of [0, 2, 4, 8]) {
      const expected = findDuplicates(items, d);
      expect(expected.duplicateOf.filter(Boolean).length).toBeGreaterThan(50);
      expect(expected.nearDuplicateOf.filter(Boolean).length).toBeGreaterThan(d === 0 ? -1 : 50);
      for (const order of ['reversed', 'shuffled']) {
        const indices = items.map((_, i) => i);
        if (order === 'reversed') indices.reverse();
        else
          for (let k = indices.length - 1; k > 0; k--) {
            const j = rng.int(k + 1);
            [indices[k], indices[j]] = [indices[j], indices[k]];
          }
        const finder = new DuplicateFinder(d);
        for (const i of indices) finder.add(i, items[i]);
        const got = finder.result(items.length);
        expect({ d, order, duplicateOf: got.duplicateOf, nearDuplicateOf: got.nearDuplicateOf, comparisons: got.comparisons }).toEqual({
          d,
          order,
          duplicateOf: expected.duplicateOf,
          nearDuplicateOf: expected.nearDuplicateOf,
          comparisons: expected.comparisons,
        });
      }
    }
  });

  it('matches an all-pairs search for copies, missing hashes and planted pairs at every distance, fed in any order', () => {
    const rng = createRng(23);
    /** hi:lo with `bits` distinct random bits flipped. */
    const flipped = (hi: number, lo: number, bits: number): [number, number] => {
      const chosen = new Set<number>();
      while (chosen.size < bits) chosen.add(rng.int(64));
      for (const bit of chosen) {
        if (bit < 32) hi ^= 1 << bit;
        else lo ^= 1 << (bit - 32);
      }
      return [hi >>> 0, lo >>> 0];
    };
    /** Both links by brute force: copies point at their first; near groups over the other items with a hash, all pairs compared. */
    const bruteForce = (items: HashedItem[], maxDistance: number) => {
      const firstByPixels = new Map<string, number>();
      items.forEach((it, i) => it.pixelHash && !firstByPixels.has(it.pixelHash) && firstByPixels.set(it.pixelHash, i));
      const duplicateOf = items.map((it) => (it.pixelHash && items[firstByPixels.get(it.pixelHash) as number] !== it ? items[firstByPixels.get(it.pixelHash) as number].id : undefined));
      // near matching takes the items with a perceptual hash that are not copies, in index order
      const taking = items.filter((it, i) => it.phash && duplicateOf[i] === undefined);
      const links = new Map(bruteForceNear(taking, maxDistance).map((id, k) => [taking[k].id, id]));
      return { duplicateOf, nearDuplicateOf: items.map((it) => links.get(it.id)) };
    };
    for (const d of [0, 1, 2, 3, 4, 5, 8, 13, 31, 63]) {
      const items: HashedItem[] = [];
      const halves: Array<[number, number]> = [];
      for (let i = 0; i < 240; i++) {
        const r = rng.next();
        let hash: [number, number] = [rng.int(2 ** 32), rng.int(2 ** 32)];
        let pixelHash: string | undefined = `p${i}`;
        if (i > 0 && r < 0.1) {
          // an exact copy of an earlier item (its pixels, so its perceptual hash)
          const source = rng.int(i);
          items.push({ id: `i${i}`, pixelHash: items[source].pixelHash, phash: items[source].phash });
          halves.push(halves[source]);
          continue;
        }
        // planted: 0 .. d + 1 bits from an earlier hash (0: another image with the same perceptual hash)
        if (i > 0 && r < 0.6) hash = flipped(...halves[rng.int(i)], rng.int(Math.min(d + 2, 65)));
        if (r > 0.97) pixelHash = undefined; // a hash without a pixel hash
        const phash = r > 0.94 && r <= 0.97 ? undefined : hex(...hash); // a pixel hash without a perceptual hash
        items.push({ id: `i${i}`, pixelHash, phash: i % 2 ? phash?.toUpperCase() : phash });
        halves.push(hash);
      }
      const expected = bruteForce(items, d);
      expect(expected.duplicateOf.filter(Boolean).length).toBeGreaterThan(10);
      if (d > 0) expect(expected.nearDuplicateOf.filter(Boolean).length).toBeGreaterThan(30);
      // in order, reversed, shuffled, and as explore adds them: batches of 64 in index order, the batches out of order
      const batches = [3, 0, 2, 1].flatMap((b) => items.map((_, i) => i).slice(64 * b, 64 * b + 64));
      const shuffled = items.map((_, i) => i);
      for (let k = shuffled.length - 1; k > 0; k--) {
        const j = rng.int(k + 1);
        [shuffled[k], shuffled[j]] = [shuffled[j], shuffled[k]];
      }
      for (const [order, indices] of Object.entries({ inOrder: items.map((_, i) => i), reversed: items.map((_, i) => items.length - 1 - i), shuffled, batches })) {
        const finder = new DuplicateFinder(d);
        for (const i of indices) finder.add(i, items[i]);
        const got = finder.result(items.length);
        expect({ d, order, duplicateOf: got.duplicateOf, nearDuplicateOf: got.nearDuplicateOf }).toEqual({ d, order, ...expected });
      }
    }
  });

  it('is fast on 20,000 images (no all-pairs comparison)', () => {
    const rng = createRng(5);
    const items: HashedItem[] = Array.from({ length: 20_000 }, (_, i) => ({ id: `i${i}`, pixelHash: `p${i % 19_000}`, phash: hex(rng.int(2 ** 32), rng.int(2 ** 32)) }));
    const started = performance.now();
    const r = findDuplicates(items, 4);
    const ms = performance.now() - started;
    expect(r.duplicateOf.filter(Boolean)).toHaveLength(1_000);
    expect(r.comparisons).toBeLessThan(5_000_000); // all pairs would be 2e8
    expect(ms).toBeLessThan(5_000);
  });

  it('finds the synth generator\'s exact duplicates (manifest duplicate_of) from decoded pixels', async () => {
    const out = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-quality-dups-'));
    try {
      const samples = await generateSynthDataset({ out, count: 24, seed: 4, size: 48, defectRate: 0, duplicateRate: 0.3 });
      const items: HashedItem[] = [];
      for (const s of samples) {
        const m = measureImage(await decodeImage(path.join(out, s.file)));
        items.push({ id: s.file, pixelHash: m.pixelHash, phash: m.phash });
      }
      const r = findDuplicates(items, 0);
      // the generator writes copies after their original, so the first file with those pixels is the original
      const expected = samples.map((s) => s.duplicateOf);
      expect(expected.filter(Boolean).length).toBeGreaterThanOrEqual(3);
      expect(r.duplicateOf).toEqual(expected);
    } finally {
      await fs.rm(out, { recursive: true, force: true });
    }
  });
});
