import type { ImageMetrics } from './metrics';
import type { QualityThresholds } from './thresholds';

// The flag names are part of metadata.csv's contract (a flag_<name> column each): defined there, named FLAG_NAMES here too.
import { FLAG_NAMES, type QualityFlag } from '@agekit/dataset';

export { FLAG_NAMES, type QualityFlag };

export interface QualityCheck {
  /** Raised flags, in FLAG_NAMES order. */
  flags: QualityFlag[];
  /** One human reason per flag (same order), e.g. "blurry: Laplacian variance 42.1 < 100". */
  reasons: string[];
}

/** What checkQuality needs: the metrics (duplicate links optional). */
export type CheckInput = Pick<
  ImageMetrics,
  | 'width'
  | 'height'
  | 'laplacianVariance'
  | 'meanIntensity'
  | 'stdIntensity'
  | 'darkScore'
  | 'lightScore'
  | 'clippedShadows'
  | 'clippedHighlights'
  | 'entropy'
  | 'aspectRatio'
  | 'chromaMean'
> & { duplicateOf?: string; nearDuplicateOf?: string };

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(3));

/**
 * Apply the thresholds to one image's metrics. Comparisons are strict (a value equal to a
 * threshold does not raise the flag), as in the original pipeline (`lv < 100`, `m > 200`).
 */
export function checkQuality(m: CheckInput, t: QualityThresholds): QualityCheck {
  // no closure or map made per call unless a flag is raised: this runs once per image of a dataset
  let raised: Map<QualityFlag, string> | undefined;
  if (m.laplacianVariance < t.blurryBelow) raised = raise(raised, 'blurry', `Laplacian variance ${fmt(m.laplacianVariance)} < ${t.blurryBelow}`);
  if (m.laplacianVariance > t.noisyLaplacianAbove)
    raised = raise(raised, 'noisy', `Laplacian variance ${fmt(m.laplacianVariance)} > ${t.noisyLaplacianAbove}`);
  if (m.stdIntensity > t.noisyStdAbove) raised = raise(raised, 'noisy', `std of gray ${fmt(m.stdIntensity)} > ${t.noisyStdAbove}`);
  if (m.meanIntensity < t.darkBelow) raised = raise(raised, 'dark', `mean gray ${fmt(m.meanIntensity)} < ${t.darkBelow}`);
  if (m.meanIntensity > t.brightAbove) raised = raise(raised, 'bright', `mean gray ${fmt(m.meanIntensity)} > ${t.brightAbove}`);
  if (m.stdIntensity < t.lowTextureBelow) raised = raise(raised, 'low_texture', `std of gray ${fmt(m.stdIntensity)} < ${t.lowTextureBelow}`);
  if (m.width < t.minSide || m.height < t.minSide) raised = raise(raised, 'low_resolution', `${m.width}x${m.height} has a side < ${t.minSide}`);
  if (m.darkScore < t.darkScoreBelow)
    raised = raise(raised, 'underexposed', `dark score (99th-percentile brightness) ${fmt(m.darkScore)} < ${t.darkScoreBelow}`);
  if (m.lightScore < t.lightScoreBelow)
    raised = raise(raised, 'overexposed', `light score (1 - 5th-percentile brightness) ${fmt(m.lightScore)} < ${t.lightScoreBelow}`);
  if (m.clippedShadows > t.clippedShadowsAbove)
    raised = raise(raised, 'clipped_shadows', `${fmt(100 * m.clippedShadows)}% of pixels <= 5 (> ${fmt(100 * t.clippedShadowsAbove)}%)`);
  if (m.clippedHighlights > t.clippedHighlightsAbove)
    raised = raise(raised, 'clipped_highlights', `${fmt(100 * m.clippedHighlights)}% of pixels >= 250 (> ${fmt(100 * t.clippedHighlightsAbove)}%)`);
  if (m.entropy < t.lowEntropyBelow) raised = raise(raised, 'low_information', `entropy ${fmt(m.entropy)} bits < ${t.lowEntropyBelow}`);
  if (m.aspectRatio < t.oddAspectRatioBelow)
    raised = raise(raised, 'odd_aspect_ratio', `aspect ratio ${fmt(m.aspectRatio)} < ${t.oddAspectRatioBelow}`);
  if (m.chromaMean < t.grayscaleChromaBelow) raised = raise(raised, 'grayscale', `mean chroma ${fmt(m.chromaMean)} < ${t.grayscaleChromaBelow}`);
  if (m.duplicateOf) raised = raise(raised, 'duplicate', `same pixels as ${m.duplicateOf}`);
  if (m.nearDuplicateOf)
    raised = raise(raised, 'near_duplicate', `perceptual hash within ${t.nearDuplicateMaxDistance} bits of ${m.nearDuplicateOf}`);
  if (!raised) return { flags: [], reasons: [] };
  const found = raised;
  const flags = FLAG_NAMES.filter((f) => found.has(f));
  return { flags, reasons: flags.map((f) => `${f}: ${found.get(f)}`) };
}

/** `raised` (made when the first flag is raised) with `reason` added to `flag` (a flag raised twice keeps both reasons). */
function raise(raised: Map<QualityFlag, string> | undefined, flag: QualityFlag, reason: string): Map<QualityFlag, string> {
  const map = raised ?? new Map<QualityFlag, string>();
  const prev = map.get(flag);
  map.set(flag, prev ? `${prev}, ${reason}` : reason);
  return map;
}
