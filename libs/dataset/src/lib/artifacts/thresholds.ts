/**
 * What metadata.csv's flags mean: the thresholds explore's checks compare its measurements with, and their defaults.
 * Part of the contract (not of @agekit/quality alone) so that every reader of metadata.csv (visualize draws them)
 * gets the same defaults without depending on the quality engine.
 */
/**
 * Thresholds of the quality checks. The first seven are the original pipeline's defaults
 * (explore_images.py); the rest are agekit's additions (CleanVision's defaults where it has one).
 */
export interface QualityThresholds {
  /** Laplacian variance below this: `blurry` (original: 100). */
  blurryBelow: number;
  /** Laplacian variance above this: `noisy` (possibly noise rather than detail; original: 1000). */
  noisyLaplacianAbove: number;
  /** Mean gray below this: `dark` (original: 50). */
  darkBelow: number;
  /** Mean gray above this: `bright` (original: 200). */
  brightAbove: number;
  /** Standard deviation of gray below this: `low_texture` (original: 10). */
  lowTextureBelow: number;
  /** Standard deviation of gray above this: `noisy` (original: 100). */
  noisyStdAbove: number;
  /** Width or height below this: `low_resolution` (original: 100). */
  minSide: number;
  /** CleanVision dark score (99th-percentile brightness, 0..1) below this: `underexposed` (CleanVision: 0.32). */
  darkScoreBelow: number;
  /** CleanVision light score (1 - 5th-percentile brightness) below this: `overexposed` (CleanVision: 0.05). */
  lightScoreBelow: number;
  /** Share of gray pixels <= 5 above this: `clipped_shadows` (agekit: 0.25). */
  clippedShadowsAbove: number;
  /** Share of gray pixels >= 250 above this: `clipped_highlights` (agekit: 0.25). */
  clippedHighlightsAbove: number;
  /** Entropy (bits, PIL Image.entropy of the RGB histogram) below this: `low_information` (CleanVision: score 0.3 = 3 bits). */
  lowEntropyBelow: number;
  /** min(w/h, h/w) below this: `odd_aspect_ratio` (agekit: 0.35). */
  oddAspectRatioBelow: number;
  /** Mean chroma (max - min of R, G, B; 0..255) below this: `grayscale` (agekit: 2). */
  grayscaleChromaBelow: number;
  /** Perceptual hashes at most this many bits apart (of 64): `near_duplicate` (agekit: 4). */
  nearDuplicateMaxDistance: number;
}

export const DEFAULT_THRESHOLDS: Readonly<QualityThresholds> = Object.freeze({
  blurryBelow: 100,
  noisyLaplacianAbove: 1000,
  darkBelow: 50,
  brightAbove: 200,
  lowTextureBelow: 10,
  noisyStdAbove: 100,
  minSide: 100,
  darkScoreBelow: 0.32,
  lightScoreBelow: 0.05,
  clippedShadowsAbove: 0.25,
  clippedHighlightsAbove: 0.25,
  lowEntropyBelow: 3,
  oddAspectRatioBelow: 0.35,
  grayscaleChromaBelow: 2,
  nearDuplicateMaxDistance: 4,
});

/** Fill missing thresholds with the defaults. */
export function resolveThresholds(overrides: Partial<QualityThresholds> = {}): QualityThresholds {
  const out: QualityThresholds = { ...DEFAULT_THRESHOLDS };
  for (const key of Object.keys(overrides) as Array<keyof QualityThresholds>) {
    const v = overrides[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
