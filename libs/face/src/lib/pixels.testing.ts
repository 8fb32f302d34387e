// Test helper (specs only; excluded from the library build by tsconfig.lib.json).
import type { PixelImage } from '@agekit/dataset';

/** Mean absolute difference of two same-sized RGB images over the pixels at least `margin` away from the border. */
export function interiorMad(a: PixelImage, b: PixelImage, margin: number): number {
  let sum = 0, n = 0;
  for (let y = margin; y < a.height - margin; y++) {
    for (let x = margin; x < a.width - margin; x++) {
      for (let k = 0; k < 3; k++) {
        const o = (y * a.width + x) * 3 + k;
        sum += Math.abs(a.data[o] - b.data[o]);
        n++;
      }
    }
  }
  return sum / n;
}
