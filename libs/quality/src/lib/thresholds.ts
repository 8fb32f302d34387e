import { DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLDS, type JSONSchemaType, type QualityThresholds } from '@agekit/dataset';

export { DEFAULT_MAX_PIXELS, DEFAULT_THRESHOLDS, resolveThresholds, type QualityThresholds } from '@agekit/dataset';

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
