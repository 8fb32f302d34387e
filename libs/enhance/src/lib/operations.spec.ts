import type { PixelImage } from '@agekit/dataset';
import { DEFAULT_THRESHOLDS } from '@agekit/quality';
import { DEFAULT_CANDIDATES } from './config';
import { measureForGuard, qualityGuard } from './guard';
import { applyOperation, describeOperation, upscaledSize, type OperationSpec } from './operations';
import { ssim } from './ssim';
import { blurredImage, brightImage, cleanImage, darkImage, flatImage, mapValues, noisyImage } from '../testing/images';

const guard = qualityGuard({ ...DEFAULT_THRESHOLDS });
const flagsOf = (image: PixelImage): readonly string[] => guard.flags(measureForGuard(image));

describe('test images are made to fail', () => {
  it('clean passes every fixable check; each defect raises its flag', async () => {
    expect(flagsOf(cleanImage())).toEqual([]);
    expect(flagsOf(await blurredImage())).toContain('blurry');
    expect(flagsOf(darkImage())).toContain('dark');
    expect(flagsOf(brightImage())).toContain('bright');
    expect(flagsOf(flatImage())).toContain('low_texture');
    expect(flagsOf(noisyImage())).toContain('noisy');
  });
});

describe('operations move their metric the right way', () => {
  it.each<OperationSpec>([
    { op: 'unsharp', sigma: 1, amount: 3 },
    { op: 'highpass', amount: 1 },
  ])('%o sharpens a blurred image (Laplacian variance up, above the blurry threshold)', async (spec) => {
    const blurred = await blurredImage();
    const before = measureForGuard(blurred).laplacianVariance;
    const after = measureForGuard(await applyOperation(blurred, spec)).laplacianVariance;
    expect(after).toBeGreaterThan(2 * before);
    expect(after).toBeGreaterThan(DEFAULT_THRESHOLDS.blurryBelow);
  });

  it.each<OperationSpec>([
    { op: 'gaussian', sigma: 1.2 },
    { op: 'median', size: 3 },
    { op: 'bilateral', diameter: 5, sigmaColor: 40, sigmaSpace: 3 },
  ])('%o makes a noisy image less noisy (Laplacian variance down, closer to the clean image)', async (spec) => {
    const noisy = noisyImage();
    const denoised = await applyOperation(noisy, spec);
    expect(measureForGuard(denoised).laplacianVariance).toBeLessThan(0.75 * measureForGuard(noisy).laplacianVariance);
    expect(ssim(cleanImage(), denoised)).toBeGreaterThan(ssim(cleanImage(), noisy) + 0.04);
  });

  it.each<OperationSpec>([{ op: 'gamma', gamma: 0.5 }, { op: 'equalize' }, { op: 'clahe', tiles: 4, maxSlope: 3 }])(
    '%o brightens a dark image',
    async (spec) => {
      const dark = darkImage();
      const after = measureForGuard(await applyOperation(dark, spec)).meanIntensity;
      // CLAHE limits its slope, so it brightens a uniformly dark image only a little
      expect(after).toBeGreaterThan(measureForGuard(dark).meanIntensity + (spec.op === 'clahe' ? 3 : 10));
      if (spec.op !== 'clahe') expect(after).toBeGreaterThan(DEFAULT_THRESHOLDS.darkBelow);
    },
  );

  it.each<OperationSpec>([{ op: 'gamma', gamma: 2.5 }, { op: 'equalize' }])('%o darkens a bright image below the threshold', async (spec) => {
    const bright = brightImage();
    const after = measureForGuard(await applyOperation(bright, spec)).meanIntensity;
    expect(after).toBeLessThan(DEFAULT_THRESHOLDS.brightAbove);
  });

  it.each<OperationSpec>([{ op: 'texture', sigma: 4, amount: 2 }, { op: 'equalize' }])('%o gives a flat image texture (std up)', async (spec) => {
    const flat = flatImage();
    const after = measureForGuard(await applyOperation(flat, spec)).stdIntensity;
    expect(after).toBeGreaterThan(1.4 * measureForGuard(flat).stdIntensity);
    // this image's contrast is mostly a smooth gradient: only equalisation stretches it past the threshold
    if (spec.op === 'equalize') expect(after).toBeGreaterThan(DEFAULT_THRESHOLDS.lowTextureBelow);
  });

  it.each<'cubic' | 'lanczos3'>(['cubic', 'lanczos3'])('upscale (%s) brings the short side to minSide, aspect kept', async (kernel) => {
    const small = cleanImage(40, 60);
    const up = await applyOperation(small, { op: 'upscale', kernel, minSide: 100 });
    expect([up.width, up.height]).toEqual([100, 150]);
    expect(up.channels).toBe(3);
    expect(flagsOf(up)).not.toContain('low_resolution');
    const same = await applyOperation(cleanImage(), { op: 'upscale', kernel, minSide: 100 });
    expect([same.width, same.height]).toEqual([100, 104]);
    expect(upscaledSize(60, 40, 100)).toEqual({ width: 150, height: 100 });
    expect(upscaledSize(9, 10, 100)).toEqual({ width: 100, height: 111 });
  });
});

describe('operations on a clean image', () => {
  // every operation of the default grid, at its gentlest setting
  const gentlest = new Map<string, OperationSpec>();
  for (const list of Object.values(DEFAULT_CANDIDATES)) {
    for (const spec of list) if (!gentlest.has(spec.op) && spec.op !== 'upscale') gentlest.set(spec.op, spec as OperationSpec);
  }
  // Tolerances: detail operations (sharpen/denoise) keep the tone (mean within 2 levels) and the
  // structure (SSIM > 0.85); tone and contrast operations (gamma, equalize, CLAHE, texture) may move
  // the tone on purpose but must not make a clean image dark, bright or flat, and keep SSIM > 0.6. (Whether a clean image is touched at
  // all is the guarded choice's business: it leaves images without flags unchanged.)
  it.each([...gentlest.values()].map((s) => [describeOperation(s), s] as const))('%s stays within tolerance', async (_name, spec) => {
    const clean = cleanImage();
    const out = await applyOperation(clean, spec);
    const m0 = measureForGuard(clean);
    const m1 = measureForGuard(out);
    const tone = spec.op === 'equalize' || spec.op === 'clahe' || spec.op === 'gamma' || spec.op === 'texture';
    if (tone) {
      expect(flagsOf(out).filter((f) => f === 'dark' || f === 'bright' || f === 'low_texture')).toEqual([]);
      expect(ssim(clean, out)).toBeGreaterThan(0.6);
    } else {
      expect(Math.abs(m1.meanIntensity - m0.meanIntensity)).toBeLessThan(2);
      expect(ssim(clean, out)).toBeGreaterThan(0.85);
    }
    expect([out.width, out.height]).toEqual([clean.width, clean.height]);
  });
});

describe('operation contracts', () => {
  const all: OperationSpec[] = [
    { op: 'unsharp', sigma: 1.5, amount: 1, threshold: 2 },
    { op: 'highpass', amount: 0.5 },
    { op: 'texture', sigma: 5, amount: 1 },
    { op: 'gaussian', sigma: 1 },
    { op: 'median', size: 3 },
    { op: 'bilateral', diameter: 5, sigmaColor: 30, sigmaSpace: 3 },
    { op: 'equalize' },
    { op: 'clahe', tiles: 4, maxSlope: 3 },
    { op: 'gamma', gamma: 0.6 },
    { op: 'upscale', kernel: 'lanczos3', minSide: 200 },
  ];

  it.each(all.map((s) => [describeOperation(s), s] as const))('%s is deterministic, keeps channels and leaves its input alone', async (_name, spec) => {
    const rgb = mapValues(cleanImage(48, 40), (v) => v * 0.3);
    const gray: PixelImage = { width: rgb.width, height: rgb.height, channels: 1, data: rgb.data.filter((_, i) => i % 3 === 1) };
    for (const image of [rgb, gray]) {
      const copy = new Uint8Array(image.data);
      const a = await applyOperation(image, spec);
      const b = await applyOperation(image, spec);
      expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).toBe(0);
      expect(a.channels).toBe(image.channels);
      expect(a.data.length).toBe(a.width * a.height * a.channels);
      expect(Buffer.compare(Buffer.from(image.data), Buffer.from(copy))).toBe(0);
    }
  });

  it('luminance operations keep colour (the chroma of unclipped pixels is unchanged)', async () => {
    const image = darkImage();
    const out = await applyOperation(image, { op: 'gamma', gamma: 0.6 });
    let checked = 0;
    let changed = 0;
    for (let i = 0; i < out.data.length; i += 3) {
      if (Math.max(out.data[i], out.data[i + 1], out.data[i + 2]) >= 255 || Math.min(out.data[i], out.data[i + 1], out.data[i + 2]) <= 0) continue;
      checked++;
      if (out.data[i] - out.data[i + 1] !== image.data[i] - image.data[i + 1] || out.data[i + 2] - out.data[i + 1] !== image.data[i + 2] - image.data[i + 1]) changed++;
    }
    expect(checked).toBeGreaterThan(1000);
    expect(changed).toBe(0);
    expect(measureForGuard(out).meanIntensity).toBeGreaterThan(measureForGuard(image).meanIntensity + 20);
  });

  it('keeps alpha of RGBA images', async () => {
    const rgba: PixelImage = { width: 20, height: 20, channels: 4, data: new Uint8Array(1600).map((_, i) => (i % 4 === 3 ? 77 : (i * 13) % 50)) };
    for (const spec of [{ op: 'gaussian', sigma: 1 }, { op: 'equalize' }, { op: 'bilateral', diameter: 3, sigmaColor: 20, sigmaSpace: 2 }] as OperationSpec[]) {
      const out = await applyOperation(rgba, spec);
      for (let i = 3; i < out.data.length; i += 4) expect(out.data[i]).toBe(77);
    }
  });

  it('rejects parameters out of range', async () => {
    const image = cleanImage(20, 20);
    await expect(applyOperation(image, { op: 'median', size: 4 })).rejects.toThrow(/median: size/);
    await expect(applyOperation(image, { op: 'gamma', gamma: 0 })).rejects.toThrow(/gamma/);
    await expect(applyOperation(image, { op: 'gaussian', sigma: 0.1 })).rejects.toThrow(/sigma/);
  });

  it('describes operations for CSVs', () => {
    expect(describeOperation({ op: 'unsharp', sigma: 1.5, amount: 1 })).toBe('unsharp(sigma=1.5,amount=1)');
    expect(describeOperation({ op: 'gamma', gamma: 0.6 })).toBe('gamma(0.6)');
    expect(describeOperation({ op: 'equalize' })).toBe('equalize');
  });
});
