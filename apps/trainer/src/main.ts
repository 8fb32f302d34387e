#!/usr/bin/env node
/**
 * agekit-trainer: `train --config configs/train.json` and `evaluate --model DIR --data DIR`.
 * Thin wiring over @agekit/model: flags, config, progress, files, exit codes (0 ok, 1 failed, 2 usage).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describeError, EXIT, exitCodeOf, integerFlag, loadConfig, packageVersion, parseFlags, SPLIT_NAMES, UsageError, type SplitName } from '@agekit/dataset';
import {
  describeEpoch,
  describeEvaluation,
  describeTrainingBackend,
  evaluateSavedModel,
  evaluationFigures,
  isClassification,
  trainConfigSchema,
  trainModel,
  type TrainConfig,
  type TrainEvent,
} from '@agekit/model';
import { backendChoiceFlag, initBackend } from '@agekit/runtime';
import { drawTrainingCharts } from './charts';
import { transfer, TRANSFER_USAGE } from './transfer';
import { configSchemaName, resampleForTraining } from './recipe';
import { phasePrinter, progressPrinter } from './format';

export { EXIT } from '@agekit/dataset';

// Bundled (esbuild), this file is the module the data-parallel training threads load (see @agekit/model's
// defaultWorkerEntry, @agekit/dataset's resolveWorkerEntry); `main` below runs only when this is the process's entry, never in those threads.
export { runParallelTrainWorker } from '@agekit/model';

/** Where the app writes: `out` for results, `err` for progress and messages. */
export type Io = { out(line: string): void; err(line: string): void };
/** What a command writes to: under --json its text lines go to stderr and `result` is the one JSON document on stdout. */
export type CommandIo = Io & { result(value: unknown): void };

function commandIo(io: Io, json: boolean): CommandIo {
  if (json) return { out: (line) => io.err(line), err: (line) => io.err(line), result: (value) => io.out(JSON.stringify(value)) };
  return { out: (line) => io.out(line), err: (line) => io.err(line), result: () => undefined };
}

const USAGE = `usage: agekit-trainer <command> [flags]   (agekit-trainer --version)
commands:
  train     --config FILE [--data DIR] [--out DIR] [--backend auto|tensorflow|wasm|cpu] [--workers N|auto] [--epochs N] [--resume] [--seed N] [--json]
            (a config whose "$schema" is transfer's runs transfer; a config naming "resample": RESAMPLE.json resamples
             --data into OUT/dataset first and trains into OUT/model, e.g. configs/model-all-ages.json)
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

/** One stderr line per event, as the command printed them before it became a library call. */
function printEvent(io: Io, event: TrainEvent): void {
  if (event.kind === 'backend') io.err(describeTrainingBackend(event.backend, event.threads));
  if (event.kind === 'warning') io.err(`warning: ${event.path}: ${event.reason}`);
  if (event.kind === 'data') io.err(`data: ${event.data} (${event.source === 'folders' ? 'split folders' : `split here, seed ${event.seed}`}): train ${event.train}, val ${event.val}, test ${event.test}`);
  if (event.kind === 'prepared') {
    io.err(`${event.split}: ${event.images} images${event.fromCache ? ' (cache)' : ''}, ${event.outsideTask} outside the task, ${event.failed.length} failed to decode`);
    for (const f of event.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
  }
  if (event.kind === 'distillation') {
    io.err(
      `distillation: ${event.teachers.length} teacher(s), ${event.labelled} labelled + ${event.unlabelled} unlabelled images (${event.computed} predictions computed, ${event.fromCache} cached), teachers' train MAE ${event.teacherTrainMae.toFixed(2)}, ${event.failed.length} left out`,
    );
    for (const f of event.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
  }
  if (event.kind === 'epoch') io.err(describeEpoch(event.record, event.epochs));
}

async function train(values: Record<string, unknown>, io: CommandIo, cwd: string): Promise<number> {
  if (typeof values.config !== 'string') throw new UsageError('train needs --config FILE');
  const configFile = path.resolve(cwd, values.config);
  const config = await loadConfig<TrainConfig>(configFile, trainConfigSchema);
  let data = path.resolve(cwd, typeof values.data === 'string' ? values.data : config.data);
  let out = path.resolve(cwd, typeof values.out === 'string' ? values.out : config.out);
  if (config.resample) ({ data, out } = await resampleForTraining({ resample: config.resample, configFile, data, out, io }));
  const workers = values.workers === undefined || values.workers === 'auto' ? values.workers : integerFlag(values, 'workers');
  if (typeof workers === 'number' && workers < 1) throw new UsageError(`--workers must be a whole number >= 1 or 'auto' (got ${workers})`);
  const result = await trainModel({
    ...config,
    data,
    out,
    training: {
      ...config.training,
      // teachers and unlabelled folders are relative to where the command runs, like --data
      ...(config.training.distillation && {
        distillation: {
          ...config.training.distillation,
          teachers: config.training.distillation.teachers.map((t) => path.resolve(cwd, t)),
          unlabelled: config.training.distillation.unlabelled?.map((u) => path.resolve(cwd, u)),
        },
      }),
      epochs: integerFlag(values, 'epochs') ?? config.training.epochs, workers: (workers as number | 'auto' | undefined) ?? config.training.workers },
    backend: backendChoiceFlag(values.backend) ?? config.backend,
    cacheDir: config.cacheDir ? path.resolve(cwd, config.cacheDir) : undefined,
    seed: integerFlag(values, 'seed') ?? config.seed,
    resume: values.resume === true,
    configFile,
    gitCommit: gitCommit(cwd),
    drawCharts: drawTrainingCharts,
    onEvent: (event) => printEvent(io, event),
    onProgress: phasePrinter(io),
  });
  const { task, validation } = result;
  if (result.chartsError !== undefined) io.err(`warning: plots not written: ${result.chartsError}`);
  io.out(`model: ${result.architecture}, ${result.parameters.toLocaleString('en-US')} parameters, task ${task.kind}${task.labels.length ? ` (${task.labels.length} classes)` : ''}, ${result.size}px ${result.channels === 3 ? 'RGB' : 'grayscale'}`);
  io.out(`best epoch ${result.bestEpoch} by validation ${result.monitor}${result.stoppedEarly ? ' (stopped early)' : ''}${result.resumedFromEpoch ? `, resumed after epoch ${result.resumedFromEpoch}` : ''}`);
  describeEvaluation('validation', validation, task.labels).forEach((line) => io.out(line));
  io.out(`saved: ${result.out} (model.json, weights.bin, agekit-model.json, history.json${result.chartsError === undefined ? ', plots/' : ''})`);
  io.result({ out: result.out, backend: result.backend, parameters: result.parameters, bestEpoch: result.bestEpoch, validation: evaluationFigures(validation) });
  return EXIT.ok;
}

async function evaluate(values: Record<string, unknown>, io: CommandIo, cwd: string): Promise<number> {
  if (typeof values.model !== 'string') throw new UsageError('evaluate needs --model DIR');
  if (typeof values.data !== 'string') throw new UsageError('evaluate needs --data DIR');
  const split = (values.split ?? 'val') as SplitName | 'all';
  if (![...SPLIT_NAMES, 'all'].includes(split)) throw new UsageError(`--split must be one of ${SPLIT_NAMES.join(', ')} or all (got '${split}')`);
  const backend = await initBackend({ backend: backendChoiceFlag(values.backend) ?? 'auto' });
  io.err(`backend: ${backend.name} — ${backend.reason}`);
  const data = path.resolve(cwd, values.data);
  const result = await evaluateSavedModel({ model: path.resolve(cwd, values.model), data, split, onProgress: progressPrinter(io, `decode ${split}`) });
  const { metadata, evaluation: e } = result;
  for (const f of result.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
  if (!e) {
    io.err(`error: no usable images in ${data} (${split}): ${result.outsideTask} outside the task, ${result.failed.length} failed`);
    return EXIT.failed;
  }
  io.out(`model: ${result.model} (${metadata.architecture}, ${metadata.parameters.toLocaleString('en-US')} parameters, ${isClassification(metadata.task) ? `${metadata.task.labels.length} classes` : 'regression'})`);
  describeEvaluation(`${split} (${result.splitSource === 'folders' ? 'split folder' : `split with seed ${result.seed}`})`, e, metadata.task.labels).forEach((line) => io.out(line));
  io.result({ model: result.model, split, evaluation: evaluationFigures(e), bands: e.bands, confusion: e.confusion });
  return EXIT.ok;
}

/** The value of --config in raw arguments (before the command's flags are parsed). */
function configFlag(args: string[]): string | undefined {
  const i = args.indexOf('--config');
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith('--config='))?.slice('--config='.length);
}

/** Run the trainer with command-line arguments; returns the exit code. */
export async function main(argv: string[], io: Io, cwd = process.cwd()): Promise<number> {
  const [command, ...rest] = argv;
  const usage = command === 'transfer' ? `usage:\n${TRANSFER_USAGE}` : USAGE;
  try {
    if (!command || command === '--help' || command === '-h' || command === 'help') {
      (command ? io.out : io.err)(USAGE);
      return command ? EXIT.ok : EXIT.usage;
    }
    if (command === '--version' || command === '-V') {
      io.out(packageVersion(__dirname));
      return EXIT.ok;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(command === 'transfer' ? `usage: agekit-trainer transfer ...\n${TRANSFER_USAGE}` : USAGE);
      return EXIT.ok;
    }
    const commandOut = commandIo(io, rest.includes('--json'));
    if (command === 'transfer' || (command === 'train' && (await configSchemaName(path.resolve(cwd, configFlag(rest) ?? ''))) === 'transfer')) {
      return await transfer(rest, commandOut, cwd);
    }
    const values = parseFlags(rest, {
      ...{ config: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, split: { type: 'string' } },
      ...{ backend: { type: 'string' }, epochs: { type: 'string' }, workers: { type: 'string' }, seed: { type: 'string' } },
      ...{ resume: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
    backendChoiceFlag(values.backend); // a bad --backend is a usage error before any work
    if (command === 'train') return await train(values, commandOut, cwd);
    if (command === 'evaluate') return await evaluate(values, commandOut, cwd);
    throw new UsageError(`unknown command '${command}'`);
  } catch (error) {
    // the same codes as the other apps: a bad config or output path is a usage error
    io.err(`error: ${describeError(error)}`);
    if (error instanceof UsageError) io.err(usage);
    return exitCodeOf(error);
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`error: ${String(error)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
