import * as path from 'node:path';
import { writeFileAtomic, type HoldOutSpec, type Progress, type SplitName, type SplitRatios } from '@agekit/dataset';
import { countParameters, type ArchitectureName } from './architectures';
import { initBackend, type BackendChoice, type BackendInfo } from '@agekit/runtime';
import { TRAIN_DEFAULTS, type TrainTraining } from './config-schemas';
import { prepareSplit, type PreparedSplit } from './dataset';
import { distilledTrainingSet } from './distillation';
import type { Evaluation } from './evaluate';
import { saveModel } from './io';
import { resolveWorkerCount } from './parallel';
import { beginRunFolder } from './run-folder';
import { resolveSplits } from './splits';
import { resolveTask, type Task, type TaskSpec } from './tasks';
import { fitModel, type EpochRecord, type MonitorMetric } from './train';

/** What `trainModel` reports while it runs, in order; `agekit-trainer train` prints each as one line. */
export type TrainEvent =
  | { kind: 'backend'; backend: BackendInfo; threads: number }
  | { kind: 'warning'; path: string; reason: string }
  | { kind: 'data'; data: string; source: 'folders' | 'split'; seed: number; train: number; val: number; test: number }
  | { kind: 'prepared'; split: SplitName; images: number; fromCache: boolean; outsideTask: number; failed: PreparedSplit['failed'] }
  | {
      kind: 'distillation';
      teachers: string[];
      labelled: number;
      unlabelled: number;
      /** Teacher predictions computed now / taken from the cache. */
      computed: number;
      fromCache: number;
      failed: { file: string; error: string }[];
      /** The teachers' mean-age MAE on the labelled training images. */
      teacherTrainMae: number;
    }
  | { kind: 'epoch'; epochs: number; record: EpochRecord };

/** A chart of the finished run: `file` is relative to the run's plots/ folder. */
export interface TrainChart {
  file: string;
  data: Uint8Array;
}

/** What the optional chart renderer gets: the history and the best model's validation evaluation. */
export interface TrainChartInput {
  history: EpochRecord[];
  validation: Evaluation;
  labels: string[];
}

export interface TrainModelOptions {
  /** Dataset root: with train/ and val/ split folders, or any layout (split here with `split` and `seed`). */
  data: string;
  /** The run folder (model.json, weights.bin, agekit-model.json, history.json, plots/, checkpoints/, cache/), committed whole. */
  out: string;
  architecture?: ArchitectureName;
  task?: TaskSpec;
  input?: Partial<{ size: number; grayscale: boolean }>;
  training?: Partial<TrainTraining>;
  split?: SplitRatios;
  /** Used only when the dataset has no split folders: records held out of train/val/test, with their groups. */
  holdOut?: HoldOutSpec;
  /** The backend to train on (initialised here, reported in a 'backend' event and recorded in the metadata). */
  backend?: BackendChoice;
  /** Decoded-image cache (default <out>/cache, linked from the previous run). */
  cacheDir?: string;
  seed?: number;
  /** Go on from the checkpoints a killed run (or the previous run) left. */
  resume?: boolean;
  /** The config file the options came from: recorded in the metadata, and never overwritten by `out`. */
  configFile?: string;
  /** Recorded in the metadata. */
  gitCommit?: string;
  /** Draws the run's charts (e.g. with @agekit/plot); they are written to <out>/plots/ before the commit. */
  drawCharts?: (input: TrainChartInput) => Promise<TrainChart[]>;
  /** Decoding and training batches, phase named ('decode train', 'decode val', 'decode unlabelled', 'teachers', 'train'). */
  onProgress?: (progress: Progress & { phase: string }) => void;
  onEvent?: (event: TrainEvent) => void;
  /** Stop early (checked between phases and after each epoch): the run folder is aborted and the previous run kept. */
  signal?: AbortSignal;
}

export interface TrainModelResult {
  /** The run folder (committed). */
  out: string;
  backend: string;
  /** Threads that computed the gradients. */
  threads: number;
  architecture: ArchitectureName;
  task: Task;
  size: number;
  channels: 1 | 3;
  parameters: number;
  splitSource: 'folders' | 'split';
  history: EpochRecord[];
  bestEpoch: number;
  monitor: MonitorMetric;
  stoppedEarly: boolean;
  resumedFromEpoch: number;
  /** Validation evaluation of the saved (best) model. */
  validation: Evaluation;
  /** Files written under <out> (final paths): model.json, weights.bin, agekit-model.json, history.json, the charts. */
  files: string[];
  /** Why the charts were not written, when `drawCharts` failed (the run is committed without them). */
  chartsError?: string;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('train: stopped');
}

/**
 * The train stage: split the dataset (its split folders, else a seeded grouped split), decode the train and
 * validation images (through the cache), train (see `fitModel`), and save the best model, its history and charts
 * in the run folder `out`, which is staged and committed whole; a failed or stopped run keeps the previous one.
 */
export async function trainModel(options: TrainModelOptions): Promise<TrainModelResult> {
  const d = TRAIN_DEFAULTS;
  const dataDir = path.resolve(options.data);
  const outDir = path.resolve(options.out);
  const configFile = options.configFile === undefined ? undefined : path.resolve(options.configFile);
  const training: TrainTraining = { ...d.training, ...options.training };
  const architecture = options.architecture ?? d.architecture;
  const size = options.input?.size ?? d.input.size;
  const channels = (options.input?.grayscale ?? d.input.grayscale) ? 1 : 3;
  const seed = options.seed ?? d.seed;
  const ratios = options.split ?? d.split;
  const resume = options.resume === true;
  const emit = (event: TrainEvent): void => options.onEvent?.(event);
  const progress = (phase: string) => (p: Progress) => options.onProgress?.({ ...p, phase });
  const { signal } = options;
  checkAborted(signal);

  const { outputs, staging } = await beginRunFolder(outDir, [dataDir, configFile], resume);
  try {
    const backend = await initBackend({ backend: options.backend ?? d.backend });
    const threads = resolveWorkerCount(training.workers, backend.name);
    emit({ kind: 'backend', backend, threads });

    const splits = await resolveSplits(dataDir, seed, ratios, { holdOut: options.holdOut });
    for (const p of splits.problems.slice(0, 10)) emit({ kind: 'warning', path: p.path, reason: p.reason });
    emit({ kind: 'data', data: dataDir, source: splits.source, seed, train: splits.train.length, val: splits.val.length, test: splits.test.length });
    const task = resolveTask(options.task ?? d.task, splits.train.flatMap((r) => (r.age === undefined ? [] : [r.age])));
    const cacheDir = options.cacheDir ? path.resolve(options.cacheDir) : path.join(staging, 'cache');
    const prepare = async (name: SplitName): Promise<PreparedSplit> => {
      checkAborted(signal);
      return prepareSplit(splits[name], task, { size, channels, cacheDir, name, onProgress: progress(`decode ${name}`) });
    };
    const trainSet = await prepare('train');
    const valSet = await prepare('val');
    for (const [split, s] of [['train', trainSet], ['val', valSet]] as const) {
      emit({ kind: 'prepared', split, images: s.ids.length, fromCache: s.fromCache, outsideTask: s.outsideTask.length, failed: s.failed });
    }
    checkAborted(signal);

    let trainData = trainSet.data;
    let ageTargets = false;
    const distillation = training.distillation && {
      ...training.distillation,
      teachers: training.distillation.teachers.map((t) => path.resolve(t)),
      unlabelled: training.distillation.unlabelled?.map((u) => path.resolve(u)),
    };
    if (distillation) {
      const distilled = await distilledTrainingSet(trainSet, new Map(splits.train.map((r) => [r.id, r.file])), {
        distillation,
        task,
        size,
        channels,
        cacheDir,
        onProgress: (p) => options.onProgress?.(p),
        signal,
      });
      const { data, ageTargets: ages, ...counts } = distilled;
      emit({ kind: 'distillation', teachers: distillation.teachers, ...counts });
      trainData = data;
      ageTargets = ages;
      checkAborted(signal);
    }

    const fitted = await fitModel({
      ...training,
      ageTargets,
      distillation: distillation && { ...distillation, labelWeight: distillation.labelWeight ?? 0.5, flip: distillation.flip ?? true },
      architecture,
      task,
      size,
      channels,
      train: trainData,
      val: valSet.data,
      seed,
      checkpointDir: path.join(staging, 'checkpoints'),
      resume,
      backend: backend.name,
      gitCommit: options.gitCommit,
      onBatch: progress('train'),
      onEpoch: (record) => {
        emit({ kind: 'epoch', epochs: training.epochs, record });
        checkAborted(signal);
      },
    });
    const parameters = countParameters(fitted.model);
    fitted.metadata.training = { ...fitted.metadata.training, data: dataDir, splitSource: splits.source, split: ratios, ...(options.holdOut ? { holdOut: options.holdOut } : {}), config: configFile };
    await saveModel(fitted.model, staging, fitted.metadata);
    fitted.model.dispose();
    const written = ['model.json', 'weights.bin', 'agekit-model.json', 'history.json'];
    const history = { monitor: fitted.monitor, bestEpoch: fitted.bestEpoch, stoppedEarly: fitted.stoppedEarly, history: fitted.history };
    await writeFileAtomic(path.join(staging, 'history.json'), JSON.stringify(history, null, 2) + '\n');
    let charts: TrainChart[] = [];
    let chartsError: string | undefined;
    // a chart that cannot be drawn costs the charts, never the trained model
    try {
      charts = (await options.drawCharts?.({ history: fitted.history, validation: fitted.validation, labels: task.labels })) ?? [];
    } catch (error) {
      chartsError = error instanceof Error ? error.message : String(error);
    }
    for (const chart of charts) {
      const file = path.join('plots', chart.file);
      await writeFileAtomic(path.join(staging, file), chart.data);
      written.push(file);
    }
    checkAborted(signal);
    await outputs.commit();
    return {
      out: outDir,
      backend: backend.name,
      threads,
      architecture,
      task,
      size,
      channels,
      parameters,
      splitSource: splits.source,
      history: fitted.history,
      bestEpoch: fitted.bestEpoch,
      monitor: fitted.monitor,
      stoppedEarly: fitted.stoppedEarly,
      resumedFromEpoch: fitted.resumedFromEpoch,
      validation: fitted.validation,
      files: written.map((f) => path.join(outDir, f)),
      ...(chartsError === undefined ? {} : { chartsError }),
    };
  } finally {
    await outputs.abort(); // nothing once committed; a failed run leaves the previous model as it was
  }
}
