import * as path from 'node:path';
import { loadConfig } from '@agekit/dataset';

/** configs/pipeline.json: which dataset the stages run on, and where their outputs go. */
export interface PipelineConfig {
  /** Dataset root (any layout), relative to the workspace. Default: the embedded synthetic demo set. */
  data: string;
  /** Where csv/, processed_dataset/, visualizations/, resampled_dataset/, models/ and dist/bundle go. */
  out: string;
  seed: number;
  /** Overrides configs/train.json's epochs for this pipeline (the demo trains briefly). */
  trainEpochs?: number;
  /** When `data` is missing and equals this folder, the synthetic generator writes it first. */
  demo: { folder: string; count: number; seed: number; minAge: number; maxAge: number; size: number };
}

export const pipelineConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    data: { type: 'string', minLength: 1, default: 'data/demo' },
    out: { type: 'string', minLength: 1, default: '.' },
    seed: { type: 'integer', minimum: 0, default: 1 },
    trainEpochs: { type: 'integer', minimum: 1 },
    demo: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        folder: { type: 'string', default: 'data/demo' },
        count: { type: 'integer', minimum: 10, default: 600 },
        seed: { type: 'integer', minimum: 0, default: 1 },
        minAge: { type: 'integer', minimum: 0, default: 20 },
        maxAge: { type: 'integer', minimum: 0, default: 50 },
        size: { type: 'integer', minimum: 16, default: 128 },
      },
    },
  },
};

export async function readPipelineConfig(workspace: string, file = 'configs/pipeline.json'): Promise<PipelineConfig> {
  const cfg = await loadConfig<PipelineConfig>(path.resolve(workspace, file), pipelineConfigSchema);
  // AGEKIT_DATA overrides the dataset (e.g. AGEKIT_DATA=../shared/data/utkface nx run pipeline:export)
  if (process.env['AGEKIT_DATA']) cfg.data = process.env['AGEKIT_DATA'];
  return cfg;
}
