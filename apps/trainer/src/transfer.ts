/**
 * `transfer`: a dense head on a pretrained face backbone's cached features, one per task, each saved as ONE Layers
 * model (backbone + head) in the agekit format. Thin wiring over @agekit/transfer's `transferModel`: flags and config
 * in, progress and summary lines out. (The side-by-side benchmark of pretrained age estimators is tools/bench/peers.)
 */
import * as path from 'node:path';
import { EXIT, formatDuration, integerFlag, loadConfig, parseFlags, UsageError } from '@agekit/dataset';
import { describeBands, formatMetric as fmt } from '@agekit/model';
import { backendChoiceFlag } from '@agekit/runtime';
import { FINE_TUNE_POINTS, transferConfigSchema, transferModel, type TransferConfig, type TransferEvent, type TransferFineTune } from '@agekit/transfer';
import type { CommandIo as Io } from './main';
import { phasePrinter } from './format';
import { resampleForTraining } from './recipe';

export const TRANSFER_USAGE = `  transfer  --config FILE [--data DIR] [--out DIR] [--backend wasm|cpu|auto] [--epochs N] [--seed N] [--json]
            [--fine-tune none|exit_flow|middle_flow/main_block_1|all] [--fine-tune-epochs N]`;

/** One stderr/stdout line per event, as the command printed them before it became a library call. */
function printEvent(io: Io, event: TransferEvent): void {
  switch (event.kind) {
    case 'backend':
      return io.err(`backend: ${event.name} — ${event.reason}`);
    case 'warning':
      return io.err(`warning: ${event.path}: ${event.reason}`);
    case 'data':
      return io.err(`data: ${event.data} (${event.source === 'folders' ? 'split folders' : `split here, seed ${event.seed}`}): train ${event.train}, val ${event.val}${event.heldout ? `, held out ${event.heldout}` : ''}`);
    case 'images':
      return io.err(`${event.split}: ${event.images} images${event.decodeCache ? ' (decode cache)' : ''}, ${event.failed} failed`);
    case 'features':
      return io.err(
        `${event.split}: ${event.images} images${event.decodeCache ? ' (decode cache)' : ''}, ${event.failed} failed; features ${event.fromCache ? 'from cache' : `computed in ${formatDuration(event.seconds)}`}`,
      );
    case 'activations':
      return io.err(`${event.split}${event.mirrored ? ' mirrored' : ''}: activations [${event.shape}] ${event.fromCache ? 'from cache' : `computed in ${formatDuration(event.seconds)}`}`);
    case 'task':
      return io.err(`task ${event.name} (${event.task.kind}${event.task.labels.length ? `, ${event.task.labels.length} classes` : ''}): train ${event.train}, val ${event.val}`);
    case 'epoch': {
      const r = event.record;
      const stage = event.stage === 'fine-tune' ? ' fine-tune' : '';
      return io.err(
        `  ${event.name}${stage} epoch ${r.epoch}/${event.epochs}: train loss ${fmt(r.trainLoss, 4)} | val loss ${fmt(r.val.loss, 4)} MAE ${fmt(r.val.mae)} CS(5) ${fmt(r.val.cs5)} acc ${fmt(r.val.accuracy)} AUC ${fmt(r.val.auc)}${'imagesPerSecond' in r ? ` | ${r.imagesPerSecond.toFixed(1)} img/s` : ''}${r.best ? ' *best' : ''}`,
      );
    }
    case 'fine-tune':
      return io.err(
        event.from === 'all'
          ? `task ${event.name}: fine-tuning face-api's whole age net (${event.trainableBackboneParameters.toLocaleString('en-US')} backbone parameters + its age output) on the images, lr ${event.learningRate}${event.flip ? ', flips' : ''}`
          : `task ${event.name}: fine-tuning ${event.from} (${event.trainableBackboneParameters.toLocaleString('en-US')} backbone parameters) + head, lr ${event.learningRate}${event.flip ? ', mirrored activations' : ''}`,
      );
    case 'fine-tuned':
      return io.err(
        `task ${event.name}: fine-tuning ${event.kept ? 'kept' : 'dropped (no gain)'}: val ${event.monitor} ${fmt(event.before)} -> ${fmt(event.after)}, MAE ${fmt(event.maeBefore)} -> ${fmt(event.maeAfter)} in ${formatDuration(event.seconds)}`,
      );
    case 'saved': {
      const t = event.result;
      const tuned = t.fineTune ? `; fine-tuning ${t.fineTune.kept ? `kept (${(t.fineTuneSeconds ?? 0).toFixed(1)} s)` : 'dropped'}` : '';
      // 'all' trains face-api's own age output instead of a head
      const whole = t.fineTune?.from === 'all';
      const trained = whole ? `whole net, ${(t.fineTune?.imagesPerSecond ?? NaN).toFixed(1)} img/s` : `head trained in ${t.headSeconds.toFixed(1)} s`;
      io.out(
        `${t.name}: ${t.parameters.toLocaleString('en-US')} parameters (backbone ${t.backboneParameters.toLocaleString('en-US')} + ${whole ? "face-api's age output" : 'head'} ${t.headParameters.toLocaleString('en-US')}); best epoch ${t.bestEpoch}/${t.epochsRun} by ${t.monitor}; ${trained}${tuned}`,
      );
      const e = t.validation;
      io.out(`  validation: n=${e.count} MAE=${fmt(e.mae)} CS(5)=${fmt(e.cs5)} accuracy=${fmt(e.accuracy)} macroAUC=${fmt(e.auc)}`);
      io.out(`  ${describeBands(e)}`);
      return io.out(`  saved: ${t.out}`);
    }
  }
}

/** `transfer` with its flags (after the command name); returns the exit code. */
export async function transfer(args: string[], io: Io, cwd: string): Promise<number> {
  const values = parseFlags(args, {
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
  if (fineTuneFlag !== undefined && !['none', ...FINE_TUNE_POINTS, 'all'].includes(String(fineTuneFlag))) {
    throw new UsageError(`--fine-tune must be none, all or one of ${FINE_TUNE_POINTS.join(', ')} (got '${String(fineTuneFlag)}')`);
  }
  const configFile = path.resolve(cwd, values.config);
  const config = await loadConfig<TransferConfig>(configFile, transferConfigSchema);
  const from = (fineTuneFlag as TransferFineTune['from'] | undefined) ?? config.fineTune.from;
  let data = path.resolve(cwd, typeof values.data === 'string' ? values.data : config.data);
  let out = path.resolve(cwd, typeof values.out === 'string' ? values.out : config.out);
  if (config.resample) ({ data, out } = await resampleForTraining({ resample: config.resample, configFile, data, out, io }));
  const result = await transferModel({
    data,
    out,
    backbone: config.backbone,
    tasks: config.tasks,
    head: config.head,
    training: { ...config.training, epochs: integerFlag(values, 'epochs') ?? config.training.epochs },
    fineTune: { ...config.fineTune, from, epochs: integerFlag(values, 'fine-tune-epochs') ?? config.fineTune.epochs },
    split: config.split,
    holdOut: config.holdOut,
    backend: backendChoiceFlag(values.backend) ?? config.backend,
    cacheDir: config.cacheDir ? path.resolve(cwd, config.cacheDir) : undefined,
    seed: integerFlag(values, 'seed') ?? config.seed,
    configFile,
    onEvent: (event) => printEvent(io, event),
    onProgress: phasePrinter(io),
  });
  const results = result.tasks.map((t) => ({
    name: t.name,
    out: t.out,
    parameters: t.parameters,
    bestEpoch: t.bestEpoch,
    headSeconds: t.headSeconds,
    fineTune: t.fineTune,
    validation: { count: t.validation.count, mae: t.validation.mae, cs5: t.validation.cs5, accuracy: t.validation.accuracy, auc: t.validation.auc },
  }));
  io.result({ out: result.out, backend: result.backend, results });
  return EXIT.ok;
}
