// Test helper (specs only; excluded from the library build by tsconfig.lib.json).
import { createRng } from '@agekit/dataset';
import type { LabelledImages } from './evaluate';

/** n tiny grayscale images whose brightness pattern depends on the class (ages 25 / 35 / 45 -> classes 0 / 1 / 2). */
export function makeClassImages(n: number, size: number, seed: number): LabelledImages {
  const rng = createRng(seed);
  const pixels = new Uint8Array(n * size * size);
  const targets: number[] = [];
  const ages: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    targets.push(k);
    ages.push(25 + 10 * k);
    for (let p = 0; p < size * size; p++) {
      const row = Math.floor(p / size);
      pixels[i * size * size + p] = Math.max(0, Math.min(255, Math.round(60 + 60 * k + (row < size / 2 ? 30 : -30) * (k - 1) + rng.normal() * 20)));
    }
  }
  return { images: { size, channels: 1, pixels }, targets, ages };
}
