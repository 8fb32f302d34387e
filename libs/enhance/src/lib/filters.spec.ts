import { applyLut, convolveSeparable, equalizeLut, gammaLut, gaussianKernel } from './filters';
import { reflect101 } from './planes';

describe('filters', () => {
  it('equalizes like OpenCV equalizeHist', () => {
    // cv2.equalizeHist(np.array([(i*i*7) % 97 + 30 for i in range(300)], np.uint8).reshape(15, 20)) (OpenCV 4.6)
    const src = Uint8Array.from({ length: 300 }, (_, i) => ((i * i * 7) % 97) + 30);
    const out = applyLut(src, equalizeLut(src));
    expect(Array.from(out.subarray(0, 40))).toEqual([
      0, 11, 70, 177, 33, 219, 159, 138, 171, 229, 53, 197, 96, 43, 27, 59, 127, 234, 90, 5, 239, 224, 250, 38, 143, 16, 208, 165, 148, 182, 255, 85, 245, 153,
      111, 101, 132, 213, 48, 202,
    ]);
    expect(out.reduce((a, b) => a + b, 0)).toBe(38532);
    // a single-level plane is left alone
    expect(Array.from(applyLut(new Uint8Array([7, 7]), equalizeLut(new Uint8Array([7, 7]))))).toEqual([7, 7]);
  });

  it('builds gamma tables that brighten below 1 and darken above', () => {
    expect(gammaLut(1)[100]).toBe(100);
    expect(gammaLut(0.5)[64]).toBe(128);
    expect(gammaLut(2)[128]).toBe(64);
    expect(() => gammaLut(0)).toThrow(RangeError);
  });

  it('convolves with a normalised kernel, keeping constants and reflecting borders', () => {
    const k = gaussianKernel(5, 1);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const flat = new Float64Array(7 * 3).fill(42);
    for (const v of convolveSeparable(flat, 7, 3, k)) expect(v).toBeCloseTo(42, 10);
    expect([reflect101(-1, 5), reflect101(-2, 5), reflect101(5, 5), reflect101(6, 5), reflect101(3, 1)]).toEqual([1, 2, 3, 2, 0]);
    // an impulse spreads into the kernel itself (separable: outer product)
    const impulse = new Float64Array(9 * 9);
    impulse[4 * 9 + 4] = 1;
    const out = convolveSeparable(impulse, 9, 9, k);
    expect(out[4 * 9 + 4]).toBeCloseTo(k[2] * k[2], 12);
    expect(out[3 * 9 + 5]).toBeCloseTo(k[1] * k[3], 12);
  });
});
