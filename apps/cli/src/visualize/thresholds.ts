import { existsSync } from 'node:fs';
import { loadConfig } from '@agekit/dataset';
import { DEFAULT_THRESHOLDS, qualityConfigSchema, type QualityConfig, type QualityThresholds } from '@agekit/quality';

/** The thresholds drawn on the figures: those of the explore stage (configs/quality.json). */
export type VisualizeThresholds = QualityThresholds;

export interface LoadedThresholds {
  thresholds: VisualizeThresholds;
  /** The config file read, or undefined when the defaults were used. */
  source?: string;
}

/**
 * Thresholds from `file` (validated with the explore stage's schema, missing fields defaulted), or
 * DEFAULT_THRESHOLDS when no file is given or the default file does not exist.
 */
export async function loadThresholds(file: string | undefined, explicit: boolean): Promise<LoadedThresholds> {
  if (!file || (!explicit && !existsSync(file))) return { thresholds: { ...DEFAULT_THRESHOLDS } };
  const config = await loadConfig<QualityConfig>(file, qualityConfigSchema);
  return { thresholds: { ...DEFAULT_THRESHOLDS, ...config.thresholds }, source: file };
}
