/**
 * `transfer`: a dense head on a pretrained face backbone's cached features, one per task, each saved as ONE Layers
 * model (backbone + head) in the agekit format. `peers`: pretrained age estimators side by side on the same images.
 * Thin wiring over @agekit/model.
 */
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createRng, describeError, EXIT, exitCodeOf, UsageError, formatDuration, loadConfig, writeFileAtomic, type DatasetRecord, type Schema, type SplitName, type SplitRatios } from '@agekit/dataset';
import {
  BACKBONES,
  backboneInfo,
  cachedFeatures,
  buildFineTuneModel,
  composeTransferModel,
  evaluateModel,
  FINE_TUNE_POINTS,
  fineTuneCutLayer,
  fineTunedBackboneParameters,
  initBackend,
  isClassification,
  loadFaceApiXception,
  loadImageSet,
  loadModel,
  loadPeer,
  monitoredScore,
  improvesOn,
  PEERS,
  PeerUnavailableError,
  prepareSplit,
  resolveTask,
  runPeer,
  saveModel,
  trunkModel,
  scoreAges,
  targetOf,
  trainHead,
  transferMetadata,
  trueAgeOf,
  type BackboneName,
  type BackendChoice,
  type BandError,
  type FeatureSet,
  type FineTuneFrom,
  type HeadSpec,
  type ImageSet,
  type LabelledFeatures,
  type LearningRateSchedule,
  type MonitorMetric,
  type PeerName,
  type TaskSpec,
} from '@agekit/model';
import type { CommandIo as Io } from './main';
import { resolveSplits } from './data';
import { scheduleSchema, splitSchema } from './config';
import { fmt, progressPrinter } from './format';
import { beginRunFolder } from './run-folder';


export const TRANSFER_USAGE = `  transfer  --config FILE [--data DIR] [--out DIR] [--backend wasm|cpu|auto] [--epochs N] [--seed N] [--json]
            [--fine-tune none|exit_flow|middle_flow/main_block_1] [--fine-tune-epochs N]
  peers     --data DIR [--split val|test|train] [--peers faceapi,ssrnet,gear,faceres] [--model DIR]... [--human-models DIR]
            [--min-age 20] [--max-age 50] [--limit N (seeded random sample)] [--backend B] [--json]`;

/** configs/transfer.json */
export interface TransferConfig {
  data: string;
  out: string;
  backbone: BackboneName;
  /** One head per entry, saved under <out>/<name>. */
  tasks: { name: string; task: TaskSpec }[];
  head: HeadSpec;
  training: {
    epochs: number;
    batchSize: number;
    learningRate: number;
    schedule: LearningRateSchedule;
    l2: number;
    classWeights: 'none' | 'balanced';
    regressionLoss: 'l1' | 'l2';
    earlyStoppingPatience: number;
    monitor?: MonitorMetric;
  };
  /**
   * After the head: train the backbone's blocks from `from` on (with the head) on cached activations of the frozen part,
   * at a lower learning rate; kept only if it improves the validation metric. 'none' = frozen backbone.
   */
  fineTune: {
    from: FineTuneFrom | 'none';
    epochs: number;
    batchSize: number;
    learningRate: number;
    /** Train on the activations of the mirrored images half of the time (computes them once more). */
    flip: boolean;
    earlyStoppingPatience: number;
  };
  split: { train: number; val: number; test: number };
  backend: BackendChoice;
  /** Decoded images and backbone features (default <out>/cache). */
  cacheDir?: string;
  seed: number;
}

const taskSchema: Schema = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: {
    kind: { enum: ['classification', 'age-groups', 'regression'] },
    minAge: { type: 'integer', minimum: 0 },
    maxAge: { type: 'integer', minimum: 0 },
    edges: { type: 'array', items: { type: 'number' }, minItems: 2 },
    representativeAges: { type: 'array', items: { type: 'number' } },
  },
};

export const transferConfigSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    data: { type: 'string', default: 'out/resampled_dataset' },
    out: { type: 'string', default: 'models/transfer' },
    backbone: { enum: [...BACKBONES], default: 'faceapi-xception' },
    tasks: {
      type: 'array',
      minItems: 1,
      default: [{ name: 'classification', task: { kind: 'classification', minAge: 20, maxAge: 50 } }],
      items: {
        type: 'object',
        required: ['name', 'task'],
        additionalProperties: false,
        properties: { name: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' }, task: taskSchema },
      },
    },
    head: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { hidden: { type: 'integer', minimum: 0, default: 256 }, dropout: { type: 'number', minimum: 0, maximum: 0.95, default: 0.5 } },
    },
    training: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        epochs: { type: 'integer', minimum: 1, default: 60 },
        batchSize: { type: 'integer', minimum: 1, default: 64 },
        learningRate: { type: 'number', exclusiveMinimum: 0, default: 0.001 },
        schedule: scheduleSchema('cosine'),
        l2: { type: 'number', minimum: 0, default: 0.0001 },
        classWeights: { enum: ['none', 'balanced'], default: 'none' },
        regressionLoss: { enum: ['l1', 'l2'], default: 'l1' },
        earlyStoppingPatience: { type: 'integer', minimum: 0, default: 10 },
        monitor: { enum: ['auc', 'accuracy', 'cs5', 'mae', 'loss'] },
      },
    },
    fineTune: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        from: { enum: ['none', ...FINE_TUNE_POINTS], default: 'none' },
        epochs: { type: 'integer', minimum: 1, default: 10 },
        batchSize: { type: 'integer', minimum: 1, default: 32 },
        learningRate: { type: 'number', exclusiveMinimum: 0, default: 0.0001 },
        flip: { type: 'boolean', default: true },
        earlyStoppingPatience: { type: 'integer', minimum: 0, default: 4 },
      },
    },
    split: splitSchema,
    backend: { enum: ['auto', 'tensorflow', 'wasm', 'cpu'], default: 'wasm' },
    cacheDir: { type: 'string' },
    seed: { type: 'integer', default: 42 },
  },
};

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | string[] | undefined> {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (error) {
    throw new UsageError(describeError(error));
  }
}

function integerFlag(values: Record<string, unknown>, flag: string): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${flag} must be an integer (got '${String(v)}')`);
  return n;
}

function backendFlag(values: Record<string, unknown>): BackendChoice | undefined {
  const b = values.backend;
  if (b === undefined) return undefined;
  if (typeof b !== 'string' || !['auto', 'tensorflow', 'wasm', 'cpu'].includes(b)) throw new UsageError(`--backend must be auto, tensorflow, wasm or cpu (got '${String(b)}')`);
  return b as BackendChoice;
}

/** The given rows of a feature set (the set itself when every row is kept). */
function pickRows(features: FeatureSet, rows: number[]): FeatureSet {
  if (rows.length === features.count) return features;
  const values = new Float32Array(rows.length * features.dims);
  rows.forEach((row, k) => values.set(features.values.subarray(row * features.dims, (row + 1) * features.dims), k * features.dims));
  return { ...features, count: rows.length, values };
}

/** Rows of `features` (and of their `mirrored` twin) kept for a task (records with a target), with targets and true ages. */
function labelled(features: FeatureSet, records: DatasetRecord[], task: ReturnType<typeof resolveTask>, mirrored?: FeatureSet): LabelledFeatures {
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


async function transfer(args: string[], io: Io, cwd: string): Promise<number> {
  const values = parse(args, {
    config: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    backend: { type: 'string' },
    epochs: { type: 'string' },
    seed: { type: 'string' },
    'fine-tune': { type: 'string' },
    'fine-tune-epochs': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (typeof values.config !== 'string') throw new UsageError('transfer needs --config FILE');
  const fineTuneFlag = values['fine-tune'];
  if (fineTuneFlag !== undefined && !['none', ...FINE_TUNE_POINTS].includes(String(fineTuneFlag))) {
    throw new UsageError(`--fine-tune must be none or one of ${FINE_TUNE_POINTS.join(', ')} (got '${String(fineTuneFlag)}')`);
  }
  const configFile = path.resolve(cwd, values.config);
  const config = await loadConfig<TransferConfig>(configFile, transferConfigSchema);
  const dataDir = path.resolve(cwd, typeof values.data === 'string' ? values.data : config.data);
  const outDir = path.resolve(cwd, typeof values.out === 'string' ? values.out : config.out);
  const seed = integerFlag(values, 'seed') ?? config.seed;
  const epochs = integerFlag(values, 'epochs') ?? config.training.epochs;
  const fineTune = { ...config.fineTune, from: (fineTuneFlag as FineTuneFrom | 'none' | undefined) ?? config.fineTune.from, epochs: integerFlag(values, 'fine-tune-epochs') ?? config.fineTune.epochs };
  const { outputs, staging } = await beginRunFolder(outDir, [dataDir, configFile], false);
  try {
    const cacheDir = config.cacheDir ? path.resolve(cwd, config.cacheDir) : path.join(staging, 'cache');
    const backend = await initBackend({ backend: backendFlag(values) ?? config.backend });
    io.err(`backend: ${backend.name} — ${backend.reason}`);

    const ratios: SplitRatios = config.split;
    const splits = await resolveSplits(dataDir, seed, ratios);
    for (const p of splits.problems.slice(0, 10)) io.err(`warning: ${p.path}: ${p.reason}`);
    io.err(`data: ${dataDir} (${splits.source === 'folders' ? 'split folders' : `split here, seed ${seed}`}): train ${splits.train.length}, val ${splits.val.length}`);

    const info = backboneInfo(config.backbone);
    const backbone = await loadFaceApiXception();
    const backboneId = `${config.backbone}@face-api-1.7.15`;
    const featuresOf = async (name: SplitName): Promise<{ records: DatasetRecord[]; features: FeatureSet; images: ImageSet }> => {
      const records = splits[name].filter((r) => r.age !== undefined || r.ageGroup !== undefined);
      const byId = new Map(records.map((r) => [r.id, r]));
      const images = await loadImageSet(
        records.map((r) => ({ id: r.id, file: r.file })),
        { size: info.size, channels: info.channels, cacheDir, name, onProgress: progressPrinter(io, `decode ${name}`) },
      );
      for (const f of images.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
      const started = performance.now();
      const features = await cachedFeatures(backbone, images, {
        backboneId,
        normalization: info.normalization,
        cacheDir,
        name,
        onProgress: progressPrinter(io, `features ${name}`),
      });
      io.err(`${name}: ${images.ids.length} images${images.fromCache ? ' (decode cache)' : ''}, ${images.failed.length} failed; features ${features.fromCache ? 'from cache' : `computed in ${formatDuration((performance.now() - started) / 1000)}`}`);
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
      const of = async (images: ImageSet, name: string, mirror: boolean): Promise<FeatureSet> => {
        const started = performance.now();
        const set = await cachedFeatures(trunk, images, { backboneId: `${backboneId}#${cutLayer}`, normalization: info.normalization, cacheDir, name: `${name}-activations`, mirror, onProgress: progressPrinter(io, `activations ${name}${mirror ? ' (mirrored)' : ''}`) });
        io.err(`${name}${mirror ? ' mirrored' : ''}: activations [${set.shape}] ${set.fromCache ? 'from cache' : `computed in ${formatDuration((performance.now() - started) / 1000)}`}`);
        return set;
      };
      activations = { train: await of(train.images, 'train', false), trainMirrored: fineTune.flip ? await of(train.images, 'train', true) : undefined, val: await of(val.images, 'val', false) };
      return activations;
    };
    // fine-tuning changes the backbone's layers in place: every task starts from the pretrained weights
    const pretrained = cut ? backbone.getWeights().map((w) => w.clone()) : [];

    const results: Record<string, unknown>[] = [];
    for (const { name, task: spec } of config.tasks) {
      const task = resolveTask(spec, train.records.flatMap((r) => (r.age === undefined ? [] : [r.age])));
      const trainSet = labelled(train.features, train.records, task);
      const valSet = labelled(val.features, val.records, task);
      io.err(`task ${name} (${task.kind}${task.labels.length ? `, ${task.labels.length} classes` : ''}): train ${trainSet.features.count}, val ${valSet.features.count}`);
      const result = await trainHead({
        task,
        train: trainSet,
        val: valSet,
        head: config.head,
        epochs,
        batchSize: config.training.batchSize,
        learningRate: config.training.learningRate,
        schedule: config.training.schedule,
        l2: config.training.l2,
        classWeights: config.training.classWeights,
        regressionLoss: config.training.regressionLoss,
        earlyStoppingPatience: config.training.earlyStoppingPatience,
        monitor: config.training.monitor,
        seed,
        onEpoch: (r) =>
          io.err(`  ${name} epoch ${r.epoch}/${epochs}: train loss ${fmt(r.trainLoss, 4)} | val loss ${fmt(r.val.loss, 4)} MAE ${fmt(r.val.mae)} CS(5) ${fmt(r.val.cs5)} acc ${fmt(r.val.accuracy)} AUC ${fmt(r.val.auc)}${r.best ? ' *best' : ''}`),
      });
      let fineTuned: Record<string, unknown> | undefined;
      let final = result;
      if (cut) {
        const act = await activationsFor(cut);
        const headWeights = result.head.getWeights().map((w) => w.clone());
        const ftModel = buildFineTuneModel(backbone, result.head, cut);
        const trainable = fineTunedBackboneParameters(ftModel, result.head);
        io.err(`task ${name}: fine-tuning ${fineTune.from} (${trainable.toLocaleString('en-US')} backbone parameters) + head, lr ${fineTune.learningRate}${fineTune.flip ? ', mirrored activations' : ''}`);
        const tuned = await trainHead({
          task,
          model: ftModel,
          train: labelled(act.train, train.records, task, act.trainMirrored),
          val: labelled(act.val, val.records, task),
          epochs: fineTune.epochs,
          batchSize: fineTune.batchSize,
          learningRate: fineTune.learningRate,
          schedule: { kind: 'cosine' },
          l2: config.training.l2,
          classWeights: config.training.classWeights,
          regressionLoss: config.training.regressionLoss,
          earlyStoppingPatience: fineTune.earlyStoppingPatience,
          monitor: result.monitor,
          seed,
          onEpoch: (r) =>
            io.err(`  ${name} fine-tune epoch ${r.epoch}/${fineTune.epochs}: train loss ${fmt(r.trainLoss, 4)} | val loss ${fmt(r.val.loss, 4)} MAE ${fmt(r.val.mae)} CS(5) ${fmt(r.val.cs5)} acc ${fmt(r.val.accuracy)} AUC ${fmt(r.val.auc)}${r.best ? ' *best' : ''}`),
        });
        const before = monitoredScore(result.validation, result.monitor);
        const after = monitoredScore(tuned.validation, result.monitor);
        const improved = improvesOn(result.monitor, after, before);
        if (improved) {
          final = { ...tuned, head: result.head };
        } else {
          result.head.setWeights(headWeights);
          backbone.setWeights(pretrained);
        }
        headWeights.forEach((w) => w.dispose());
        io.err(
          `task ${name}: fine-tuning ${improved ? 'kept' : 'dropped (no gain)'}: val ${result.monitor} ${fmt(before)} -> ${fmt(after)}, MAE ${fmt(result.validation.mae)} -> ${fmt(tuned.validation.mae)} in ${formatDuration(tuned.seconds)}`,
        );
        fineTuned = { kept: improved, trainableBackboneParameters: trainable, ...fineTune, bestEpoch: tuned.bestEpoch, stoppedEarly: tuned.stoppedEarly, seconds: tuned.seconds, headOnly: { [result.monitor]: before, mae: result.validation.mae }, fineTuned: { [result.monitor]: after, mae: tuned.validation.mae } };
      }
      const model = composeTransferModel(backbone, result.head, task, config.head);
      if (cut) backbone.setWeights(pretrained);
      const parameters = model.countParams();
      const e = final.validation;
      const metadata = transferMetadata({
        backbone: config.backbone,
        task,
        parameters,
        backend: backend.name,
        metrics: { loss: e.loss, auc: Number.isFinite(e.auc) ? e.auc : null, accuracy: Number.isFinite(e.accuracy) ? e.accuracy : null, mae: e.mae, cs5: e.cs5 },
        training: {
          data: dataDir,
          config: configFile,
          backbone: backboneId,
          head: config.head,
          ...config.training,
          epochs,
          seed,
          bestEpoch: result.bestEpoch,
          stoppedEarly: result.stoppedEarly,
          headSeconds: result.seconds,
          trainImages: trainSet.features.count,
          valImages: valSet.features.count,
          fineTune: fineTuned ?? { from: 'none' },
        },
      });
      const dir = path.join(staging, name);
      await saveModel(model, dir, metadata);
      await writeFileAtomic(
        path.join(dir, 'history.json'),
        JSON.stringify({ monitor: result.monitor, bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly, history: result.history, ...(final !== result || fineTuned ? { fineTune: fineTuned, fineTuneHistory: final !== result ? final.history : undefined } : {}) }, null, 2) + '\n',
      );
      io.out(
        `${name}: ${parameters.toLocaleString('en-US')} parameters (backbone ${backbone.countParams().toLocaleString('en-US')} + head ${result.head.countParams().toLocaleString('en-US')}); best epoch ${result.bestEpoch}/${result.history.length} by ${result.monitor}; head trained in ${result.seconds.toFixed(1)} s${fineTuned ? `; fine-tuning ${fineTuned.kept ? `kept (${final.seconds.toFixed(1)} s)` : 'dropped'}` : ''}`,
      );
      io.out(`  validation: n=${e.count} MAE=${fmt(e.mae)} CS(5)=${fmt(e.cs5)} accuracy=${fmt(e.accuracy)} macroAUC=${fmt(e.auc)}`);
      io.out(`  MAE by age band: ${e.bands.filter((b) => b.count > 0).map((b) => `${b.band}: ${fmt(b.mae, 2)} (n=${b.count})`).join(', ')}`);
      io.out(`  saved: ${path.join(outDir, name)}`);
      results.push({ name, out: path.join(outDir, name), parameters, bestEpoch: result.bestEpoch, headSeconds: result.seconds, fineTune: fineTuned, validation: { count: e.count, mae: e.mae, cs5: e.cs5, accuracy: e.accuracy, auc: e.auc } });
      model.dispose();
      result.head.dispose();
    }
    await outputs.commit();
    io.result({ out: outDir, backend: backend.name, results });
    return EXIT.ok;
  } finally {
    await outputs.abort(); // nothing once committed; a failed run leaves the previous models as they were
  }
}

interface PeerRow {
  model: string;
  parameters: number;
  count: number;
  mae: number;
  cs5: number;
  auc: number;
  bands: BandError[];
  msPerImage: number;
  failed: number;
}

function printTable(io: Io, rows: PeerRow[]): void {
  const bandNames = rows[0]?.bands.map((b) => b.band) ?? [];
  const header = ['model', 'params', 'n', 'MAE', 'CS(5)', 'AUC', ...bandNames.map((b) => `MAE ${b}`), 'ms/img'];
  const table = rows.map((r) => [
    r.model,
    r.parameters.toLocaleString('en-US'),
    String(r.count),
    fmt(r.mae, 2),
    fmt(r.cs5, 3),
    fmt(r.auc, 3),
    ...r.bands.map((b) => (b.count ? fmt(b.mae, 2) : '-')),
    fmt(r.msPerImage, 1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  io.out(line(header));
  io.out(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of table) io.out(line(row));
}

async function peers(args: string[], io: Io, cwd: string): Promise<number> {
  const values = parse(args, {
    data: { type: 'string' },
    split: { type: 'string', default: 'val' },
    peers: { type: 'string' },
    model: { type: 'string', multiple: true },
    'human-models': { type: 'string' },
    'min-age': { type: 'string', default: '20' },
    'max-age': { type: 'string', default: '50' },
    limit: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (typeof values.data !== 'string') throw new UsageError('peers needs --data DIR');
  const split = values.split as SplitName;
  if (!['train', 'val', 'test'].includes(split)) throw new UsageError(`--split must be train, val or test (got '${split}')`);
  const names = (typeof values.peers === 'string' ? values.peers.split(',').map((s) => s.trim()) : [...PEERS]) as PeerName[];
  for (const n of names) if (!PEERS.includes(n)) throw new UsageError(`unknown peer '${n}' (known: ${PEERS.join(', ')})`);
  const minAge = integerFlag(values, 'min-age') as number;
  const maxAge = integerFlag(values, 'max-age') as number;
  const limit = integerFlag(values, 'limit');
  const humanModelsDir = path.resolve(cwd, typeof values['human-models'] === 'string' ? values['human-models'] : 'cache/human-models');
  const backend = await initBackend({ backend: backendFlag(values) ?? 'wasm' });
  io.err(`backend: ${backend.name} — ${backend.reason}`);

  const dataDir = path.resolve(cwd, values.data);
  const splits = await resolveSplits(dataDir, 42, { train: 0.7, val: 0.15, test: 0.15 });
  let records = splits[split].filter((r) => r.age !== undefined && r.age >= minAge && r.age <= maxAge).sort((a, b) => a.id.localeCompare(b.id));
  // a seeded random sample (not the first N ids, which sort by age folder) so a limited table still covers every age
  if (limit !== undefined && limit < records.length) records = createRng(42).shuffle([...records]).slice(0, limit).sort((a, b) => a.id.localeCompare(b.id));
  if (records.length === 0) {
    io.err(`error: no images with an age in ${minAge}..${maxAge} in ${dataDir} (${split})`);
    return EXIT.failed;
  }
  io.err(`data: ${dataDir} ${split} (${splits.source === 'folders' ? 'split folder' : 'split with seed 42'}): ${records.length} images aged ${minAge}..${maxAge}`);
  const bandEdges = [minAge, ...[30, 40, 50, 60, 70, 80].filter((e) => e > minAge && e <= maxAge)];
  const rows: PeerRow[] = [];

  for (const dir of (values.model as string[] | undefined) ?? []) {
    const modelDir = path.resolve(cwd, dir);
    const { model, metadata } = await loadModel(modelDir);
    const prepared = await prepareSplit(records, metadata.task, { size: metadata.input.size, channels: metadata.input.channels, onProgress: progressPrinter(io, `decode ${path.basename(modelDir)}`) });
    const started = performance.now();
    const e = evaluateModel(model, metadata.task, prepared.data, { normalization: metadata.input.normalization, bandEdges, batchSize: 16 });
    const ms = (performance.now() - started) / Math.max(1, prepared.ids.length);
    // regression models have no probabilities: rank AUC of their ages, as for the peers
    const auc = isClassification(metadata.task) ? e.auc : scoreAges(prepared.data.ages, e.predictedAges, { aucRange: { min: minAge, max: maxAge } }).auc;
    rows.push({ model: `${path.basename(modelDir)} (${metadata.architecture}${isClassification(metadata.task) ? '' : ', regression'})`, parameters: metadata.parameters, count: e.count, mae: e.mae, cs5: e.cs5, auc, bands: e.bands, msPerImage: ms, failed: prepared.failed.length });
    if (prepared.outsideTask.length) io.err(`note: ${modelDir}: ${prepared.outsideTask.length} images outside its task were left out`);
    model.dispose();
  }

  const unavailable: string[] = [];
  for (const name of names) {
    let peer;
    try {
      peer = await loadPeer(name, { humanModelsDir });
    } catch (error) {
      if (!(error instanceof PeerUnavailableError)) throw error;
      unavailable.push(`${name}: ${error.reason}`);
      io.err(`warning: ${error.message}`);
      continue;
    }
    const run = await runPeer(peer, records.map((r) => r.file), { onProgress: progressPrinter(io, `peer ${name}`) });
    for (const f of run.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
    const ok = records.map((_, i) => i).filter((i) => Number.isFinite(run.ages[i]));
    const s = scoreAges(
      ok.map((i) => records[i].age as number),
      ok.map((i) => run.ages[i]),
      { aucRange: { min: minAge, max: maxAge }, bandEdges },
    );
    rows.push({ model: `${name}: ${peer.description}`, parameters: peer.parameters, count: s.count, mae: s.mae, cs5: s.cs5, auc: s.auc, bands: s.bands, msPerImage: run.msPerImage, failed: run.failed.length });
    peer.dispose();
  }
  io.out(`${split} split of ${dataDir}: ${records.length} images aged ${minAge}..${maxAge}; backend ${backend.name}`);
  printTable(io, rows);
  io.out('AUC: macro one-vs-rest over the years; classification models score with their probabilities, age regressors with -|predicted age - class age|.');
  io.out('ms/img: preprocessing from decoded pixels + inference, batches of 16; decoding excluded (agekit models: their input is already resized by sharp while decoding).');
  if (unavailable.length) io.out(`not run: ${unavailable.join('; ')}`);
  io.result({ split, count: records.length, rows, unavailable });
  return EXIT.ok;
}

/** Dispatch `transfer` / `peers`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function runTransferCommand(command: 'transfer' | 'peers', args: string[], io: Io, cwd: string): Promise<number> {
  try {
    if (args.includes('--help') || args.includes('-h')) {
      io.out(`usage: agekit-trainer ${command} ...\n${TRANSFER_USAGE}`);
      return EXIT.ok;
    }
    return command === 'transfer' ? await transfer(args, io, cwd) : await peers(args, io, cwd);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      io.err(`usage:\n${TRANSFER_USAGE}`);
      return EXIT.usage;
    }
    io.err(`error: ${describeError(error)}`);
    return exitCodeOf(error);
  }
}
