import type { PixelImage } from '@agekit/dataset';
import { brightnessPercentiles, histogramEntropy, laplacianVariance, measureImage, opencvGray } from './metrics';

/** Test pattern A (gray): (x*37 + y*91 + x*y*13) mod 256. */
function patternA(w: number, h: number): PixelImage {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = (x * 37 + y * 91 + x * y * 13) % 256;
  return { width: w, height: h, channels: 1, data };
}

/** Test pattern B (RGB): r = (53x + 17y), g = (11x + 71y + 5), b = (7x^2 + 29y), each mod 256. */
function patternB(w: number, h: number): PixelImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      data[i] = (x * 53 + y * 17) % 256;
      data[i + 1] = (x * 11 + y * 71 + 5) % 256;
      data[i + 2] = (x * x * 7 + y * 29) % 256;
    }
  return { width: w, height: h, channels: 3, data };
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

describe('metrics against OpenCV / numpy / PIL', () => {
  // Obtained with /usr/bin/python3 (OpenCV 4, numpy, PIL) on the same patterns:
  //   cv2.Laplacian(g, cv2.CV_64F).var(), float(g.mean()), float(g.std())
  //   (B: g = cv2.cvtColor(BGR, cv2.COLOR_BGR2GRAY)); np.percentile(CleanVision brightness, [5, 99]); PIL Image.entropy()
  const grayCases: Array<[number, number, number, number, number]> = [
    [5, 4, 139721.36000000002, 121.5, 74.92829905983453],
    [1, 6, 32886.666666666664, 99.5, 74.78580524850065],
    [6, 1, 1825.3333333333333, 92.5, 63.18952972341752],
    [1, 1, 0, 0, 0],
    [2, 2, 46270.0, 67.25, 53.480720825359114],
    [17, 13, 123585.38965213651, 129.2398190045249, 75.25132219017786],
  ];
  it.each(grayCases)('gray pattern %ix%i: Laplacian variance, mean, std', (w, h, lv, mean, std) => {
    const m = measureImage(patternA(w, h));
    expect(rel(m.laplacianVariance, lv)).toBeLessThan(1e-12);
    expect(m.meanIntensity).toBeCloseTo(mean, 10);
    expect(m.stdIntensity).toBeCloseTo(std, 10);
    expect(m.rmsContrast).toBeCloseTo(std / 255, 12);
  });

  const rgbCases: Array<[number, number, number, number, number, number, number, number]> = [
    [6, 5, 25428.98222222222, 106.26666666666667, 57.21709146361387, 0.120866682043339, 0.9026815911972031, 6.491853096329662],
    [23, 19, 24619.330079751162, 127.04576659038902, 49.814646938264694, 0.22061626393213057, 0.9240753126119197, 9.336918125002207],
  ];
  it.each(rgbCases)('RGB pattern %ix%i: gray via BGR2GRAY, percentiles, entropy', (w, h, lv, mean, std, p5, p99, entropy) => {
    const m = measureImage(patternB(w, h));
    expect(rel(m.laplacianVariance, lv)).toBeLessThan(1e-12);
    expect(m.meanIntensity).toBeCloseTo(mean, 10);
    expect(m.stdIntensity).toBeCloseTo(std, 10);
    expect(m.lightScore).toBeCloseTo(1 - p5, 10);
    expect(m.darkScore).toBeCloseTo(p99, 10);
    expect(m.entropy).toBeCloseTo(entropy, 10);
  });
});

describe('gray conversion', () => {
  it('rounds half-way cases as OpenCV 4.6 does (15-bit fixed point)', () => {
    // cv2.cvtColor(np.uint8([[[30, 227, 170]]]), cv2.COLOR_BGR2GRAY) -> 188 (exact value 187.499)
    expect(opencvGray(new Uint8Array([170, 227, 30]), 1, 1)[0]).toBe(188);
    expect(opencvGray(new Uint8Array([255, 255, 255, 0, 0, 0, 9, 9, 9]), 3, 1)).toEqual(new Uint8Array([255, 0, 9]));
  });
});

describe('metrics computed by hand', () => {
  it('Laplacian of a single bright pixel in a 3x3 zero image (reflect-101 borders)', () => {
    // centre 10: L(centre) = -40; edge midpoints see it once (+10), and reflect-101 makes each of them
    // see it a second time? No: reflect-101 mirrors *around* the border pixel, so (0,1)'s left neighbour is (1,1).
    // Edge midpoints: (1,0): up = reflect(-1) = row 1 -> 10, down = 10 -> +20. Same for the 4 midpoints.
    // Corners: neighbours are edge midpoints (0) -> 0. So values: -40, 4 x 20, 4 x 0 -> mean 40/9.
    const data = new Uint8Array(9);
    data[4] = 10;
    const values = [-40, 20, 20, 20, 20, 0, 0, 0, 0];
    const mean = values.reduce((a, b) => a + b, 0) / 9;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / 9;
    expect(laplacianVariance(data, 3, 3)).toBeCloseTo(variance, 12);
  });

  it('a constant image has zero Laplacian variance and zero std', () => {
    const img: PixelImage = { width: 8, height: 5, channels: 1, data: new Uint8Array(40).fill(77) };
    const m = measureImage(img);
    expect(m.laplacianVariance).toBe(0);
    expect(m.stdIntensity).toBe(0);
    expect(m.meanIntensity).toBe(77);
    expect(m.entropy).toBe(0);
    expect(m.darkScore).toBeCloseTo(77 / 255, 12);
    expect(m.lightScore).toBeCloseTo(1 - 77 / 255, 12);
  });

  it('clipping shares, aspect ratio, chroma', () => {
    // 10x2 gray: 3 pixels at 0, 2 at 5 (both clipped shadows), 4 at 250+ (clipped highlights), rest 100
    const data = new Uint8Array(20).fill(100);
    data.set([0, 0, 0, 5, 5, 250, 251, 255, 255]);
    const m = measureImage({ width: 10, height: 2, channels: 1, data });
    expect(m.clippedShadows).toBeCloseTo(5 / 20, 12);
    expect(m.clippedHighlights).toBeCloseTo(4 / 20, 12);
    expect(m.aspectRatio).toBeCloseTo(0.2, 12);
    expect(m.chromaMean).toBe(0);
    // RGB: one pixel (255, 0, 0), three gray -> mean chroma 255 / 4
    const rgb = new Uint8Array([255, 0, 0, 9, 9, 9, 50, 50, 50, 7, 7, 7]);
    expect(measureImage({ width: 2, height: 2, channels: 3, data: rgb }).chromaMean).toBeCloseTo(255 / 4, 12);
  });

  it('entropy of a histogram: two equal bins = 1 bit, four = 2 bits', () => {
    expect(histogramEntropy([5, 5])).toBeCloseTo(1, 12);
    expect(histogramEntropy([1, 1, 1, 1, 0])).toBeCloseTo(2, 12);
  });

  it('percentiles interpolate linearly like numpy (gray 0..10)', () => {
    const data = Uint8Array.from({ length: 11 }, (_, i) => i * 10);
    const [p5, p50, p99] = brightnessPercentiles({ width: 11, height: 1, channels: 1, data }, [5, 50, 99]);
    // numpy: pos = p/100 * 10 -> 0.5, 5, 9.9 -> values 5, 50, 99 (on 0..100), divided by 255
    expect(p5).toBeCloseTo(5 / 255, 12);
    expect(p50).toBeCloseTo(50 / 255, 12);
    expect(p99).toBeCloseTo(99 / 255, 12);
  });

  it('RGBA: alpha is ignored; pixel hash tells identical pixels from a one-pixel change', () => {
    const rgb = patternB(9, 7);
    const rgba = new Uint8Array(9 * 7 * 4);
    for (let i = 0; i < 63; i++) {
      rgba.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = i;
    }
    const a = measureImage(rgb);
    const b = measureImage({ width: 9, height: 7, channels: 4, data: rgba });
    expect(b).toEqual({ ...a, channels: 4 });
    const changed = new Uint8Array(rgb.data);
    changed[10] ^= 1;
    expect(measureImage({ ...rgb, data: changed }).pixelHash).not.toBe(a.pixelHash);
    expect(measureImage({ ...rgb, data: new Uint8Array(rgb.data) }).pixelHash).toBe(a.pixelHash);
  });

  it('rejects an empty or short buffer', () => {
    expect(() => measureImage({ width: 0, height: 3, channels: 1, data: new Uint8Array(0) })).toThrow(/no pixels/);
    expect(() => measureImage({ width: 4, height: 4, channels: 3, data: new Uint8Array(10) })).toThrow(/expected 48/);
  });
});
