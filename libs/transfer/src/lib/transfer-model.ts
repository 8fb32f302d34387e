import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomic, type DatasetRecord, type HoldOutSpec, type Progress, type SplitName } from '@agekit/dataset';
import {
  beginRunFolder,
  loadImageSet,
  prepareSplit,
  resolveSplits,
  resolveTask,
  saveModel,
  targetOf,
  trueAgeOf,
  type AgekitModelMetadata,
  type BandError,
  type EpochRecord,
  type ImageSet,
  type MonitorMetric,
  type Task,
} from '@agekit/model';
import { initBackend, type BackendChoice } from '@agekit/runtime';
import { TRANSFER_DEFAULTS, type TransferFineTune, type TransferTask, type TransferTraining } from './config';
import { loadFaceApiXception } from './faceapi-xception';
import { buildFineTuneModel, fineTuneCutLayer, fineTunedBackboneParameters, trunkModel } from './finetune';
import { FACEAPI_AGE_LAYER, fineTuneWholeNet, standardizeAgeOutput } from './whole-net';
import {
  backboneInfo,
  cachedFeatures,
  composeTransferModel,
  improvesOn,
  monitoredScore,
  rowShape,
  trainHead,
  transferMetadata,
  type BackboneName,
  type FeatureSet,
  type HeadEpochRecord,
  type HeadSpec,
  type LabelledFeatures,
} from './heads';

/** What `transferModel` reports while it runs, in order; `agekit-trainer transfer` prints each as one line. */
export type TransferEvent =
  | { kind: 'backend'; name: string; reason: string }
  | { kind: 'warning'; path: string; reason: string }
  | { kind: 'data'; data: string; source: 'folders' | 'split'; seed: number; train: number; val: number; heldout: number }
  | { kind: 'images'; split: SplitName; images: number; decodeCache: boolean; failed: number }
  | { kind: 'features'; split: SplitName; images: number; decodeCache: boolean; failed: number; fromCache: boolean; seconds: number }
  | { kind: 'activations'; split: SplitName; mirrored: boolean; shape: number[]; fromCache: boolean; seconds: number }
  | { kind: 'task'; name: string; task: Task; train: number; val: number }
  | { kind: 'epoch'; name: string; stage: 'head' | 'fine-tune'; epochs: number; record: HeadEpochRecord | EpochRecord }
  | { kind: 'fine-tune'; name: string; from: string; trainableBackboneParameters: number; learningRate: number; flip: boolean }
  | { kind: 'fine-tuned'; name: string; kept: boolean; monitor: MonitorMetric; before: number; after: number; maeBefore: number; maeAfter: number; seconds: number }
  | { kind: 'saved'; result: TransferTaskResult };

export interface TransferModelOptions {
  /** Dataset root: with train/ and val/ split folders, or any layout (split here with `split` and `seed`). */
  data: string;
  /** The run folder: one model folder per task, written under a temporary name and committed whole. */
  out: string;
  backbone?: BackboneName;
  tasks?: TransferTask[];
  head?: HeadSpec;
  training?: Partial<TransferTraining>;
  fineTune?: Partial<TransferFineTune>;
  split?: { train: number; val: number; test: number };
  /** Splitting here only: records (with their groups) held out of train/val/test, never trained on (resolveSplits). */
  holdOut?: HoldOutSpec;
  backend?: BackendChoice;
  /** Decoded images and backbone features (default <out>/cache, linked from the previous run). */
  cacheDir?: string;
  seed?: number;
  /** The config file the options came from: recorded in each model's metadata, and never overwritten by `out`. */
  configFile?: string;
  /** Decoding and feature extraction, phase named ('decode train', 'features val', 'activations train (mirrored)'...). */
  onProgress?: (progress: Progress & { phase: string }) => void;
  onEvent?: (event: TransferEvent) => void;
  /** Stop early: the run folder is aborted and the previous run's models are kept. */
  signal?: AbortSignal;
}

/** What fine-tuning did for one task (also recorded in its metadata and history.json). */
export interface FineTuneRecord extends TransferFineTune {
  kept: boolean;
  trainableBackboneParameters: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  seconds: number;
  /** 'all': training images per second. */
  imagesPerSecond?: number;
  headOnly: Record<string, number>;
  fineTuned: Record<string, number>;
}

export interface TransferTaskResult {
  name: string;
  /** The task's model folder (final path, valid once the run is committed). */
  out: string;
  parameters: number;
  backboneParameters: number;
  headParameters: number;
  monitor: MonitorMetric;
  bestEpoch: number;
  epochsRun: number;
  headSeconds: number;
  fineTune?: FineTuneRecord;
  /** Seconds of fine-tuning when it was kept. */
  fineTuneSeconds?: number;
  validation: { count: number; mae: number; cs5: number; accuracy: number; auc: number; bands: BandError[] };
}

export interface TransferModelResult {
  out: string;
  backend: string;
  tasks: TransferTaskResult[];
  seconds: number;
}

/** The given rows of a feature set (the set itself when every row is kept). */
function pickRows(features: FeatureSet, rows: number[]): FeatureSet {
  if (rows.length === features.count) return features;
  const values = new Float32Array(rows.length * features.dims);
  rows.forEach((row, k) => values.set(features.values.subarray(row * features.dims, (row + 1) * features.dims), k * features.dims));
  return { ...features, count: rows.length, values };
}

/** Rows of `features` (and of their `mirrored` twin) kept for a task (records with a target), with targets and true ages. */
function labelled(features: FeatureSet, records: DatasetRecord[], task: Task, mirrored?: FeatureSet): LabelledFeatures {
  const rows: number[] = [];
  const targets: number[] = [];
  const ages: number[] = [];
  records.forEach((r, i) => {
    const t = targetOf(task, r);
    if (t === undefined) return;
    rows.push(i);
    targets.push(t);
    ages.push(trueAgeOf(task, r));
  });
  return { features: pickRows(features, rows), targets, ages, ...(mirrored ? { mirrored: pickRows(mirrored, rows) } : {}) };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('transfer: stopped');
}

interface SplitFeatures {
  records: DatasetRecord[];
  features: FeatureSet;
  images: ImageSet;
}

/**
 * Transfer learning: a dense head per task on a pretrained face backbone's cached features (optionally the backbone's
 * last blocks fine-tuned after it), each saved as ONE Layers model (backbone + head) in the agekit format under
 * <out>/<task name>. The run folder is staged and committed whole; a failed or stopped run keeps the previous one.
 */
export async function transferModel(options: TransferModelOptions): Promise<TransferModelResult> {
  const started = performance.now();
  const d = TRANSFER_DEFAULTS;
  const dataDir = path.resolve(options.data);
  const outDir = path.resolve(options.out);
  const backboneName = options.backbone ?? d.backbone;
  const tasks = options.tasks ?? d.tasks;
  const head = options.head ?? d.head;
  const training: TransferTraining = { ...d.training, ...options.training };
  const fineTune: TransferFineTune = { ...d.fineTune, ...options.fineTune };
  const seed = options.seed ?? d.seed;
  const configFile = options.configFile === undefined ? undefined : path.resolve(options.configFile);
  const emit = (event: TransferEvent): void => options.onEvent?.(event);
  const progress = (phase: string) => (p: Progress) => options.onProgress?.({ ...p, phase });
  const { signal } = options;
  checkAborted(signal);

  const { outputs, staging } = await beginRunFolder(outDir, [dataDir, configFile], false);
  try {
    const cacheDir = options.cacheDir ? path.resolve(options.cacheDir) : path.join(staging, 'cache');
    const backend = await initBackend({ backend: options.backend ?? d.backend });
    emit({ kind: 'backend', name: backend.name, reason: backend.reason });

    const splits = await resolveSplits(dataDir, seed, options.split ?? d.split, { holdOut: options.holdOut });
    for (const p of splits.problems.slice(0, 10)) emit({ kind: 'warning', path: p.path, reason: p.reason });
    emit({ kind: 'data', data: dataDir, source: splits.source, seed, train: splits.train.length, val: splits.val.length, heldout: splits.heldout.length });

    const info = backboneInfo(backboneName);
    const backboneId = `${backboneName}@face-api-1.7.15`;
    // how the data was split here (evaluate splits it again the same way); absent with split folders
    const splitRecord = splits.source === 'split' ? { split: options.split ?? d.split, holdOut: options.holdOut } : {};
    const save = async (name: string, model: tf.LayersModel, metadata: AgekitModelMetadata, history: object): Promise<void> => {
      const dir = path.join(staging, name);
      await saveModel(model, dir, metadata);
      await writeFileAtomic(path.join(dir, 'history.json'), JSON.stringify(history, null, 2) + '\n');
    };

    if (fineTune.from === 'all') {
      const results: TransferTaskResult[] = [];
      for (const { name, task: spec } of tasks) {
        const task = resolveTask(spec, splits.train.flatMap((r) => (r.age === undefined ? [] : [r.age])));
        const images = async (split: SplitName) => {
          checkAborted(signal);
          const prepared = await prepareSplit(splits[split], task, { size: info.size, channels: info.channels, cacheDir, name: split, onProgress: progress(`decode ${split}`) });
          for (const f of prepared.failed.slice(0, 5)) emit({ kind: 'warning', path: f.file, reason: f.error });
          emit({ kind: 'images', split, images: prepared.ids.length, decodeCache: prepared.fromCache, failed: prepared.failed.length });
          return prepared.data;
        };
        const trainSet = await images('train');
        const valSet = await images('val');
        emit({ kind: 'task', name, task, train: trainSet.targets.length, val: valSet.targets.length });
        const model = await loadFaceApiXception({ ageHead: true });
        standardizeAgeOutput(model, task);
        const parameters = model.countParams();
        const headParameters = model.getLayer(FACEAPI_AGE_LAYER).countParams();
        emit({ kind: 'fine-tune', name, from: 'all', trainableBackboneParameters: parameters - headParameters, learningRate: fineTune.learningRate, flip: fineTune.flip });
        const tuned = await fineTuneWholeNet({
          model,
          task,
          train: trainSet,
          val: valSet,
          ...fineTune,
          seed,
          backend: backend.name,
          onBatch: progress('train'),
          onEpoch: (record) => {
            emit({ kind: 'epoch', name, stage: 'fine-tune', epochs: fineTune.epochs, record });
            checkAborted(signal);
          },
        });
        const before = monitoredScore(tuned.before, tuned.monitor);
        const after = monitoredScore(tuned.after, tuned.monitor);
        emit({ kind: 'fine-tuned', name, kept: tuned.kept, monitor: tuned.monitor, before, after, maeBefore: tuned.before.mae, maeAfter: tuned.after.mae, seconds: tuned.seconds });
        const e = tuned.kept ? tuned.after : tuned.before;
        const record: FineTuneRecord = {
          ...fineTune,
          kept: tuned.kept,
          trainableBackboneParameters: parameters - headParameters,
          bestEpoch: tuned.bestEpoch,
          stoppedEarly: tuned.stoppedEarly,
          seconds: tuned.seconds,
          imagesPerSecond: tuned.imagesPerSecond,
          headOnly: { [tuned.monitor]: before, mae: tuned.before.mae },
          fineTuned: { [tuned.monitor]: after, mae: tuned.after.mae },
        };
        const metadata = transferMetadata({
          backbone: backboneName,
          task,
          parameters,
          backend: backend.name,
          metrics: { loss: e.loss, auc: null, accuracy: null, mae: e.mae, cs5: e.cs5 },
          training: { data: dataDir, config: configFile, backbone: backboneId, head: 'face-api fc/age', seed, ...splitRecord, trainImages: trainSet.targets.length, valImages: valSet.targets.length, fineTune: record },
        });
        await save(name, model, metadata, { monitor: tuned.monitor, bestEpoch: tuned.bestEpoch, stoppedEarly: tuned.stoppedEarly, history: tuned.history, fineTune: record });
        const result: TransferTaskResult = {
          name,
          out: path.join(outDir, name),
          parameters,
          backboneParameters: parameters - headParameters,
          headParameters,
          monitor: tuned.monitor,
          bestEpoch: tuned.bestEpoch,
          epochsRun: tuned.history.length,
          headSeconds: 0,
          fineTune: record,
          ...(tuned.kept ? { fineTuneSeconds: tuned.seconds } : {}),
          validation: { count: e.count, mae: e.mae, cs5: e.cs5, accuracy: e.accuracy, auc: e.auc, bands: e.bands },
        };
        model.dispose();
        emit({ kind: 'saved', result });
        results.push(result);
      }
      checkAborted(signal);
      await outputs.commit();
      return { out: outDir, backend: backend.name, tasks: results, seconds: (performance.now() - started) / 1000 };
    }

    const backbone = await loadFaceApiXception();
    const featuresOf = async (name: SplitName): Promise<SplitFeatures> => {
      checkAborted(signal);
      const records = splits[name].filter((r) => r.age !== undefined || r.ageGroup !== undefined);
      const byId = new Map(records.map((r) => [r.id, r]));
      const images = await loadImageSet(
        records.map((r) => ({ id: r.id, file: r.file })),
        { size: info.size, channels: info.channels, cacheDir, name, onProgress: progress(`decode ${name}`) },
      );
      for (const f of images.failed.slice(0, 5)) emit({ kind: 'warning', path: f.file, reason: f.error });
      checkAborted(signal);
      const begun = performance.now();
      const features = await cachedFeatures(backbone, images, { backboneId, normalization: info.normalization, cacheDir, name, onProgress: progress(`features ${name}`) });
      const seconds = (performance.now() - begun) / 1000;
      emit({ kind: 'features', split: name, images: images.ids.length, decodeCache: images.fromCache, failed: images.failed.length, fromCache: features.fromCache, seconds });
      return { records: images.ids.map((id) => byId.get(id) as DatasetRecord), features, images };
    };
    const train = await featuresOf('train');
    const val = await featuresOf('val');

    // fine-tuning: activations of the frozen part, computed once (and cached) for every task
    const cut = fineTune.from === 'none' ? undefined : fineTuneCutLayer(fineTune.from);
    type Activations = { train: FeatureSet; trainMirrored?: FeatureSet; val: FeatureSet };
    let activations: Activations | undefined;
    const activationsFor = async (cutLayer: string): Promise<Activations> => {
      if (activations) return activations;
      const trunk = trunkModel(backbone, cutLayer);
      const of = async (images: ImageSet, name: SplitName, mirror: boolean): Promise<FeatureSet> => {
        checkAborted(signal);
        const begun = performance.now();
        const phase = `activations ${name}${mirror ? ' (mirrored)' : ''}`;
        const set = await cachedFeatures(trunk, images, { backboneId: `${backboneId}#${cutLayer}`, normalization: info.normalization, cacheDir, name: `${name}-activations`, mirror, onProgress: progress(phase) });
        emit({ kind: 'activations', split: name, mirrored: mirror, shape: rowShape(set), fromCache: set.fromCache, seconds: (performance.now() - begun) / 1000 });
        return set;
      };
      activations = { train: await of(train.images, 'train', false), trainMirrored: fineTune.flip ? await of(train.images, 'train', true) : undefined, val: await of(val.images, 'val', false) };
      return activations;
    };
    // fine-tuning changes the backbone's layers in place: every task starts from the pretrained weights
    const pretrained = cut ? backbone.getWeights().map((w) => w.clone()) : [];

    const results: TransferTaskResult[] = [];
    for (const { name, task: spec } of tasks) {
      checkAborted(signal);
      const task = resolveTask(spec, train.records.flatMap((r) => (r.age === undefined ? [] : [r.age])));
      const trainSet = labelled(train.features, train.records, task);
      const valSet = labelled(val.features, val.records, task);
      emit({ kind: 'task', name, task, train: trainSet.features.count, val: valSet.features.count });
      const common = { task, l2: training.l2, classWeights: training.classWeights, regressionLoss: training.regressionLoss, labelDistribution: training.labelDistribution, seed };
      const result = await trainHead({
        ...common,
        train: trainSet,
        val: valSet,
        head,
        epochs: training.epochs,
        batchSize: training.batchSize,
        learningRate: training.learningRate,
        schedule: training.schedule,
        earlyStoppingPatience: training.earlyStoppingPatience,
        monitor: training.monitor,
        onEpoch: (record) => {
          emit({ kind: 'epoch', name, stage: 'head', epochs: training.epochs, record });
          checkAborted(signal);
        },
      });
      let fineTuned: FineTuneRecord | undefined;
      let final = result;
      if (cut) {
        const act = await activationsFor(cut);
        const headWeights = result.head.getWeights().map((w) => w.clone());
        const ftModel = buildFineTuneModel(backbone, result.head, cut);
        const trainable = fineTunedBackboneParameters(ftModel, result.head);
        emit({ kind: 'fine-tune', name, from: fineTune.from, trainableBackboneParameters: trainable, learningRate: fineTune.learningRate, flip: fineTune.flip });
        const tuned = await trainHead({
          ...common,
          model: ftModel,
          train: labelled(act.train, train.records, task, act.trainMirrored),
          val: labelled(act.val, val.records, task),
          epochs: fineTune.epochs,
          batchSize: fineTune.batchSize,
          learningRate: fineTune.learningRate,
          schedule: { kind: 'cosine' },
          earlyStoppingPatience: fineTune.earlyStoppingPatience,
          monitor: result.monitor,
          onEpoch: (record) => {
            emit({ kind: 'epoch', name, stage: 'fine-tune', epochs: fineTune.epochs, record });
            checkAborted(signal);
          },
        });
        const before = monitoredScore(result.validation, result.monitor);
        const after = monitoredScore(tuned.validation, result.monitor);
        const kept = fineTune.keep === 'always' || improvesOn(result.monitor, after, before);
        if (kept) {
          final = { ...tuned, head: result.head };
        } else {
          result.head.setWeights(headWeights);
          backbone.setWeights(pretrained);
        }
        headWeights.forEach((w) => w.dispose());
        emit({ kind: 'fine-tuned', name, kept, monitor: result.monitor, before, after, maeBefore: result.validation.mae, maeAfter: tuned.validation.mae, seconds: tuned.seconds });
        fineTuned = {
          kept,
          trainableBackboneParameters: trainable,
          ...fineTune,
          bestEpoch: tuned.bestEpoch,
          stoppedEarly: tuned.stoppedEarly,
          seconds: tuned.seconds,
          headOnly: { [result.monitor]: before, mae: result.validation.mae },
          fineTuned: { [result.monitor]: after, mae: tuned.validation.mae },
        };
      }
      const model = composeTransferModel(backbone, result.head, task, head);
      if (cut) backbone.setWeights(pretrained);
      const parameters = model.countParams();
      const e = final.validation;
      const metadata = transferMetadata({
        backbone: backboneName,
        task,
        parameters,
        backend: backend.name,
        metrics: { loss: e.loss, auc: Number.isFinite(e.auc) ? e.auc : null, accuracy: Number.isFinite(e.accuracy) ? e.accuracy : null, mae: e.mae, cs5: e.cs5 },
        training: {
          data: dataDir,
          config: configFile,
          backbone: backboneId,
          head,
          ...training,
          seed,
          ...splitRecord,
          bestEpoch: result.bestEpoch,
          stoppedEarly: result.stoppedEarly,
          headSeconds: result.seconds,
          trainImages: trainSet.features.count,
          valImages: valSet.features.count,
          fineTune: fineTuned ?? { from: 'none' },
        },
      });
      const history = {
        monitor: result.monitor,
        bestEpoch: result.bestEpoch,
        stoppedEarly: result.stoppedEarly,
        history: result.history,
        ...(final !== result || fineTuned ? { fineTune: fineTuned, fineTuneHistory: final !== result ? final.history : undefined } : {}),
      };
      await save(name, model, metadata, history);
      const taskResult: TransferTaskResult = {
        name,
        out: path.join(outDir, name),
        parameters,
        backboneParameters: backbone.countParams(),
        headParameters: result.head.countParams(),
        monitor: result.monitor,
        bestEpoch: result.bestEpoch,
        epochsRun: result.history.length,
        headSeconds: result.seconds,
        ...(fineTuned ? { fineTune: fineTuned } : {}),
        ...(final !== result ? { fineTuneSeconds: final.seconds } : {}),
        validation: { count: e.count, mae: e.mae, cs5: e.cs5, accuracy: e.accuracy, auc: e.auc, bands: e.bands },
      };
      emit({ kind: 'saved', result: taskResult });
      results.push(taskResult);
      model.dispose();
      result.head.dispose();
    }
    checkAborted(signal);
    await outputs.commit();
    return { out: outDir, backend: backend.name, tasks: results, seconds: (performance.now() - started) / 1000 };
  } finally {
    await outputs.abort(); // nothing once committed; a failed run leaves the previous models as they were
  }
}

