#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { initBackend, loadModel, type BackendChoice } from '@agekit/model';
import { EXIT, exitCodeOf, listImageFiles, packageVersion, readDataset, StageOutputs, UsageError } from '@agekit/dataset';
import {
  BUNDLE_ENTRIES,
  describeAgekitModel,
  exportBundle,
  INT8_PLACEMENT_CHOICES,
  isBundleFolder,
  readBundle,
  verifyBundle,
  type Bundle,
  type BundleVerification,
  type CalibrationMethod,
  type InputLayout,
  type Int8Placement,
  type ModelFormat,
} from '@agekit/onnx';

/** An input named on the command line that is missing: exit 1 with its one-line message. */
class InputError extends Error {}

const USAGE = `agekit-exporter: tfjs age model -> verified ONNX bundle for C++ (OpenCV dnn / ONNX Runtime)

usage:
  agekit-exporter --version
  agekit-exporter export --model DIR --out DIR --data DIR [--layout NCHW|NHWC] [--quantize int8|fp16] [--force] [--no-verify] [verify flags]
  agekit-exporter verify --bundle DIR --data DIR [--model DIR] [verify flags]

export   convert the model saved by 'agekit-trainer train' (model.json + weights.bin + agekit-model.json) and write
         model.onnx, preprocess.json, labels.json, bundle.json, README.md and cpp/ (main.cpp, CMakeLists.txt) to --out;
         then verify it (unless --no-verify). The bundle is written to a temporary folder beside --out and moved there
         only once verified. --out must be new, empty, or (with --force) a previous bundle; it may not be inside --model
         or --data, nor hold them.
verify   re-run the verification of a bundle: onnxruntime vs the tfjs model (--model, default: the bundle's source model)
         on the images under --data, and onnx.checker (python3-onnx) when present.

export flags:
  --quantize int8|fp16 model.onnx in int8 (QLinearConv/QLinearMatMul, int8 weights per output channel, uint8 activations
                       calibrated on real images) or float16 (float32 input/output); default float32
  --calibration-data DIR  int8: calibrate on the images under DIR (default: --data; better a training split)
  --calibration-images N  int8: calibrate on N of those images, evenly spread (default 256)
  --calibration minmax|percentile  int8: activation range from the min/max (default) or the 99.99th percentiles
  --int8-placement K=V[,K=V]  int8: which kinds of node stay float, e.g. depthwiseConv=float,stemConv=int8 (keys
                       depthwiseConv, stemConv (int8|float|auto), add, globalAveragePool; values int8|float); default
                       all int8 (measured; a float node inside breaks the C++ example's 1e-3 agreement now and then)

verify flags:
  --data DIR           images to verify on (any folder; searched recursively for .jpg/.jpeg/.png/.webp)
  --images N           use at most N images, evenly spread over the sorted list (default 256)
  --min-images N       fail with fewer readable images (default 64)
  --tolerance X        largest allowed |onnx - tfjs| (default 1e-4; fp16 1e-2; int8 0.25)
  --max-mae-change X   largest allowed |MAE(onnx) - MAE(tfjs)| in years on the images of --data with known ages (default 0.1)
  --cpp                also build the C++ example (g++ + OpenCV) and compare it with onnxruntime (tolerance 1e-3; fp16 1e-2)
  --backend NAME       tfjs backend of the reference: cpu (default, exact) | wasm | auto
  --json               print the result as JSON on stdout
  --help

exit codes: 0 ok, 1 failed (including a failed verification), 2 bad usage`;

const OPTIONS = {
  model: { type: 'string' },
  out: { type: 'string' },
  bundle: { type: 'string' },
  data: { type: 'string' },
  layout: { type: 'string' },
  quantize: { type: 'string' },
  'calibration-images': { type: 'string' },
  'calibration-data': { type: 'string' },
  calibration: { type: 'string' },
  'int8-placement': { type: 'string' },
  'max-mae-change': { type: 'string' },
  'no-verify': { type: 'boolean' },
  force: { type: 'boolean' },
  images: { type: 'string' },
  'min-images': { type: 'string' },
  tolerance: { type: 'string' },
  cpp: { type: 'boolean' },
  backend: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

export interface ExporterIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: ExporterIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function positiveNumber(flags: Flags, name: 'images' | 'min-images' | 'tolerance' | 'calibration-images' | 'max-mae-change', fallback: number, integer: boolean): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0) || (integer && !Number.isInteger(value))) throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'} (got '${raw}')`);
  return value;
}

function required(flags: Flags, name: 'model' | 'out' | 'bundle' | 'data'): string {
  const value = flags[name];
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

/** Image files under `root` (never leaving it, links looped back skipped), sorted, at most `limit`, evenly spread. */
export async function listImages(root: string, limit: number): Promise<string[]> {
  if (!existsSync(root)) throw new InputError(`${root}: no such folder`);
  const { files } = await listImageFiles(root, { extensions: IMAGE_EXTENSIONS, maxDepth: Infinity }).catch((error: Error) => {
    throw new InputError(`${root}: ${error.message}`);
  });
  if (files.length <= limit) return files;
  return Array.from({ length: limit }, (_, i) => files[Math.floor((i * files.length) / limit)]);
}

function progress(io: ExporterIo, label: string): (done: number, total: number) => void {
  let last = -1;
  return (done, total) => {
    const step = Math.floor((done / total) * 4);
    if (step !== last || done === total) {
      last = step;
      io.err(`${label}: ${done}/${total}`);
    }
  };
}

/** True ages of `images` where the dataset under `root` gives them (NaN elsewhere); none when it is not a labelled dataset. */
async function agesOf(root: string, images: string[]): Promise<number[]> {
  try {
    const { records } = await readDataset(root);
    const byFile = new Map(records.map((r) => [resolve(r.file), r.age ?? Number.NaN]));
    return images.map((f) => byFile.get(resolve(f)) ?? Number.NaN);
  } catch {
    return images.map(() => Number.NaN);
  }
}

/** --int8-placement depthwiseConv=float,stemConv=int8: keys and values checked against the library's list. */
function placementFlag(text: string): Partial<Int8Placement> {
  const placement: Record<string, string> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [key, value] = pair.split('=');
    const choices = (INT8_PLACEMENT_CHOICES as Record<string, readonly string[]>)[key];
    if (!choices) throw new UsageError(`--int8-placement: unknown key '${key}' (one of ${Object.keys(INT8_PLACEMENT_CHOICES).join(', ')})`);
    if (!choices.includes(value)) throw new UsageError(`--int8-placement: ${key} must be ${choices.join(' or ')} (got '${value ?? ''}')`);
    placement[key] = value;
  }
  return placement as Partial<Int8Placement>;
}

const FORMATS: Record<string, ModelFormat> = { int8: 'int8', fp16: 'float16', float16: 'float16', fp32: 'float32', float32: 'float32' };

async function runVerification(flags: Flags, bundle: Bundle, modelDir: string, io: ExporterIo): Promise<BundleVerification> {
  const images = await listImages(resolve(required(flags, 'data')), positiveNumber(flags, 'images', 256, true));
  const backend = (flags.backend ?? 'cpu') as BackendChoice;
  if (!['cpu', 'wasm', 'auto'].includes(backend)) throw new UsageError(`--backend must be cpu, wasm or auto (got '${backend}')`);
  const info = await initBackend({ backend });
  io.err(`tfjs backend: ${info.name} (${info.reason})`);
  const { model } = await loadModel(modelDir);
  io.err(`verifying ${bundle.onnxPath} against ${modelDir} on ${images.length} images`);
  const ages = await agesOf(required(flags, 'data'), images);
  const report = await verifyBundle({
    bundle,
    model,
    images,
    ages: ages.some(Number.isFinite) ? ages : undefined,
    maxMaeChange: positiveNumber(flags, 'max-mae-change', 0.1, false),
    tolerance: flags.tolerance === undefined ? undefined : positiveNumber(flags, 'tolerance', 1e-4, false),
    minImages: positiveNumber(flags, 'min-images', 64, true),
    cpp: Boolean(flags.cpp),
    onProgress: progress(io, 'verify'),
  });
  model.dispose();
  const t = report.tfjs;
  io.err(`onnxruntime vs tfjs (${t.backend}): ${t.images} images, max |diff| = ${t.maxAbsDiff.toExponential(3)}, mean ${t.meanAbsDiff.toExponential(3)}, ` + `arg-max agreement ${(t.argmaxAgreement * 100).toFixed(1)}% -> ${t.passed ? 'ok' : `FAILED: ${t.failure}`}`);
  if (t.mae) io.err(`MAE on ${t.mae.images} labelled images: tfjs ${t.mae.reference.toFixed(3)}, onnx ${t.mae.onnx.toFixed(3)} (change ${t.mae.change.toFixed(3)} years)`);
  for (const p of t.problems) io.err(`  unreadable image ${p.file}: ${p.reason}`);
  io.err(`onnx checker: ${report.checker.status}: ${report.checker.message}`);
  if (report.cpp) io.err(`C++ example vs onnxruntime: ${report.cpp.status}: ${report.cpp.message}`);
  return report;
}

function summary(report: BundleVerification | undefined): Record<string, unknown> | undefined {
  if (!report) return undefined;
  return { passed: report.passed, tfjs: report.tfjs, checker: report.checker, cpp: report.cpp };
}

async function exportCommand(flags: Flags, io: ExporterIo): Promise<number> {
  const modelDir = resolve(required(flags, 'model'));
  const out = resolve(required(flags, 'out'));
  const layout = (flags.layout ?? 'NCHW').toUpperCase();
  if (layout !== 'NCHW' && layout !== 'NHWC') throw new UsageError(`--layout must be NCHW or NHWC (got '${flags.layout}')`);
  if (!flags['no-verify'] && !flags.data) throw new UsageError('--data is required to verify the export (or pass --no-verify)');
  const data = flags.data ? resolve(flags.data) : undefined;
  if (data && !existsSync(data)) throw new InputError(`${data}: no such folder (--data)`);
  const format = FORMATS[(flags.quantize ?? 'float32').toLowerCase()];
  if (!format) throw new UsageError(`--quantize must be int8 or fp16 (got '${flags.quantize}')`);
  const method = (flags.calibration ?? 'minmax') as CalibrationMethod;
  if (method !== 'minmax' && method !== 'percentile') throw new UsageError(`--calibration must be minmax or percentile (got '${flags.calibration}')`);
  if (format === 'int8' && !flags.data && !flags['calibration-data']) throw new UsageError('--quantize int8 calibrates on images: pass --calibration-data or --data');
  const calibrationData = format === 'int8' ? resolve(flags['calibration-data'] ?? required(flags, 'data')) : undefined;
  const int8Placement = flags['int8-placement'] === undefined ? undefined : placementFlag(flags['int8-placement']);
  // the bundle is written to a temporary folder and renamed into place only once verified; an existing --out is
  // replaced only when it is a previous bundle and --force is given, so a user's folder is never emptied
  const outputs = await StageOutputs.begin({
    inputs: [modelDir, data, calibrationData],
    folders: [
      {
        path: out,
        replaceable: (existing) => Boolean(flags.force) && isBundleFolder(existing),
        refusal: isBundleFolder(out)
          ? 'holds a bundle already: pass --force to replace it'
          : `is not empty and is not a bundle (only ${BUNDLE_ENTRIES.join(', ')}): refusing to replace it`,
      },
    ],
  });
  try {
    await initBackend({ backend: (flags.backend ?? 'cpu') as BackendChoice });
    const { model, metadata } = await loadModel(modelDir);
    const calibration = calibrationData
      ? { images: await listImages(calibrationData, positiveNumber(flags, 'calibration-images', 256, true)), method, onProgress: progress(io, 'calibrate') }
      : undefined;
    const { bundle, converted } = await exportBundle({
      model,
      description: describeAgekitModel(metadata),
      out: outputs.path(out),
      inputLayout: layout as InputLayout,
      sourceModel: modelDir,
      format,
      calibration,
      int8Placement,
    });
    model.dispose();
    const ops = Object.entries(converted.opCounts)
      .map(([op, n]) => `${op} x${n}`)
      .join(', ');
    io.err(`converted ${metadata.architecture} (${metadata.task.kind}): ONNX opset ${converted.opset}, ${format}, ${ops}`);
    const q = bundle.manifest.quantization;
    if (q) io.err(`int8: calibrated on ${q.calibrationImages} images (${q.method}); placement ${JSON.stringify(q.placement)}; int8 ops ${JSON.stringify(q.int8Ops)}, float ops ${JSON.stringify(q.floatOps)}`);
    if (converted.foldedBatchNorms.length) io.err(`folded batch norms: ${converted.foldedBatchNorms.join(', ')}`);
    if (converted.removedLayers.length) io.err(`removed (identity at inference): ${converted.removedLayers.join(', ')}`);
    let report: BundleVerification | undefined;
    if (flags['no-verify']) io.err('warning: --no-verify: the bundle was NOT verified');
    else report = await runVerification(flags, bundle, modelDir, io);
    const ok = !report || report.passed;
    if (ok) await outputs.commit();
    if (flags.json) io.out(JSON.stringify({ command: 'export', bundle: out, ok, verification: summary(report) }));
    else io.out(ok ? `export ok: ${out}` : `export FAILED verification: nothing written to ${out}`);
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    await outputs.abort(); // nothing once committed; else the unverified bundle goes and --out stays as it was
  }
}

async function verifyCommand(flags: Flags, io: ExporterIo): Promise<number> {
  const bundle = readBundle(required(flags, 'bundle'));
  required(flags, 'data');
  const modelDir = flags.model ?? bundle.manifest.sourceModel;
  if (!modelDir) throw new UsageError('the bundle does not name its source model: pass --model DIR');
  const report = await runVerification(flags, bundle, modelDir, io);
  if (flags.json) io.out(JSON.stringify({ command: 'verify', bundle: bundle.dir, ok: report.passed, verification: summary(report) }));
  else io.out(report.passed ? `verify ok: ${bundle.dir}` : `verify FAILED: ${bundle.dir}`);
  return report.passed ? EXIT.ok : EXIT.failed;
}

/** Run the exporter with argv (without node and script); returns the exit code. */
export async function runExporter(argv: string[], io: ExporterIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  if (!command) {
    io.err(USAGE);
    return EXIT.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return EXIT.ok;
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
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}
