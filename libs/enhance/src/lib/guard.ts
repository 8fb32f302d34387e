import type { PixelImage } from '@agekit/dataset';
import { checkQuality, histogram, histogramStats, laplacianVariance, type QualityThresholds } from '@agekit/quality';
import { luminance } from './planes';

/** The quality flags enhance can correct, in the names of @agekit/quality and csv/metadata.csv. */
export const FIXABLE_FLAGS = ['low_resolution', 'dark', 'bright', 'low_texture', 'blurry', 'noisy'] as const;
export type FixableFlag = (typeof FIXABLE_FLAGS)[number];

export function isFixableFlag(flag: string): flag is FixableFlag {
  return (FIXABLE_FLAGS as readonly string[]).includes(flag);
}

/** The metrics the quality checks of the fixable flags are computed from (on the gray plane). */
export interface ImageMeasurement {
  width: number;
  height: number;
  laplacianVariance: number;
  meanIntensity: number;
  stdIntensity: number;
}

/** The thresholds of the fixable flags (the fields of @agekit/quality's QualityThresholds that enhance uses). */
export type GuardThresholds = Pick<
  QualityThresholds,
  'blurryBelow' | 'noisyLaplacianAbove' | 'darkBelow' | 'brightAbove' | 'lowTextureBelow' | 'noisyStdAbove' | 'minSide'
>;

/**
 * What the quality-guarded choice needs from the quality checks: measure an image and name the flags
 * a measurement fails. `qualityGuard()` builds one from @agekit/quality; tests may plug in others.
 */
export interface QualityGuard {
  readonly thresholds: GuardThresholds;
  measure(image: PixelImage): ImageMeasurement | Promise<ImageMeasurement>;
  /** The flags a measurement fails (any names; enhance only acts on FIXABLE_FLAGS). */
  flags(measurement: ImageMeasurement): readonly string[];
}

/**
 * How far a measurement is from passing a flag's check, relative to the threshold (0 when it passes).
 * Used only to rank candidates that all still fail: the nearest to passing is the best.
 */
export function violation(flag: FixableFlag, m: ImageMeasurement, t: GuardThresholds): number {
  const below = (value: number, limit: number): number => (value < limit ? (limit - value) / Math.max(limit, 1e-9) : 0);
  const above = (value: number, limit: number): number => (value > limit ? (value - limit) / Math.max(limit, 1e-9) : 0);
  switch (flag) {
    case 'low_resolution':
      return below(Math.min(m.width, m.height), t.minSide);
    case 'dark':
      return below(m.meanIntensity, t.darkBelow);
    case 'bright':
      return above(m.meanIntensity, t.brightAbove);
    case 'low_texture':
      return below(m.stdIntensity, t.lowTextureBelow);
    case 'blurry':
      return below(m.laplacianVariance, t.blurryBelow);
    case 'noisy':
      return above(m.laplacianVariance, t.noisyLaplacianAbove) + above(m.stdIntensity, t.noisyStdAbove);
  }
}

/** The five metrics of the fixable flags, with @agekit/quality's functions on its gray plane. */
export function measureForGuard(image: PixelImage): ImageMeasurement {
  const gray = luminance(image);
  const { mean, std } = histogramStats(histogram(gray));
  return {
    width: image.width,
    height: image.height,
    laplacianVariance: laplacianVariance(gray, image.width, image.height),
    meanIntensity: mean,
    stdIntensity: std,
  };
}

/**
 * The guard of @agekit/quality: its metrics (laplacianVariance, histogramStats on opencvGray) and
 * its checks (checkQuality) with the given thresholds. Only the fixable flags are read from
 * checkQuality; the inputs of its other checks get neutral values, so they raise nothing.
 */
export function qualityGuard(thresholds: QualityThresholds): QualityGuard {
  return {
    thresholds,
    measure: measureForGuard,
    flags: (m) =>
      checkQuality(
        {
          ...m,
          darkScore: 1,
          lightScore: 1,
          clippedShadows: 0,
          clippedHighlights: 0,
          entropy: 8,
          aspectRatio: 1,
          chromaMean: 255,
        },
        thresholds,
      ).flags.filter(isFixableFlag),
  };
}
