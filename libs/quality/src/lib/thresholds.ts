import type { JSONSchemaType } from '@agekit/dataset';

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

/** configs/quality.json: the explore stage's settings. */
export interface QualityConfig {
  /** Dataset folder (relative to the config's working folder); `--data` overrides it. */
  data?: string;
  /** Output root; `--out` overrides it. metadata.csv goes to `<out>/csv/metadata.csv`. */
  out?: string;
  /** Dataset layout (default auto-detected). */
  layout: 'auto' | 'folder-per-label' | 'utkface' | 'labels-csv';
  /** Labels CSV for the labels-csv layout (default `<data>/labels.csv`). */
  labelsCsv?: string;
  /** Worker processes (0 = one per core). */
  workers: number;
  /** Refuse images with more pixels than this (decompression bombs). */
  maxPixels: number;
  thresholds: QualityThresholds;
}

/** Explore's default worker count: 0 = one per core. */
export const DEFAULT_EXPLORE_WORKERS = 0;
/** Explore's default pixel limit per image (larger images are refused: decompression bombs). */
export const DEFAULT_MAX_PIXELS = 50_000_000;

const num = (description: string, def: number, minimum = 0) => ({ type: 'number' as const, minimum, default: def, description });

/** JSON schema of configs/quality.json (ajv fills the defaults). */
export const qualityConfigSchema: JSONSchemaType<QualityConfig> = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', nullable: true } as never,
    data: { type: 'string', nullable: true },
    out: { type: 'string', nullable: true },
    layout: { type: 'string', enum: ['auto', 'folder-per-label', 'utkface', 'labels-csv'], default: 'auto' },
    labelsCsv: { type: 'string', nullable: true },
    workers: { type: 'integer', minimum: 0, maximum: 64, default: DEFAULT_EXPLORE_WORKERS },
    maxPixels: { type: 'integer', minimum: 1, default: DEFAULT_MAX_PIXELS },
    thresholds: {
      type: 'object',
      additionalProperties: false,
      default: {},
      required: [],
      properties: {
        blurryBelow: num('Laplacian variance below: blurry', DEFAULT_THRESHOLDS.blurryBelow),
        noisyLaplacianAbove: num('Laplacian variance above: noisy', DEFAULT_THRESHOLDS.noisyLaplacianAbove),
        darkBelow: num('mean gray below: dark', DEFAULT_THRESHOLDS.darkBelow),
        brightAbove: num('mean gray above: bright', DEFAULT_THRESHOLDS.brightAbove),
        lowTextureBelow: num('std of gray below: low_texture', DEFAULT_THRESHOLDS.lowTextureBelow),
        noisyStdAbove: num('std of gray above: noisy', DEFAULT_THRESHOLDS.noisyStdAbove),
        minSide: num('width or height below: low_resolution', DEFAULT_THRESHOLDS.minSide),
        darkScoreBelow: num('CleanVision dark score below: underexposed', DEFAULT_THRESHOLDS.darkScoreBelow),
        lightScoreBelow: num('CleanVision light score below: overexposed', DEFAULT_THRESHOLDS.lightScoreBelow),
        clippedShadowsAbove: num('share of gray <= 5 above: clipped_shadows', DEFAULT_THRESHOLDS.clippedShadowsAbove),
        clippedHighlightsAbove: num('share of gray >= 250 above: clipped_highlights', DEFAULT_THRESHOLDS.clippedHighlightsAbove),
        lowEntropyBelow: num('entropy (bits) below: low_information', DEFAULT_THRESHOLDS.lowEntropyBelow),
        oddAspectRatioBelow: num('min(w/h, h/w) below: odd_aspect_ratio', DEFAULT_THRESHOLDS.oddAspectRatioBelow),
        grayscaleChromaBelow: num('mean chroma below: grayscale', DEFAULT_THRESHOLDS.grayscaleChromaBelow),
        nearDuplicateMaxDistance: { type: 'integer', minimum: 0, maximum: 16, default: DEFAULT_THRESHOLDS.nearDuplicateMaxDistance },
      },
    } as unknown as JSONSchemaType<QualityConfig>['properties']['thresholds'],
  },
  required: [],
} as unknown as JSONSchemaType<QualityConfig>;
