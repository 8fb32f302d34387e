import { createRng } from '@agekit/dataset';
import { hammingDistance, perceptualHash, popcount32, resampleArea } from './phash';

function scene(w: number, h: number, seed: number): Uint8Array {
  // smooth blobs: a natural-ish image whose hash is stable under small changes
  const rng = createRng(seed);
  const blobs = Array.from({ length: 6 }, () => ({ x: rng.uniform(0, w), y: rng.uniform(0, h), r: rng.uniform(w / 8, w / 3), v: rng.uniform(-120, 120) }));
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let v = 128;
      for (const b of blobs) v += b.v * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r));
      out[y * w + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  return out;
}

describe('perceptual hash', () => {
  it('popcount and Hamming distance', () => {
    expect(popcount32(0)).toBe(0);
    expect(popcount32(0xffffffff)).toBe(32);
    expect(popcount32(0b1011)).toBe(3);
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64);
    expect(hammingDistance('8000000000000001', '0000000000000000')).toBe(2);
  });

  it('area resampling keeps the mean and handles up- and downscaling', () => {
    const src = Uint8Array.from({ length: 10 * 7 }, (_, i) => (i * 37) % 256);
    const mean = src.reduce((a, b) => a + b, 0) / src.length;
    for (const [w, h] of [[5, 7], [32, 32], [3, 2]]) {
      const out = resampleArea(src, 10, 7, w, h);
      expect(out.reduce((a, b) => a + b, 0) / out.length).toBeCloseTo(mean, 9);
    }
    // 2x2 -> 1x1 is the plain mean
    expect(resampleArea(Uint8Array.from([0, 10, 20, 30]), 2, 2, 1, 1)[0]).toBeCloseTo(15, 12);
  });

  it('is 16 hex digits; identical for the same picture, close after small changes, far for another picture', () => {
    const a = scene(120, 100, 1);
    const h = perceptualHash(a, 120, 100);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(perceptualHash(new Uint8Array(a), 120, 100)).toBe(h);
    // brighter by 10: only the DC coefficient moves
    expect(hammingDistance(perceptualHash(a.map((v) => Math.min(255, v + 10)), 120, 100), h)).toBeLessThanOrEqual(2);
    // a little noise: near
    const rng = createRng(7);
    const b = a.map((v) => Math.max(0, Math.min(255, v + Math.round(rng.normal() * 2))));
    const noisy = hammingDistance(perceptualHash(b, 120, 100), h);
    expect(noisy).toBeLessThanOrEqual(5); // measured 4
    // the same picture at another size: near
    const small = resampleArea(a, 120, 100, 60, 50);
    const resized = hammingDistance(perceptualHash(Uint8Array.from(small, Math.round), 60, 50), h);
    // other pictures: far
    const others = [2, 3, 4].map((seed) => hammingDistance(perceptualHash(scene(120, 100, seed), 120, 100), h));
    expect(resized).toBeLessThanOrEqual(4);
    for (const d of others) expect(d).toBeGreaterThan(12); // measured 24, 30, 30
  });
});
