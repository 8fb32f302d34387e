import { checkQuality, FLAG_NAMES, type CheckInput, type QualityFlag } from './checks';
import { DEFAULT_THRESHOLDS, resolveThresholds } from './thresholds';

/** Metrics of an unremarkable image: no flag. */
const GOOD: CheckInput = {
  width: 200,
  height: 200,
  laplacianVariance: 400,
  meanIntensity: 120,
  stdIntensity: 50,
  darkScore: 0.9,
  lightScore: 0.8,
  clippedShadows: 0.01,
  clippedHighlights: 0.01,
  entropy: 7,
  aspectRatio: 1,
  chromaMean: 30,
};

const t = DEFAULT_THRESHOLDS;
const flagsOf = (patch: Partial<CheckInput>, thresholds = t): QualityFlag[] => checkQuality({ ...GOOD, ...patch }, thresholds).flags;

describe('checkQuality', () => {
  it('raises nothing on a good image', () => {
    expect(checkQuality(GOOD, t)).toEqual({ flags: [], reasons: [] });
  });

  // [flag, metrics exactly at the threshold (no flag), metrics just past it (flag)]
  const cases: Array<[QualityFlag, Partial<CheckInput>, Partial<CheckInput>]> = [
    ['blurry', { laplacianVariance: 100 }, { laplacianVariance: 99.999 }],
    ['noisy', { laplacianVariance: 1000 }, { laplacianVariance: 1000.001 }],
    ['noisy', { stdIntensity: 100 }, { stdIntensity: 100.001 }],
    ['dark', { meanIntensity: 50 }, { meanIntensity: 49.999 }],
    ['bright', { meanIntensity: 200 }, { meanIntensity: 200.001 }],
    ['low_texture', { stdIntensity: 10 }, { stdIntensity: 9.999 }],
    ['low_resolution', { width: 100, height: 100 }, { width: 99, height: 300 }],
    ['low_resolution', { width: 100, height: 100 }, { width: 300, height: 99 }],
    ['underexposed', { darkScore: 0.32 }, { darkScore: 0.3199 }],
    ['overexposed', { lightScore: 0.05 }, { lightScore: 0.0499 }],
    ['clipped_shadows', { clippedShadows: 0.25 }, { clippedShadows: 0.2501 }],
    ['clipped_highlights', { clippedHighlights: 0.25 }, { clippedHighlights: 0.2501 }],
    ['low_information', { entropy: 3 }, { entropy: 2.999 }],
    ['odd_aspect_ratio', { aspectRatio: 0.35 }, { aspectRatio: 0.3499 }],
    ['grayscale', { chromaMean: 2 }, { chromaMean: 1.999 }],
    ['duplicate', { duplicateOf: undefined }, { duplicateOf: 'a/1.jpg' }],
    ['near_duplicate', { nearDuplicateOf: undefined }, { nearDuplicateOf: 'a/2.jpg' }],
  ];
  it.each(cases)('%s: not at the threshold, yes just past it', (flag, at, past) => {
    expect(flagsOf(at)).not.toContain(flag);
    const check = checkQuality({ ...GOOD, ...past }, t);
    expect(check.flags).toEqual([flag]);
    expect(check.reasons).toHaveLength(1);
    expect(check.reasons[0].startsWith(`${flag}: `)).toBe(true);
  });

  it('every flag is covered by a case above', () => {
    expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(FLAG_NAMES));
  });

  it('reasons name the value and the threshold; both noisy causes are listed', () => {
    const check = checkQuality({ ...GOOD, laplacianVariance: 42.123, meanIntensity: 30, stdIntensity: 120 }, t);
    expect(check.flags).toEqual(['blurry', 'noisy', 'dark']);
    expect(check.reasons[0]).toBe('blurry: Laplacian variance 42.12 < 100');
    expect(check.reasons[1]).toBe('noisy: std of gray 120 > 100');
    expect(check.reasons[2]).toBe('dark: mean gray 30 < 50');
    const both = checkQuality({ ...GOOD, laplacianVariance: 1500, stdIntensity: 120 }, t);
    expect(both.reasons).toEqual(['noisy: Laplacian variance 1500 > 1000, std of gray 120 > 100']);
  });

  it('thresholds are overridable', () => {
    const strict = resolveThresholds({ blurryBelow: 500, minSide: 256 });
    expect(strict.darkBelow).toBe(50);
    expect(flagsOf({}, strict)).toEqual(['blurry', 'low_resolution']);
    expect(flagsOf({ laplacianVariance: 50 }, resolveThresholds({ blurryBelow: 10 }))).toEqual([]);
  });
});
