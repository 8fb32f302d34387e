import { convolveSeparable, gaussianKernel } from './filters';
import { ssimAgainst, ssimGray, ssimReference, ssim, SSIM_WINDOW } from './ssim';

// The pair of ssimref.py below; reference values from OpenCV 4.6 (cv2.filter2D with an 11x11
// Gaussian window, sigma 1.5, BORDER_REFLECT_101, mean over the valid region):
//   y, x = np.mgrid[0:30, 0:40]; a = (x*7 + y*13 + (x*y) % 17) % 256; b = clip(a + ((x*31 + y*17) % 21 - 10), 0, 255)
function pair(): { a: Uint8Array; b: Uint8Array; w: number; h: number } {
  const w = 40;
  const h = 30;
  const a = new Uint8Array(w * h);
  const b = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = (x * 7 + y * 13 + ((x * y) % 17)) % 256;
      a[y * w + x] = v;
      b[y * w + x] = Math.min(255, Math.max(0, v + (((x * 31 + y * 17) % 21) - 10)));
    }
  }
  return { a, b, w, h };
}

describe('ssim (Wang et al. 2004, Gaussian window)', () => {
  it('matches an OpenCV/numpy implementation on a fixed pair', () => {
    const { a, b, w, h } = pair();
    expect(ssimGray(a, b, w, h)).toBeCloseTo(0.9790010530997959, 10);
  });

  it('is 1 for identical images and symmetric', () => {
    const { a, b, w, h } = pair();
    expect(ssimGray(a, a, w, h)).toBeCloseTo(1, 12);
    expect(ssimGray(a, b, w, h)).toBeCloseTo(ssimGray(b, a, w, h), 12);
  });

  it('falls as the distortion grows', () => {
    const { a, w, h } = pair();
    const noisy = (amp: number) => a.map((v, i) => Math.min(255, Math.max(0, v + (((i * 7919) % 13) - 6) * amp)));
    const s1 = ssimGray(a, noisy(1), w, h);
    const s3 = ssimGray(a, noisy(3), w, h);
    const s8 = ssimGray(a, noisy(8), w, h);
    expect(s1).toBeGreaterThan(s3);
    expect(s3).toBeGreaterThan(s8);
  });

  it('handles images smaller than the window and compares colour images on gray', () => {
    const tiny = new Uint8Array([10, 20, 30, 40, 50, 60]);
    expect(ssimGray(tiny, tiny, 3, 2)).toBeCloseTo(1, 12);
    const rgb = { width: 2, height: 1, channels: 3 as const, data: new Uint8Array([10, 20, 30, 200, 100, 50]) };
    expect(ssim(rgb, rgb)).toBeCloseTo(1, 12);
    expect(() => ssim(rgb, { ...rgb, width: 1, data: new Uint8Array(3) })).toThrow(/one size/);
  });

  it('is bit for bit the SSIM of whole-plane separable convolutions (the arithmetic process has always used)', () => {
    // the straightforward form: five full convolveSeparable planes, then the mean over the valid region
    const window = gaussianKernel(SSIM_WINDOW.size, SSIM_WINDOW.sigma);
    const planeSsim = (a: Uint8Array, b: Uint8Array, w: number, h: number): number => {
      const conv = (f: (i: number) => number) => convolveSeparable(Float64Array.from({ length: w * h }, (_, i) => f(i)), w, h, window);
      const [ma, mb, aa, bb, ab] = [conv((i) => a[i]), conv((i) => b[i]), conv((i) => a[i] * a[i]), conv((i) => b[i] * b[i]), conv((i) => b[i] * a[i])];
      const half = (SSIM_WINDOW.size - 1) / 2;
      const [x0, x1] = w >= SSIM_WINDOW.size ? [half, w - half] : [0, w];
      const [y0, y1] = h >= SSIM_WINDOW.size ? [half, h - half] : [0, h];
      const [c1, c2] = [(SSIM_WINDOW.k1 * 255) ** 2, (SSIM_WINDOW.k2 * 255) ** 2];
      let sum = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const i = y * w + x;
          const [mx, my, vx, vy, cov] = [ma[i], mb[i], aa[i] - ma[i] * ma[i], bb[i] - mb[i] * mb[i], ab[i] - ma[i] * mb[i]];
          sum += ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
      }
      return sum / ((x1 - x0) * (y1 - y0));
    };
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 256;
    // 1030x1024: over the kept row-sum buffer (1 Mpx), so it gets its own; the sizes after it reuse the kept one
    for (const [w, h] of [[40, 30], [100, 100], [11, 11], [1030, 1024], [12, 3], [7, 5], [3, 17], [1, 1], [64, 13]]) {
      const a = Uint8Array.from({ length: w * h }, random);
      const b = a.map((v) => Math.min(255, Math.max(0, v + Math.floor(random() / 8) - 16)));
      const reference = ssimReference(a, w, h);
      expect(Object.is(ssimAgainst(reference, b), planeSsim(a, b, w, h))).toBe(true);
      // the reference is reused from call to call: a second plane of another size in between changes nothing
      ssimGray(new Uint8Array(5).fill(9), new Uint8Array(5), 5, 1);
      expect(Object.is(ssimAgainst(reference, a), planeSsim(a, a, w, h))).toBe(true);
    }
  });
});
