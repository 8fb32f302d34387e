import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { createRng } from '@agekit/dataset';
import { loadImageSet, normalizeBatch } from './images';

async function writeImage(file: string, width: number, height: number, rgb: [number, number, number]): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(file);
}

describe('image cache and normalisation', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-model-images-'));
    await writeImage(path.join(dir, 'a.png'), 20, 10, [200, 100, 50]);
    await writeImage(path.join(dir, 'b.png'), 8, 8, [10, 20, 30]);
    await fs.writeFile(path.join(dir, 'bad.jpg'), 'not an image');
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('decodes and resizes once, lists bad files, and reuses the cache until the dataset changes', async () => {
    const items = ['a.png', 'bad.jpg', 'b.png'].map((f) => ({ id: f, file: path.join(dir, f) }));
    const cacheDir = path.join(dir, 'cache');
    const first = await loadImageSet(items, { size: 4, channels: 3, cacheDir, name: 'train' });
    expect(first.fromCache).toBe(false);
    expect(first.ids).toEqual(['a.png', 'b.png']);
    expect(first.failed).toHaveLength(1);
    expect(first.failed[0].id).toBe('bad.jpg');
    expect(first.failed[0].error).toMatch(/bad\.jpg|format|image/i);
    expect(first.pixels.length).toBe(2 * 4 * 4 * 3);
    expect(Array.from(first.pixels.slice(0, 3))).toEqual([200, 100, 50]);

    const second = await loadImageSet(items, { size: 4, channels: 3, cacheDir, name: 'train' });
    expect(second.fromCache).toBe(true);
    expect(Array.from(second.pixels)).toEqual(Array.from(first.pixels));

    const gray = await loadImageSet(items, { size: 4, channels: 1, cacheDir, name: 'train' });
    expect(gray.fromCache).toBe(false);
    expect(gray.pixels.length).toBe(2 * 16);

    await writeImage(path.join(dir, 'b.png'), 8, 8, [90, 90, 90]);
    await fs.utimes(path.join(dir, 'b.png'), new Date(), new Date(Date.now() + 5000));
    const changed = await loadImageSet(items, { size: 4, channels: 3, cacheDir, name: 'train' });
    expect(changed.fromCache).toBe(false);
    expect(changed.pixels[16 * 3]).toBe(90);
    const fewer = await loadImageSet(items.slice(0, 1), { size: 4, channels: 3, cacheDir, name: 'train' });
    expect(fewer.fromCache).toBe(false);
  });

  it('normalises with mean/std and flips left-right with a seeded rng', () => {
    const size = 2;
    const pixels = Uint8Array.from([10, 20, 30, 40]); // one 2x2 gray image
    const norm = { mean: [20], std: [10] };
    expect(Array.from(normalizeBatch({ size, channels: 1, pixels }, [0], norm))).toEqual([-1, 0, 1, 2]);
    const flips = Array.from({ length: 40 }, (_, i) => normalizeBatch({ size, channels: 1, pixels }, [0], norm, createRng(i))[0]);
    expect(flips.filter((v) => v === 0).length).toBeGreaterThan(5); // mirrored: first pixel is the old second
    expect(flips.filter((v) => v === -1).length).toBeGreaterThan(5);
    const again = Array.from({ length: 40 }, (_, i) => normalizeBatch({ size, channels: 1, pixels }, [0], norm, createRng(i))[0]);
    expect(again).toEqual(flips);
  });

  it('augments on the fly: seeded crop-scale and colour, a flat image stays flat, no augmentation without the rng', () => {
    const size = 8;
    const ramp = Uint8Array.from({ length: size * size }, (_, i) => (i % size) * 30); // columns 0, 30, ..., 210
    const flat = new Uint8Array(size * size).fill(100);
    const norm = { mean: [0], std: [1] };
    const augmentation = { cropScale: 0.5, brightness: 0.3, contrast: 0.3 };
    const plain = Array.from(normalizeBatch({ size, channels: 1, pixels: ramp }, [0], norm));
    expect(Array.from(normalizeBatch({ size, channels: 1, pixels: ramp }, [0], norm, undefined, augmentation))).toEqual(plain);
    const crops = Array.from({ length: 20 }, (_, i) => Array.from(normalizeBatch({ size, channels: 1, pixels: ramp }, [0], norm, createRng(i), { cropScale: 0.5 })));
    // a crop of a horizontal ramp is a ramp with a smaller step (30 x the crop scale per pixel, inside the edges), rows alike
    for (const c of crops) {
      const step = Math.abs(c[3] - c[2]);
      expect(step).toBeGreaterThanOrEqual(15 - 1e-3);
      expect(step).toBeLessThanOrEqual(30 + 1e-3);
      expect(c.slice(size, 2 * size)).toEqual(c.slice(0, size));
    }
    expect(new Set(crops.map((c) => c[0].toFixed(3))).size).toBeGreaterThan(5);
    const coloured = Array.from({ length: 20 }, (_, i) => Array.from(normalizeBatch({ size, channels: 1, pixels: flat }, [0], norm, createRng(i), augmentation)));
    for (const c of coloured) {
      expect(new Set(c).size).toBe(1); // cropping and recolouring a flat image keeps it flat
      expect(c[0]).toBeGreaterThanOrEqual((100 - 128) * 1.3 * 0.7 + 128 * 0.7 - 1e-3);
      expect(c[0]).toBeLessThanOrEqual(((100 - 128) * 0.7 + 128) * 1.3 + 1e-3);
    }
    expect(new Set(coloured.map((c) => c[0].toFixed(3))).size).toBeGreaterThan(5);
    const again = Array.from({ length: 20 }, (_, i) => Array.from(normalizeBatch({ size, channels: 1, pixels: flat }, [0], norm, createRng(i), augmentation)));
    expect(again).toEqual(coloured);
  });
});
