/**
 * A training config that names a resample config (`"resample": "resample-all-ages.json"`, e.g.
 * configs/model-all-ages.json) is a whole recipe: the labelled images in `data` are resampled first (split with the
 * hold-out, training split rebalanced, augmented copies) into <out>/dataset, and the model is trained on that into
 * <out>/model. `agekit-exporter export --model <out>` and `evaluate --model <out>` find the model in there
 * (@agekit/model's resolveModelFolder).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { formatDuration, loadConfig, SPLIT_NAMES } from '@agekit/dataset';
import { renderGroupedBarChart } from '@agekit/plot';
import { resampleConfigSchema, resampleDataset, resampleOptionsFromConfig, type ResampleConfig, type ResamplePhase } from '@agekit/resample';
import { progressPrinter, type ProgressSink } from './format';

export const RECIPE_DATASET_FOLDER = 'dataset';
export const RECIPE_MODEL_FOLDER = 'model';

/** The schema a config names in "$schema" ('train', 'transfer', ...), or undefined when it names none or cannot be read. */
export async function configSchemaName(configFile: string): Promise<string | undefined> {
  try {
    const value = JSON.parse(await fs.readFile(configFile, 'utf8')) as { $schema?: unknown };
    const match = typeof value.$schema === 'string' ? /([A-Za-z0-9_-]+)\.schema\.json$/.exec(value.$schema) : null;
    return match?.[1];
  } catch {
    return undefined; // the command's own config loading reports it
  }
}

export interface ResampleForTrainingOptions {
  /** The training config's `resample`, relative to the training config. */
  resample: string;
  configFile: string;
  /** The labelled images (the training run's data). */
  data: string;
  /** The recipe's output folder. */
  out: string;
  io: ProgressSink;
}

/** Resample `data` into <out>/dataset as the named resample config says; returns where training reads and writes. */
export async function resampleForTraining(options: ResampleForTrainingOptions): Promise<{ data: string; out: string }> {
  const resampleFile = path.resolve(path.dirname(options.configFile), options.resample);
  const config = await loadConfig<ResampleConfig>(resampleFile, resampleConfigSchema);
  const datasetOut = path.join(options.out, RECIPE_DATASET_FOLDER);
  const { io } = options;
  io.err(`resample: ${options.data} -> ${datasetOut} (${path.basename(resampleFile)}: ages ${config.ages.min}-${config.ages.max}${config.holdOut ? `, ${config.holdOut.field} ${config.holdOut.values.join('/')} held out` : ''})`);
  const printers = new Map<ResamplePhase, ReturnType<typeof progressPrinter>>();
  const result = await resampleDataset({
    ...resampleOptionsFromConfig(config, path.dirname(resampleFile)),
    out: datasetOut,
    input: options.data,
    renderChart: renderGroupedBarChart,
    onProgress: (p, phase) => {
      if (!printers.has(phase)) printers.set(phase, progressPrinter(io, `resample ${phase}`));
      printers.get(phase)?.(p);
    },
  });
  if (result.outcome !== 'written' || !result.output) throw new Error(`resample: ${result.refusal ?? 'nothing written'} (${resampleFile})`);
  io.err(`resample: ${result.inputImages} images, ${result.leftOut.length} left out; written ${SPLIT_NAMES.map((s) => `${s} ${result.written?.[s] ?? 0}`).join(', ')} in ${formatDuration(result.seconds)}`);
  return { data: result.output, out: path.join(options.out, RECIPE_MODEL_FOLDER) };
}
