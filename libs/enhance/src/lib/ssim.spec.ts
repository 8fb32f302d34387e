import { ssimGray, ssim } from './ssim';

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
});
