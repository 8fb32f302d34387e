#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '@agekit/model';
import { initBackend, type BackendChoice } from '@agekit/runtime';
import { EXIT, exitCodeOf, packageVersion, UsageError } from '@agekit/dataset';
import {
  describeAgekitModel,
  describeConversion,
  describeVerification,
  exportModel,
  readBundle,
  verifyBundleOnData,
  type Bundle,
  type BundleVerification,
  type CalibrationMethod,
  type InputLayout,
  type ModelFormat,
  type StageProgress,
  type VerifyOnDataOptions,
} from '@agekit/onnx';
import { OPTIONS, placementFlag, positiveNumber, required, USAGE, type Flags } from './flags';

export type ExporterIo = { out: (line: string) => void; err: (line: string) => void };

const defaultIo: ExporterIo = { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) };

/** Progress lines at each quarter of a phase (and at its end). */
function progress(io: ExporterIo): (p: StageProgress) => void {
  const last = new Map<string, number>();
  return ({ phase, done, total }) => {
    const step = Math.floor((done / total) * 4);
    if (step !== last.get(phase) || done === total) {
      last.set(phase, step);
      io.err(`${phase}: ${done}/${total}`);
    }
  };
}

const FORMATS: Record<string, ModelFormat> = { int8: 'int8', fp16: 'float16', float16: 'float16', fp32: 'float32', float32: 'float32' };

/** The tfjs reference backend (default cpu: exact), initialised; its line is printed when verification begins. */
async function referenceBackend(flags: Flags): Promise<string> {
  const backend = (flags.backend ?? 'cpu') as BackendChoice;
  if (!['cpu', 'wasm', 'auto'].includes(backend)) throw new UsageError(`--backend must be cpu, wasm or auto (got '${backend}')`);
  const info = await initBackend({ backend });
  return `tfjs backend: ${info.name} (${info.reason})`;
}

function verification(flags: Flags): VerifyOnDataOptions {
  return {
    data: required(flags, 'data'),
    images: positiveNumber(flags, 'images', 256, true),
    minImages: positiveNumber(flags, 'min-images', 64, true),
    tolerance: flags.tolerance === undefined ? undefined : positiveNumber(flags, 'tolerance', 1e-4, false),
    maxMaeChange: positiveNumber(flags, 'max-mae-change', 0.1, false),
    cpp: Boolean(flags.cpp),
  };
}

/** Prints the reference backend and what is verified on how many images, when verification begins. */
const verifying = (io: ExporterIo, backendLine: string, modelDir: string) => (bundle: Bundle, images: number) =>
  [backendLine, `verifying ${bundle.onnxPath} against ${modelDir} on ${images} images`].forEach((line) => io.err(line));

/** A verification report in the JSON result, `passed` first. */
const summary = (report?: BundleVerification): object | undefined => report && { passed: report.passed, tfjs: report.tfjs, checker: report.checker, cpp: report.cpp };

async function exportCommand(flags: Flags, io: ExporterIo): Promise<number> {
  const modelDir = resolve(required(flags, 'model'));
  const out = resolve(required(flags, 'out'));
  const layout = (flags.layout ?? 'NCHW').toUpperCase();
  if (layout !== 'NCHW' && layout !== 'NHWC') throw new UsageError(`--layout must be NCHW or NHWC (got '${flags.layout}')`);
  if (!flags['no-verify'] && !flags.data) throw new UsageError('--data is required to verify the export (or pass --no-verify)');
  const format = FORMATS[(flags.quantize ?? 'float32').toLowerCase()];
  if (!format) throw new UsageError(`--quantize must be int8 or fp16 (got '${flags.quantize}')`);
  const method = (flags.calibration ?? 'minmax') as CalibrationMethod;
  if (method !== 'minmax' && method !== 'percentile') throw new UsageError(`--calibration must be minmax or percentile (got '${flags.calibration}')`);
  if (format === 'int8' && !flags.data && !flags['calibration-data']) throw new UsageError('--quantize int8 calibrates on images: pass --calibration-data or --data');
  const check = flags['no-verify'] ? false : verification(flags);
  const onVerifying = verifying(io, await referenceBackend(flags), modelDir);
  const { model, metadata, dir: sourceModel } = await loadModel(modelDir);
  try {
    const result = await exportModel({
      model,
      description: describeAgekitModel(metadata),
      sourceModel,
      out,
      force: Boolean(flags.force),
      inputLayout: layout as InputLayout,
      format,
      testTimeFlip: Boolean(flags.flip),
      calibration: format === 'int8' ? { data: flags['calibration-data'] ?? required(flags, 'data'), images: positiveNumber(flags, 'calibration-images', 256, true), method } : undefined,
      int8Placement: placementFlag(flags['int8-placement']),
      verification: check,
      onProgress: progress(io),
      onEvent: (event) => {
        if (event.kind === 'verifying') return onVerifying(event.bundle, event.images);
        describeConversion(`converted ${metadata.architecture} (${metadata.task.kind})`, event.converted, event.bundle.manifest).forEach((line) => io.err(line));
        if (!check) io.err('warning: --no-verify: the bundle was NOT verified');
      },
    });
    if (result.verification) describeVerification(result.verification).forEach((line) => io.err(line));
    const ok = result.committed;
    if (flags.json) io.out(JSON.stringify({ command: 'export', bundle: out, ok, verification: summary(result.verification) }));
    else io.out(ok ? `export ok: ${out}` : `export FAILED verification: nothing written to ${out}`);
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    model.dispose();
  }
}

async function verifyCommand(flags: Flags, io: ExporterIo): Promise<number> {
  const bundle = readBundle(required(flags, 'bundle'));
  const check = verification(flags);
  const modelDir = flags.model ?? bundle.manifest.sourceModel;
  if (!modelDir) throw new UsageError('the bundle does not name its source model: pass --model DIR');
  const onVerifying = verifying(io, await referenceBackend(flags), modelDir);
  const { model } = await loadModel(modelDir);
  const report = await verifyBundleOnData(bundle, model, check, { onVerifying: (images) => onVerifying(bundle, images), onProgress: progress(io) }).finally(() => model.dispose());
  describeVerification(report).forEach((line) => io.err(line));
  if (flags.json) io.out(JSON.stringify({ command: 'verify', bundle: bundle.dir, ok: report.passed, verification: summary(report) }));
  else io.out(report.passed ? `verify ok: ${bundle.dir}` : `verify FAILED: ${bundle.dir}`);
  return report.passed ? EXIT.ok : EXIT.failed;
}

/** Run the exporter with argv (without node and script); returns the exit code. */
export async function runExporter(argv: string[], io: ExporterIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    (command ? io.out : io.err)(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  if (command === '--version' || command === '-V') {
    io.out(packageVersion(__dirname));
    return EXIT.ok;
  }
  if (command !== 'export' && command !== 'verify') {
    io.err(`error: unknown command '${command}'\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    const { values: flags, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
    if (flags.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    return command === 'export' ? await exportCommand(flags, io) : await verifyCommand(flags, io);
  } catch (error) {
    // the usage follows a usage error; a refused --out (also exit 2, as in every agekit app) is one line
    const code = exitCodeOf(error);
    const isUsage = error instanceof UsageError || String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
    io.err(`error: ${error instanceof Error ? error.message : String(error)}${isUsage ? `\n\n${USAGE}` : ''}`);
    return code;
  }
}

if (require.main === module) {
  runExporter(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
