#!/usr/bin/env node
/**
 * agekit-trainer: `train --config configs/train.json` and `evaluate --model DIR --data DIR`.
 * Thin wiring over @agekit/model: flags, config, progress, files, exit codes (0 ok, 1 failed, 2 usage).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT, exitCodeOf, loadConfig, packageVersion, SPLIT_NAMES, StageOutputs, UsageError, writeFileAtomic, type HoldOutSpec, type SplitName, type SplitRatios } from '@agekit/dataset';
import {
  backendChoiceFlag,
  beginRunFolder,
  countParameters,
  evaluateModel,
  initBackend,
  isClassification,
  loadModel,
  prepareSplit,
  resolveSplits,
  resolveTask,
  resolveWorkerCount,
  saveModel,
  trainModel,
  type BackendChoice,
  type EpochRecord,
  type Evaluation,
} from '@agekit/model';
import { renderConfusionMatrix, renderLineChart } from '@agekit/plot';
import { trainConfigSchema, type TrainConfig } from './config';
import { runTransferCommand } from './transfer';
import { fmt, progressPrinter } from './format';

export { EXIT } from '@agekit/dataset';

// Bundled (esbuild), this file is the module the data-parallel training threads load (see @agekit/model's
// defaultWorkerEntry, @agekit/dataset's resolveWorkerEntry); `main` below runs only when this is the process's entry, never in those threads.
export { runParallelTrainWorker } from '@agekit/model';

/** Where the app writes: `out` for results, `err` for progress and messages. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** What a command writes to: under --json its text lines go to stderr and `result` is the one JSON document on stdout. */
export interface CommandIo extends Io {
  result(value: unknown): void;
}

function commandIo(io: Io, json: boolean): CommandIo {
  if (json) return { out: (line) => io.err(line), err: (line) => io.err(line), result: (value) => io.out(JSON.stringify(value)) };
  return { out: (line) => io.out(line), err: (line) => io.err(line), result: () => undefined };
}

const USAGE = `usage: agekit-trainer <command> [flags]   (agekit-trainer --version)
commands:
  train     --config FILE [--data DIR] [--out DIR] [--backend auto|tensorflow|wasm|cpu] [--workers N|auto] [--epochs N] [--resume] [--seed N] [--json]
  evaluate  --model DIR --data DIR [--split val|test|train|heldout|all] [--backend B] [--json]
  transfer  --config configs/transfer.json [--data DIR] [--out DIR]   (pretrained face-api backbone + trained head; transfer --help)
(pretrained age estimators side by side, formerly \`peers\`: npx tsx tools/bench/peers/main.ts table --data DIR [--model DIR ...])
exit codes: 0 ok, 1 failed, 2 usage`;

function gitCommit(cwd: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

function summary(e: Evaluation): Record<string, number | null> {
  const n = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return { count: e.count, loss: n(e.loss), mae: n(e.mae), cs5: n(e.cs5), accuracy: n(e.accuracy), auc: n(e.auc) };
}

function printEvaluation(io: Io, title: string, e: Evaluation, labels: string[]): void {
  io.out(`${title}: n=${e.count} MAE=${fmt(e.mae)} CS(5)=${fmt(e.cs5)} accuracy=${fmt(e.accuracy)} macroAUC=${fmt(e.auc)} loss=${fmt(e.loss, 4)}`);
  io.out(`MAE by age band: ${e.bands.filter((b) => b.count > 0).map((b) => `${b.band}: ${fmt(b.mae, 2)} (n=${b.count})`).join(', ')}`);
  if (e.confusion.length) {
    const width = Math.max(3, ...labels.map((l) => l.length), ...e.confusion.flat().map((v) => String(v).length));
    io.out('confusion matrix (rows: true, columns: predicted):');
    io.out(`${''.padStart(width)} ${labels.map((l) => l.padStart(width)).join(' ')}`);
    e.confusion.forEach((row, i) => io.out(`${labels[i].padStart(width)} ${row.map((v) => String(v).padStart(width)).join(' ')}`));
  }
}

async function writePlots(dir: string, history: EpochRecord[], e: Evaluation, labels: string[]): Promise<string[]> {
  const files: string[] = [];
  const x = history.map((h) => h.epoch);
  const charts: [string, Promise<Buffer>][] = [
    [
      'loss.png',
      renderLineChart({ title: 'Loss', xLabel: 'epoch', yLabel: 'loss', x, series: [{ name: 'train', values: history.map((h) => h.trainLoss) }, { name: 'validation', values: history.map((h) => h.val.loss) }], markBest: 'min' }),
    ],
    ['mae.png', renderLineChart({ title: 'Validation MAE (years)', xLabel: 'epoch', yLabel: 'MAE', x, series: [{ name: 'validation', values: history.map((h) => h.val.mae) }], markBest: 'min' })],
  ];
  if (history.some((h) => h.val.auc !== null)) {
    charts.push(['auc.png', renderLineChart({ title: 'Validation macro AUC', xLabel: 'epoch', yLabel: 'AUC', x, series: [{ name: 'validation', values: history.map((h) => h.val.auc) }], markBest: 'max' })]);
  }
  if (e.confusion.length) charts.push(['confusion.png', renderConfusionMatrix({ title: 'Validation confusion matrix', labels, matrix: e.confusion })]);
  for (const [name, png] of charts) {
    const file = path.join(dir, 'plots', name);
    await writeFileAtomic(file, await png);
    files.push(file);
  }
  return files;
}

async function train(values: Record<string, string | boolean | undefined>, io: CommandIo, cwd: string): Promise<number> {
  if (typeof values.config !== 'string') throw new UsageError('train needs --config FILE');
  const configFile = path.resolve(cwd, values.config);
  const config = await loadConfig<TrainConfig>(configFile, trainConfigSchema);
  const num = (flag: string): number | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new UsageError(`--${flag} must be an integer (got '${String(v)}')`);
    return n;
  };
  const dataDir = path.resolve(cwd, typeof values.data === 'string' ? values.data : config.data);
  const outDir = path.resolve(cwd, typeof values.out === 'string' ? values.out : config.out);
  const seed = num('seed') ?? config.seed;
  const epochs = num('epochs') ?? config.training.epochs;
  const workersFlag = values.workers === undefined || values.workers === 'auto' ? values.workers : num('workers');
  if (typeof workersFlag === 'number' && workersFlag < 1) throw new UsageError(`--workers must be a whole number >= 1 or 'auto' (got ${workersFlag})`);
  const workers = (workersFlag as number | 'auto' | undefined) ?? config.training.workers;
  await StageOutputs.check({ inputs: [dataDir, configFile], folders: [outDir] }); // before any work or output
  const backend = await initBackend({ backend: (values.backend as BackendChoice | undefined) ?? config.backend });
  const threads = resolveWorkerCount(workers, backend.name);
  io.err(
    `backend: ${backend.name} — ${backend.reason}${backend.composedKernels.length ? `; composed kernels: ${backend.composedKernels.join(', ')}` : ''}; ` +
      `${threads} training thread${threads === 1 ? '' : 's'}${threads > 1 ? ' (data parallel)' : ''}` +
      // the data-parallel pool splits the native kernels' OpenMP threads between the training threads
      (backend.native && threads > 1 ? `, oneDNN on ${Math.max(1, Math.floor(backend.native.threads / threads))} thread(s) each` : '') +
      (backend.nativeUnavailable ? `; no native kernels: ${backend.nativeUnavailable}` : ''),
  );

  const { outputs, staging } = await beginRunFolder(outDir, [dataDir, configFile], values.resume === true);
  try {
    const ratios: SplitRatios = config.split;
    const splits = await resolveSplits(dataDir, seed, ratios);
    for (const p of splits.problems.slice(0, 10)) io.err(`warning: ${p.path}: ${p.reason}`);
    io.err(`data: ${dataDir} (${splits.source === 'folders' ? 'split folders' : `split here, seed ${seed}`}): train ${splits.train.length}, val ${splits.val.length}, test ${splits.test.length}`);
    const task = resolveTask(config.task, splits.train.flatMap((r) => (r.age === undefined ? [] : [r.age])));
    const channels = config.input.grayscale ? 1 : 3;
    const size = config.input.size;
    const cacheDir = config.cacheDir ? path.resolve(cwd, config.cacheDir) : path.join(staging, 'cache');
    const prepare = (name: SplitName): ReturnType<typeof prepareSplit> =>
      prepareSplit(splits[name], task, { size, channels, cacheDir, name, onProgress: progressPrinter(io, `decode ${name}`) });
    const trainSet = await prepare('train');
    const valSet = await prepare('val');
    for (const [name, s] of [['train', trainSet], ['val', valSet]] as const) {
      io.err(`${name}: ${s.ids.length} images${s.fromCache ? ' (cache)' : ''}, ${s.outsideTask.length} outside the task, ${s.failed.length} failed to decode`);
      for (const f of s.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
    }

    const result = await trainModel({
      architecture: config.architecture,
      task,
      size,
      channels,
      train: trainSet.data,
      val: valSet.data,
      epochs,
      batchSize: config.training.batchSize,
      learningRate: config.training.learningRate,
      schedule: config.training.schedule,
      l2: config.training.l2,
      dropout: config.training.dropout,
      classWeights: config.training.classWeights,
      regressionLoss: config.training.regressionLoss,
      earlyStoppingPatience: config.training.earlyStoppingPatience,
      monitor: config.training.monitor,
      flip: config.training.flip,
      workers,
      seed,
      checkpointDir: path.join(staging, 'checkpoints'),
      resume: values.resume === true,
      backend: backend.name,
      gitCommit: gitCommit(cwd),
      onBatch: progressPrinter(io, 'train'),
      onEpoch: (r) =>
        io.err(
          `epoch ${r.epoch}/${epochs}: lr ${r.learningRate.toExponential(2)} train loss ${fmt(r.trainLoss, 4)} | val loss ${fmt(r.val.loss, 4)} MAE ${fmt(r.val.mae)} CS(5) ${fmt(r.val.cs5)} acc ${fmt(r.val.accuracy)} AUC ${fmt(r.val.auc)} | ${r.imagesPerSecond.toFixed(1)} img/s${r.best ? ' *best' : ''}`,
        ),
    });
    const architectureParams = countParameters(result.model);
    result.metadata.training = { ...result.metadata.training, data: dataDir, splitSource: splits.source, split: ratios, config: configFile };
    await saveModel(result.model, staging, result.metadata);
    await writeFileAtomic(path.join(staging, 'history.json'), JSON.stringify({ monitor: result.monitor, bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly, history: result.history }, null, 2) + '\n');
    const plots = await writePlots(staging, result.history, result.validation, task.labels).catch((error: unknown) => {
      io.err(`warning: plots not written: ${error instanceof Error ? error.message : String(error)}`);
      return [] as string[];
    });
    await outputs.commit();
    io.out(`model: ${config.architecture}, ${architectureParams.toLocaleString('en-US')} parameters, task ${task.kind}${task.labels.length ? ` (${task.labels.length} classes)` : ''}, ${size}px ${channels === 3 ? 'RGB' : 'grayscale'}`);
    io.out(`best epoch ${result.bestEpoch} by validation ${result.monitor}${result.stoppedEarly ? ' (stopped early)' : ''}${result.resumedFromEpoch ? `, resumed after epoch ${result.resumedFromEpoch}` : ''}`);
    printEvaluation(io, 'validation', result.validation, task.labels);
    io.out(`saved: ${outDir} (model.json, weights.bin, agekit-model.json, history.json${plots.length ? ', plots/' : ''})`);
    io.result({ out: outDir, backend: backend.name, parameters: architectureParams, bestEpoch: result.bestEpoch, validation: summary(result.validation) });
    return EXIT.ok;
  } finally {
    await outputs.abort(); // nothing once committed; a failed run leaves the previous model as it was
  }
}

async function evaluate(values: Record<string, string | boolean | undefined>, io: CommandIo, cwd: string): Promise<number> {
  if (typeof values.model !== 'string') throw new UsageError('evaluate needs --model DIR');
  if (typeof values.data !== 'string') throw new UsageError('evaluate needs --data DIR');
  const split = (values.split ?? 'val') as SplitName | 'all';
  if (![...SPLIT_NAMES, 'all'].includes(split)) throw new UsageError(`--split must be one of ${SPLIT_NAMES.join(', ')} or all (got '${split}')`);
  const backend = await initBackend({ backend: (values.backend as BackendChoice | undefined) ?? 'auto' });
  io.err(`backend: ${backend.name} — ${backend.reason}`);
  const modelDir = path.resolve(cwd, values.model);
  const { model, metadata } = await loadModel(modelDir);
  const training = metadata.training ?? {};
  const seed = typeof training.seed === 'number' ? training.seed : 42;
  const ratios = (training.split as SplitRatios | undefined) ?? { train: 0.7, val: 0.15, test: 0.15 };
  const dataDir = path.resolve(cwd, values.data);
  const splits = await resolveSplits(dataDir, seed, ratios, { holdOut: training.holdOut as HoldOutSpec | undefined });
  const records = split === 'all' ? [...splits.train, ...splits.val, ...splits.test] : splits[split];
  const prepared = await prepareSplit(records, metadata.task, {
    size: metadata.input.size,
    channels: metadata.input.channels,
    onProgress: progressPrinter(io, `decode ${split}`),
  });
  for (const f of prepared.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
  if (prepared.ids.length === 0) {
    io.err(`error: no usable images in ${dataDir} (${split}): ${prepared.outsideTask.length} outside the task, ${prepared.failed.length} failed`);
    return EXIT.failed;
  }
  const e = evaluateModel(model, metadata.task, prepared.data, {
    normalization: metadata.input.normalization,
    regressionLoss: (training.regressionLoss as 'l1' | 'l2' | undefined) ?? 'l1',
  });
  io.out(`model: ${modelDir} (${metadata.architecture}, ${metadata.parameters.toLocaleString('en-US')} parameters, ${isClassification(metadata.task) ? `${metadata.task.labels.length} classes` : 'regression'})`);
  printEvaluation(io, `${split} (${splits.source === 'folders' ? 'split folder' : `split with seed ${seed}`})`, e, metadata.task.labels);
  io.result({ model: modelDir, split, evaluation: summary(e), bands: e.bands, confusion: e.confusion });
  return EXIT.ok;
}

/** Run the trainer with command-line arguments; returns the exit code. */
export async function main(argv: string[], io: Io, cwd = process.cwd()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      (command ? io.out : io.err)(USAGE);
      return command ? EXIT.ok : EXIT.usage;
    }
    if (command === '--version' || command === '-V') {
      io.out(packageVersion(__dirname));
      return EXIT.ok;
    }
    const commandOut = commandIo(io, rest.includes('--json'));
    if (command === 'transfer') return await runTransferCommand(rest, commandOut, cwd);
    const options = {
      config: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      model: { type: 'string' },
      split: { type: 'string' },
      backend: { type: 'string' },
      epochs: { type: 'string' },
      workers: { type: 'string' },
      seed: { type: 'string' },
      resume: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    } as const;
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({ args: rest, options, allowPositionals: false, strict: true }).values;
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    if (values.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    backendChoiceFlag(values.backend); // a bad --backend is a usage error before any work
    if (command === 'train') return await train(values, commandOut, cwd);
    if (command === 'evaluate') return await evaluate(values, commandOut, cwd);
    throw new UsageError(`unknown command '${command}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}`);
      io.err(USAGE);
      return EXIT.usage;
    }
    // the same codes as the other apps: a bad config or output path is a usage error
    io.err(`error: ${error instanceof Error ? error.message : String(error)}`);
    return exitCodeOf(error);
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${String(error)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
