import type { PixelImage } from '@agekit/dataset';
import { DEFAULT_THRESHOLDS } from '@agekit/quality';
import { enhanceImage, describeOperations, ssimToOriginal, type CandidateGrid } from './choose';
import { DEFAULT_CANDIDATES, resolveCandidates } from './config';
import { qualityGuard } from './guard';
import { applyOperation } from './operations';
import { ssim } from './ssim';
import { blurredImage, cleanImage, darkImage, mapValues } from '../testing/images';

const guard = qualityGuard({ ...DEFAULT_THRESHOLDS });
// a guard that only judges tone (a darkened image also loses Laplacian variance)
const toneGuard = qualityGuard({ ...DEFAULT_THRESHOLDS, blurryBelow: 0 });
const grid = resolveCandidates(DEFAULT_CANDIDATES, DEFAULT_THRESHOLDS.minSide);

describe('enhanceImage (quality-guarded choice)', () => {
  it('leaves an image without flags unchanged', async () => {
    const clean = cleanImage();
    const result = await enhanceImage(clean, { guard, candidates: grid });
    expect(result.status).toBe('unchanged');
    expect(result.image).toBe(clean);
    expect(result.operations).toEqual([]);
    expect(result.candidatesTried).toBe(0);
  });

  it('upscales a small blurry image first, then sharpens it, and clears every flag', async () => {
    const small = await applyOperation(cleanImage(40, 44), { op: 'gaussian', sigma: 1.2 });
    const result = await enhanceImage(small, { guard, candidates: grid });
    expect(result.flagsBefore).toEqual(expect.arrayContaining(['low_resolution', 'blurry']));
    expect(result.operations[0].op).toBe('upscale');
    expect(['unsharp', 'highpass']).toContain(result.operations[result.operations.length - 1].op);
    expect(result.status).toBe('resolved');
    expect(result.flagsAfter).toEqual([]);
    expect(Math.min(result.image.width, result.image.height)).toBe(100);
    expect(result.ssim).toBeGreaterThan(0);
    expect(result.ssim).toBeLessThan(1);
    // the reported SSIM is against the original resized the same way
    expect(result.ssim).toBeCloseTo(await ssimToOriginal(small, result.image, result.operations), 10);
  });

  it('fixes exposure before detail when an image is dark and blurry', async () => {
    const darkBlurry = mapValues(await blurredImage(), (v) => v * 0.25);
    const result = await enhanceImage(darkBlurry, { guard, candidates: grid });
    expect(result.flagsBefore).toEqual(expect.arrayContaining(['dark', 'blurry']));
    const ops = result.operations.map((o) => o.op);
    const exposure = ops.findIndex((o) => o === 'gamma' || o === 'equalize' || o === 'clahe');
    const detail = ops.findIndex((o) => o === 'unsharp' || o === 'highpass');
    expect(exposure).toBeGreaterThanOrEqual(0);
    if (detail >= 0) expect(exposure).toBeLessThan(detail);
    expect(result.status).toBe('resolved');
  });

  it('keeps, of the candidates that clear the flags, the one with the highest SSIM to the original', async () => {
    const dark = darkImage();
    const candidates: CandidateGrid = { dark: [{ op: 'equalize' }, { op: 'gamma', gamma: 0.45 }] };
    const result = await enhanceImage(dark, { guard: toneGuard, candidates });
    const ssimEqualize = ssim(dark, await applyOperation(dark, { op: 'equalize' }));
    const ssimGamma = ssim(dark, await applyOperation(dark, { op: 'gamma', gamma: 0.45 }));
    expect(result.status).toBe('resolved');
    expect(result.operations).toEqual([ssimGamma > ssimEqualize ? { op: 'gamma', gamma: 0.45 } : { op: 'equalize' }]);
    expect(result.ssim).toBeCloseTo(Math.max(ssimGamma, ssimEqualize), 10);
  });

  it('stops an operation at its gentlest setting that clears the flag', async () => {
    const dark = darkImage();
    const ladder = [0.97, 0.9, 0.8, 0.6, 0.4].map((gamma) => ({ op: 'gamma' as const, gamma }));
    const result = await enhanceImage(dark, { guard, candidates: { dark: ladder } });
    let first = -1;
    for (let i = 0; i < ladder.length && first < 0; i++) {
      if (!guard.flags(await guard.measure(await applyOperation(dark, ladder[i]))).includes('dark')) first = i;
    }
    expect(first).toBeGreaterThanOrEqual(0);
    expect(result.operations).toEqual([ladder[first]]);
    expect(result.candidatesTried).toBe(first + 1);
  });

  it('marks an image unresolved when no candidate clears it, keeping the nearest to passing', async () => {
    const dark = darkImage();
    const candidates: CandidateGrid = { dark: [{ op: 'gamma', gamma: 0.995 }, { op: 'gamma', gamma: 0.98 }] };
    const result = await enhanceImage(dark, { guard, candidates });
    expect(result.status).toBe('unresolved');
    expect(result.flagsAfter).toContain('dark');
    expect(result.operations).toEqual([{ op: 'gamma', gamma: 0.98 }]);
    expect(result.after.meanIntensity).toBeGreaterThan(result.before.meanIntensity);
  });

  it('judges candidates after the storage round trip', async () => {
    const black = async (image: PixelImage): Promise<PixelImage> => ({ ...image, data: new Uint8Array(image.data.length) });
    const result = await enhanceImage(darkImage(), { guard, candidates: grid, roundTrip: black });
    expect(result.status).toBe('unresolved');
    expect(result.flagsAfter).toContain('dark');
  });

  it('is deterministic', async () => {
    const small = await applyOperation(mapValues(cleanImage(50, 60), (v) => v * 0.3), { op: 'gaussian', sigma: 1 });
    const a = await enhanceImage(small, { guard, candidates: grid, beamWidth: 2 });
    const b = await enhanceImage(small, { guard, candidates: grid, beamWidth: 2 });
    expect(describeOperations(a.operations)).toBe(describeOperations(b.operations));
    expect(Buffer.compare(Buffer.from(a.image.data), Buffer.from(b.image.data))).toBe(0);
  });
});
