import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '@agekit/dataset';
import { INT8_PLACEMENT_CHOICES, type Int8Placement } from '@agekit/onnx';

export const USAGE = `agekit-exporter: tfjs age model -> verified ONNX bundle for C++ (OpenCV dnn / ONNX Runtime)

usage:
  agekit-exporter --version
  agekit-exporter export --model DIR --out DIR --data DIR [--layout NCHW|NHWC] [--quantize int8|fp16] [--flip] [--force] [--no-verify] [verify flags]
  agekit-exporter verify --bundle DIR --data DIR [--model DIR] [verify flags]

export   convert the model saved by 'agekit-trainer train' (model.json + weights.bin + agekit-model.json) and write
         model.onnx, preprocess.json, labels.json, bundle.json, README.md and cpp/ (main.cpp, CMakeLists.txt) to --out;
         then verify it (unless --no-verify). The bundle is written to a temporary folder beside --out and moved there
         only once verified. --out must be new, empty, or (with --force) a previous bundle; it may not be inside --model
         or --data, nor hold them.
verify   re-run the verification of a bundle: onnxruntime vs the tfjs model (--model, default: the bundle's source model)
         on the images under --data, and onnx.checker (python3-onnx) when present.

export flags:
  --flip               test-time flip inside model.onnx: each output is the mean for the image and its left-right mirror
                       (one batch of 2N through the network; about twice the inference time)
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
  --tolerance X        largest allowed |onnx - tfjs| (default 1e-4; fp16 1e-2; int8 0.25, int8 regression 5 years)
  --max-mae-change X   largest allowed |MAE(onnx) - MAE(tfjs)| in years on the images of --data with known ages (default 0.1)
  --cpp                also build the C++ example (g++ + OpenCV) and compare it with onnxruntime (tolerance 1e-3; fp16 1e-2)
  --backend NAME       tfjs backend of the reference: cpu (default, exact) | wasm | auto
  --json               print the result as JSON on stdout
  --help

exit codes: 0 ok, 1 failed (including a failed verification), 2 bad usage`;

export const OPTIONS = {
  ...{ model: { type: 'string' }, out: { type: 'string' }, bundle: { type: 'string' }, data: { type: 'string' }, layout: { type: 'string' }, quantize: { type: 'string' } },
  ...{ 'calibration-images': { type: 'string' }, 'calibration-data': { type: 'string' }, calibration: { type: 'string' }, 'int8-placement': { type: 'string' }, 'max-mae-change': { type: 'string' } },
  ...{ 'no-verify': { type: 'boolean' }, force: { type: 'boolean' }, images: { type: 'string' }, 'min-images': { type: 'string' }, tolerance: { type: 'string' } },
  ...{ flip: { type: 'boolean' }, cpp: { type: 'boolean' }, backend: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
} satisfies ParseArgsConfig['options'];

export type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

export function positiveNumber(flags: Flags, name: 'images' | 'min-images' | 'tolerance' | 'calibration-images' | 'max-mae-change', fallback: number, integer: boolean): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0) || (integer && !Number.isInteger(value))) throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'} (got '${raw}')`);
  return value;
}

export function required(flags: Flags, name: 'model' | 'out' | 'bundle' | 'data'): string {
  if (!flags[name]) throw new UsageError(`--${name} is required`);
  return flags[name];
}


/** --int8-placement depthwiseConv=float,stemConv=int8: keys and values checked against the library's list. */
export function placementFlag(text: string | undefined): Partial<Int8Placement> | undefined {
  if (text === undefined) return undefined;
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
