import * as path from 'node:path';
import type { HoldOutSpec, ProgressCallback, SplitName, SplitRatios } from '@agekit/dataset';
import { prepareSplit, type PreparedSplit } from './dataset';
import { evaluateModel, type Evaluation } from './evaluate';
import { loadModel, type AgekitModelMetadata } from './io';
import { resolveSplits } from './splits';

export interface EvaluateSavedModelOptions {
  /** A model folder written by `trainModel` (or `saveModel`). */
  model: string;
  /** The dataset: its split folders, else split here with the seed and ratios the model was trained with. */
  data: string;
  /** Which split (default 'val'); 'all' = every record. */
  split?: SplitName | 'all';
  onProgress?: ProgressCallback;
}

export interface EvaluateSavedModelResult {
  model: string;
  metadata: AgekitModelMetadata;
  split: SplitName | 'all';
  splitSource: 'folders' | 'split';
  seed: number;
  /** Undefined when no image of the split is usable (none in the task's range, or none decoded). */
  evaluation?: Evaluation;
  outsideTask: number;
  failed: PreparedSplit['failed'];
}

/** Evaluate a saved model on one split of a dataset, split as it was for training (same seed and ratios). */
export async function evaluateSavedModel(options: EvaluateSavedModelOptions): Promise<EvaluateSavedModelResult> {
  const split = options.split ?? 'val';
  const { model, metadata, dir: modelDir } = await loadModel(path.resolve(options.model));
  try {
    const training = metadata.training ?? {};
    const seed = typeof training.seed === 'number' ? training.seed : 42;
    const ratios = (training.split as SplitRatios | undefined) ?? { train: 0.7, val: 0.15, test: 0.15 };
    const splits = await resolveSplits(path.resolve(options.data), seed, ratios, { holdOut: training.holdOut as HoldOutSpec | undefined });
    const records = split === 'all' ? [...splits.train, ...splits.val, ...splits.test] : splits[split];
    const prepared = await prepareSplit(records, metadata.task, { size: metadata.input.size, channels: metadata.input.channels, onProgress: options.onProgress });
    const evaluation =
      prepared.ids.length === 0
        ? undefined
        : evaluateModel(model, metadata.task, prepared.data, {
            normalization: metadata.input.normalization,
            regressionLoss: (training.regressionLoss as 'l1' | 'l2' | undefined) ?? 'l1',
          });
    return { model: modelDir, metadata, split, splitSource: splits.source, seed, evaluation, outsideTask: prepared.outsideTask.length, failed: prepared.failed };
  } finally {
    model.dispose();
  }
}
