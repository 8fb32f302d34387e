import type * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { convertLayersModel, type ConvertResult, type InputLayout } from './convert';
import { CPP_CMAKELISTS, CPP_MAIN, buildCppExample, findCppToolchain, runCppExample } from './cpp';
import { normalizePixels, readImagePixels, validatePreprocessSpec, writePresizedImage, type PreprocessSpec, type ResizeKernel } from './preprocess';
import { checkWithPythonOnnx, createOnnxSession, runOnnx, verifyAgainstTfjs, type CheckerReport, type CountCallback, type VerifyReport } from './verify';
import { convertToFloat16, quantizeInt8, type CalibrationMethod, type Int8Placement, type ModelFormat, type QuantizeInt8Report } from './quantize';

/** Largest |onnx - tfjs| allowed by default per model format (float16 rounds every value to 11 bits, int8 to 256 levels). */
export const DEFAULT_TOLERANCE: Record<ModelFormat, number> = { float32: 1e-4, float16: 1e-2, int8: 0.25 };
/**
 * Largest |onnx - tfjs| of an int8 regression output, in years, on any one image. int8 rounding accumulates over the
 * layers: on the UTKFace transfer model (20-50) the mean |diff| was 0.25 years and the largest 4.5 years (1 of 1,000
 * test images) while the MAE moved by 0.002 years; so this bound only catches a broken graph, and the accuracy criterion
 * of a quantized bundle is the MAE change (--max-mae-change, 0.1 years). (The raw-output 0.25 of probabilities was
 * 2.2 years on that model's standardized output and failed every int8 export of it.)
 */
export const INT8_REGRESSION_TOLERANCE_YEARS = 5;

/** The default largest |onnx - tfjs| of a bundle: DEFAULT_TOLERANCE of its format, int8 regression in years (above). */
export function defaultTolerance(format: ModelFormat, labels: LabelsSpec): number {
  if (format === 'int8' && labels.task === 'regression') return INT8_REGRESSION_TOLERANCE_YEARS / Math.abs(labels.regression?.scale ?? 1);
  return DEFAULT_TOLERANCE[format];
}
/** Largest |C++ - onnxruntime| allowed by default per format (OpenCV's int8 kernels matched onnxruntime's to 6e-8 on UTKFace). */
export const DEFAULT_CPP_TOLERANCE: Record<ModelFormat, number> = { float32: 1e-3, float16: 1e-2, int8: 1e-3 };

/** What the exporter needs to know about a trained model besides its layers (filled from @agekit/model's metadata by the app). */
export interface ExportModelDescription {
  /** Free-form name shown in the README (e.g. the architecture). */
  name: string;
  task: 'classification' | 'regression';
  /** Classification: one name per output (e.g. '20' or '20-29'). */
  labels: string[];
  /** Classification: the age each output stands for (expected age = sum p_k * labelAges[k]). */
  labelAges: number[];
  /** Regression: age = output * scale + offset. */
  regression?: { scale: number; offset: number };
  /** Input size and normalisation: value = (pixel * scale - mean[c]) / std[c]. */
  input: {
    width: number;
    height: number;
    channels: 1 | 3;
    resize: ResizeKernel;
    scale: number;
    mean: number[];
    std: number[];
  };
}

/** labels.json */
export interface LabelsSpec {
  task: 'classification' | 'regression';
  outputName: string;
  /** `age` is absent when the label has no representative age (then no expected age can be computed). JSON null is avoided: OpenCV's FileStorage cannot parse it. */
  labels: Array<{ index: number; name: string; age?: number }>;
  regression?: { scale: number; offset: number };
  /** How to turn the output into an age, in words. */
  expectedAge: string;
}

/** bundle.json: what was exported and how. */
export interface BundleManifest {
  format: 'agekit-onnx-bundle';
  version: 1;
  modelName: string;
  /** Directory of the tfjs model this bundle came from, when known (verify uses it by default). */
  sourceModel?: string;
  opset: number;
  irVersion: number;
  opCounts: Record<string, number>;
  foldedBatchNorms: string[];
  removedLayers: string[];
  /** Number format of model.onnx (absent in bundles written before quantization existed: float32). */
  modelFormat?: ModelFormat;
  /** int8: how the activations were calibrated and which ops run in int8. */
  quantization?: QuantizeInt8Report;
  /** model.onnx averages each output over the image and its left-right mirror (test-time flip). */
  testTimeFlip?: boolean;
}

export interface Bundle {
  dir: string;
  onnxPath: string;
  preprocess: PreprocessSpec;
  labels: LabelsSpec;
  manifest: BundleManifest;
}

export interface WriteBundleOptions {
  model: tf.LayersModel;
  description: ExportModelDescription;
  /** Folder to write the bundle into (created; the caller stages it, see writeBundle). */
  out: string;
  inputLayout?: InputLayout;
  sourceModel?: string;
  /** Number format of model.onnx (default float32); int8 needs `calibration` and `exportBundle`. */
  format?: ModelFormat;
  /** int8: images to calibrate the activation ranges on (preprocessed as the bundle says). */
  calibration?: { images: string[]; method?: CalibrationMethod; percentile?: number; onProgress?: CountCallback };
  /** int8: which kinds of node stay in float (default DEFAULT_INT8_PLACEMENT, measured). */
  int8Placement?: Partial<Int8Placement>;
  /** Test-time flip inside model.onnx (convert's `testTimeFlip`): each output is the mean for the image and its mirror. */
  testTimeFlip?: boolean;
}

export function describeLabels(description: ExportModelDescription, outputName: string): LabelsSpec {
  if (description.task === 'classification') {
    if (description.labels.length !== description.labelAges.length) throw new Error(`labels (${description.labels.length}) and labelAges (${description.labelAges.length}) differ in length`);
    const known = description.labelAges.every((a) => Number.isFinite(a));
    return {
      task: 'classification',
      outputName,
      labels: description.labels.map((name, index) => (Number.isFinite(description.labelAges[index]) ? { index, name, age: description.labelAges[index] } : { index, name })),
      expectedAge: known
        ? 'output is a probability per label (softmax, sums to 1); expected age = sum_k output[k] * labels[k].age; predicted label = argmax_k output[k]'
        : 'output is a probability per label (softmax, sums to 1); predicted label = argmax_k output[k]; the labels have no representative ages, so no expected age',
    };
  }
  const regression = description.regression ?? { scale: 1, offset: 0 };
  return { task: 'regression', outputName, labels: [], regression, expectedAge: `age in years = output[0] * ${regression.scale} + ${regression.offset}` };
}

function formatNotes(format: ModelFormat): string[] {
  if (format === 'float16') {
    return [
      '## Number format: float16',
      'Weights and activations are float16; the input and output stay float32 (a Cast at each edge), so the code below is unchanged.',
      'The file is half the float32 size. OpenCV 4.6 (Debian bookworm) cannot read float16 weights (`Unsupported data type: FLOAT16`):',
      'build cpp/main.cpp with ONNX Runtime (-DAGEKIT_WITH_ONNXRUNTIME, see its header; it then runs float16 bundles with it) or use a',
      'float32/int8 bundle there. ONNX Runtime on x86 CPUs computes most float16 ops by casting to float32, so float16 saves space,',
      'not time, on such CPUs.',
      '',
    ];
  }
  if (format === 'int8') {
    return [
      '## Number format: int8',
      'Convolutions and dense layers are QLinearConv / QLinearMatMul (int8 weights, one scale per output channel; uint8 activations',
      'whose ranges were calibrated on real images); residual Adds and the global average pool are QLinearAdd / QLinearGlobalAveragePool',
      '(com.microsoft domain); bundle.json (quantization.placement) says which kinds of node were left in float, if any.',
      'QuantizeLinear/DequantizeLinear convert at the edges of the int8 parts. The input',
      'and output are float32 as before, so the preprocessing and post-processing below are unchanged. Needs OpenCV >= 4.6 (it imports',
      'this QOperator form; quantized values are named `X_quantized` with `X_scale`/`X_zero_point`, as its importer expects) or',
      'ONNX Runtime >= 1.8. Outputs differ from the float model by the quantization error (bundle.json names what runs in int8; the',
      "export's verification reports the change of MAE); OpenCV's int8 kernels agree with ONNX Runtime's (checked to 1e-3).",
      'Speed: ONNX Runtime runs int8 faster than float on x86 with VNNI; OpenCV 4.6 ran it no faster than float (about equal for a',
      '64 px squeezenet, slower for the Xception transfer model), so with OpenCV the gain is the 3.5-4x smaller file, not time.',
      '',
    ];
  }
  return [];
}

function readme(description: ExportModelDescription, pre: PreprocessSpec, labels: LabelsSpec, converted: ConvertResult, format: ModelFormat = 'float32'): string {
  const shape = pre.inputShape.join(' x ');
  const colour =
    pre.channels === 1
      ? 'then convert the resized colour image to gray (1 channel) with cv::cvtColor(BGR2GRAY) rounding'
      : 'RGB order (3 channels; OpenCV decodes BGR: convert with cv::COLOR_BGR2RGB)';
  const post =
    labels.task === 'classification'
      ? [
          `The output \`${labels.outputName}\` has shape N x ${labels.labels.length}: probabilities (softmax) over the labels in \`labels.json\`.`,
          '- predicted label: `argmax_k p[k]` -> `labels[k].name`;',
          '- expected age (the figure to report): `sum_k p[k] * labels[k].age`.',
        ]
      : [`The output \`${labels.outputName}\` has shape N x 1; age in years = \`output * ${labels.regression?.scale} + ${labels.regression?.offset}\`.`];
  return [
    `# ${description.name} age model (ONNX bundle)`,
    '',
    'Made by `@agekit/onnx` from a tfjs Layers model. `agekit-exporter export` (unless run with --no-verify) and `agekit-exporter verify`',
    `check that onnxruntime and tfjs agree within ${defaultTolerance(format, labels)} on real images` +
      (format === 'float32' ? '' : ' and that the MAE on labelled images changes by at most 0.1 years') +
      ', and (`--cpp`) that the C++ example',
    `below agrees with onnxruntime within ${DEFAULT_CPP_TOLERANCE[format]} on every output.`,
    '',
    '## Files',
    '- `model.onnx`: the network (ONNX opset ' + converted.opset + ', IR version ' + converted.irVersion + `, ${format}, dynamic batch).`,
    '- `preprocess.json`: input size, resize, colour order, value range, mean/std, layout (read by the example with `cv::FileStorage`).',
    '- `labels.json`: output index -> label and its age; how to compute the expected age.',
    '- `cpp/main.cpp`, `cpp/CMakeLists.txt`: a complete example with OpenCV\'s dnn module.',
    '- `bundle.json`: what the converter did (ops, folded batch norms, removed layers).',
    '',
    ...formatNotes(format),
    '## 1. Load',
    '```cpp',
    'cv::dnn::Net net = cv::dnn::readNetFromONNX("model.onnx");   // OpenCV >= 4.5 (Debian: libopencv-dev)',
    '```',
    `ONNX Runtime works as well: input \`${pre.inputName}\`, output \`${pre.outputName}\`.`,
    '',
    '## 2. Preprocess (must match exactly)',
    '1. Decode the image in colour (apply EXIF orientation; `cv::imread` does).',
    `2. Resize the whole image to exactly ${pre.width} x ${pre.height} (width x height), no crop, no padding. The model was fed images resized by`,
    `   sharp/libvips (\`${pre.resize.method}\` kernel, from the fully decoded image); OpenCV's \`cv::INTER_AREA\` (shrinking) is the closest filter.`,
    '   A different resize filter changes predictions slightly; for bit-identical inputs resize beforehand to the exact size (the example then',
    '   skips its resize): that is how the export test compares C++ with onnxruntime.',
    `3. Colour: ${colour}.`,
    `4. Pixel values are in [${pre.valueRange.join(', ')}]. For each channel c: \`value = (pixel * ${pre.scale} - mean[c]) / std[c]\` with`,
    `   mean = [${pre.mean.join(', ')}], std = [${pre.std.join(', ')}].`,
    `5. Layout ${pre.layout}: the input tensor \`${pre.inputName}\` has shape ${shape} (N = batch).` +
      (pre.layout === 'NCHW' ? ' `cv::dnn::blobFromImage(floatImage)` makes it.' : ' A continuous HxWxC float cv::Mat is already NHWC.'),
    '',
    '## 3. Run',
    '```cpp',
    'net.setInput(blob);',
    'cv::Mat out = net.forward();   // N x outputs, float32',
    '```',
    '',
    '## 4. Post-process',
    ...post,
    '',
    '## Build and run the example',
    '```sh',
    'cd cpp',
    'g++ -O2 -std=c++17 main.cpp -o agekit_predict $(pkg-config --cflags --libs opencv4)',
    '# or: cmake -S . -B build && cmake --build build',
    './agekit_predict .. face1.jpg face2.png',
    '```',
    'Each line: file, predicted label, expected age, then the raw outputs. A file that cannot be read is reported on stderr and',
    'the exit status is 1; the other files are still processed.',
    '',
  ].join('\n');
}

interface PreparedBundle {
  converted: ConvertResult;
  preprocess: PreprocessSpec;
  labels: LabelsSpec;
  manifest: BundleManifest;
}

function prepareBundle(options: WriteBundleOptions): PreparedBundle {
  const d = options.description;
  const layout = options.inputLayout ?? 'NCHW';
  const converted = convertLayersModel(options.model, { inputLayout: layout, docString: `${d.name} age model (${d.task})`, metadata: { task: d.task }, testTimeFlip: options.testTimeFlip });
  const [, h, w, c] = options.model.inputs[0].shape;
  if (h !== d.input.height || w !== d.input.width || c !== d.input.channels) {
    throw new Error(`the model input [${h}, ${w}, ${c}] does not match the description ${d.input.height}x${d.input.width}x${d.input.channels}`);
  }
  const preprocess: PreprocessSpec = {
    width: d.input.width,
    height: d.input.height,
    channels: d.input.channels,
    colorOrder: d.input.channels === 1 ? 'GRAY' : 'RGB',
    resize: { method: d.input.resize, fit: 'fill', library: 'sharp' },
    valueRange: [0, 255],
    scale: d.input.scale,
    mean: d.input.mean,
    std: d.input.std,
    layout,
    inputName: converted.inputName,
    outputName: converted.outputNames[0],
    inputShape: converted.inputDims,
    modelFormat: options.format ?? 'float32',
  };
  validatePreprocessSpec(preprocess);
  const labels = describeLabels(d, converted.outputNames[0]);
  const outSize = converted.outputDims[0][1];
  if (d.task === 'classification' && outSize !== labels.labels.length) throw new Error(`the model has ${outSize} outputs but ${labels.labels.length} labels`);
  const manifest: BundleManifest = {
    format: 'agekit-onnx-bundle',
    version: 1,
    modelName: d.name,
    sourceModel: options.sourceModel ? resolve(options.sourceModel) : undefined,
    opset: converted.opset,
    irVersion: converted.irVersion,
    opCounts: converted.opCounts,
    foldedBatchNorms: converted.foldedBatchNorms,
    removedLayers: converted.removedLayers,
    modelFormat: options.format ?? 'float32',
    ...(options.testTimeFlip ? { testTimeFlip: true } : {}),
  };
  return { converted, preprocess, labels, manifest };
}

function writeBundleFiles(options: WriteBundleOptions, prepared: PreparedBundle, bytes: Uint8Array): Bundle {
  const { converted, preprocess, labels, manifest } = prepared;
  const format = manifest.modelFormat ?? 'float32';
  // written straight into `out`: the caller stages it (the exporter writes to a temporary folder, verifies it, and
  // only then renames it into place; see @agekit/dataset's StageOutputs)
  const out = resolve(options.out);
  mkdirSync(join(out, 'cpp'), { recursive: true });
  writeFileSync(join(out, 'model.onnx'), bytes);
  writeFileSync(join(out, 'preprocess.json'), JSON.stringify(preprocess, null, 2) + '\n');
  writeFileSync(join(out, 'labels.json'), JSON.stringify(labels, null, 2) + '\n');
  writeFileSync(join(out, 'bundle.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(join(out, 'README.md'), readme(options.description, preprocess, labels, converted, format));
  writeFileSync(join(out, 'cpp', 'main.cpp'), CPP_MAIN);
  writeFileSync(join(out, 'cpp', 'CMakeLists.txt'), CPP_CMAKELISTS);
  return { dir: out, onnxPath: join(out, 'model.onnx'), preprocess, labels, manifest };
}

/**
 * Convert the model and write the bundle directory (model.onnx, preprocess.json, labels.json, bundle.json, README.md, cpp/),
 * in float32 or float16; int8 calibrates on images and is asynchronous: use exportBundle.
 */
export function writeBundle(options: WriteBundleOptions): { bundle: Bundle; converted: ConvertResult } {
  if (options.format === 'int8') throw new Error('writeBundle: int8 needs calibration images: use exportBundle');
  const prepared = prepareBundle(options);
  const bytes = options.format === 'float16' ? convertToFloat16(prepared.converted.bytes) : prepared.converted.bytes;
  return { bundle: writeBundleFiles(options, prepared, bytes), converted: prepared.converted };
}

/** writeBundle for every format: int8 first calibrates the activation ranges on `calibration.images`. */
export async function exportBundle(options: WriteBundleOptions): Promise<{ bundle: Bundle; converted: ConvertResult }> {
  if (options.format !== 'int8') return writeBundle(options);
  const calibration = options.calibration;
  if (!calibration || calibration.images.length === 0) throw new Error('int8 export: calibration images are required');
  const prepared = prepareBundle(options);
  const spec = prepared.preprocess;
  const per = spec.width * spec.height * spec.channels;
  const decoded: Float32Array[] = [];
  for (const file of calibration.images) {
    try {
      decoded.push(normalizePixels(await readImagePixels(file, spec), spec));
    } catch {
      // an unreadable image only leaves the calibration set
    }
  }
  if (decoded.length === 0) throw new Error('int8 export: none of the calibration images could be read');
  const images = new Float32Array(decoded.length * per);
  decoded.forEach((d, i) => images.set(d, i * per));
  const { bytes, report } = await quantizeInt8(prepared.converted.bytes, {
    calibration: { images, imageShape: [spec.height, spec.width, spec.channels], spec },
    method: calibration.method,
    percentile: calibration.percentile,
    placement: options.int8Placement,
    onProgress: calibration.onProgress,
  });
  prepared.manifest.quantization = report;
  return { bundle: writeBundleFiles(options, prepared, bytes), converted: prepared.converted };
}

function readJson<T>(file: string): T {
  if (!existsSync(file)) throw new Error(`${file}: missing (not an agekit bundle?)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** What a bundle folder holds (writeBundle's files); nothing else. */
export const BUNDLE_ENTRIES: readonly string[] = ['model.onnx', 'preprocess.json', 'labels.json', 'bundle.json', 'README.md', 'cpp'];

/**
 * True when `dir` holds an agekit bundle and nothing else (its bundle.json says so, and every entry is a bundle
 * file), so replacing it loses none of a user's files.
 */
export function isBundleFolder(dir: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as { format?: string };
    return manifest.format === 'agekit-onnx-bundle' && readdirSync(dir).every((name) => BUNDLE_ENTRIES.includes(name));
  } catch {
    return false;
  }
}

export function readBundle(dir: string): Bundle {
  const root = resolve(dir);
  const onnxPath = join(root, 'model.onnx');
  if (!existsSync(onnxPath)) throw new Error(`${onnxPath}: missing (not an agekit bundle?)`);
  const preprocess = readJson<PreprocessSpec>(join(root, 'preprocess.json'));
  try {
    validatePreprocessSpec(preprocess);
  } catch (error) {
    throw new Error(`${join(root, 'preprocess.json')}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { dir: root, onnxPath, preprocess, labels: readJson<LabelsSpec>(join(root, 'labels.json')), manifest: readJson<BundleManifest>(join(root, 'bundle.json')) };
}

export interface CppComparison {
  status: 'passed' | 'failed' | 'skipped';
  message: string;
  images: number;
  maxAbsDiff: number;
  tolerance: number;
  /** Images whose predicted label differs between the C++ program and onnxruntime. */
  labelMismatches: number;
}

/**
 * Build the bundle's C++ example, run it and onnxruntime on the same pre-sized PNGs (resized once with sharp to the exact
 * input size, so both sides decode identical pixels) and compare the outputs. Skipped (not passed) without g++/OpenCV.
 */
export async function compareCppWithOnnx(options: {
  bundle: Bundle;
  images: string[];
  tolerance?: number;
  workDir?: string;
  /** A binary already built from this package's CPP_MAIN (skips the compile). */
  binary?: string;
}): Promise<CppComparison> {
  const tolerance = options.tolerance ?? 1e-3;
  const { bundle } = options;
  const found = findCppToolchain();
  if (!options.binary && !found.ok) return { status: 'skipped', message: `skipped: ${found.reason}`, images: 0, maxAbsDiff: Number.NaN, tolerance, labelMismatches: 0 };
  const work = options.workDir ?? mkdtempSync(join(tmpdir(), 'agekit-cpp-'));
  const ownsWork = options.workDir === undefined;
  try {
    let binary = options.binary;
    if (!binary) {
      if (!found.ok) throw new Error(found.reason);
      binary = join(work, 'agekit_predict');
      buildCppExample(join(bundle.dir, 'cpp'), binary, found.toolchain);
    }
    const spec = bundle.preprocess;
    const presized: string[] = [];
    for (const [i, file] of options.images.entries()) {
      const target = join(work, `img_${String(i).padStart(4, '0')}.png`);
      try {
        await writePresizedImage(file, spec, target);
        presized.push(target);
      } catch {
        // unreadable image: left out on both sides
      }
    }
    const cpp = runCppExample(binary, bundle.dir, presized);
    if (cpp.errors.some((e) => e.includes('FLOAT16'))) {
      // Not a disagreement: this OpenCV cannot load float16 weights at all (README: use ONNX Runtime for float16 bundles).
      const hint = 'build the example with ONNX Runtime (set ONNXRUNTIME_DIR, or ONNXRUNTIME_INCLUDE_DIR) to check float16';
      return { status: 'skipped', message: `skipped: this OpenCV cannot read float16 weights; ${hint} (${cpp.errors[0].slice(0, 160)})`, images: 0, maxAbsDiff: Number.NaN, tolerance, labelMismatches: 0 };
    }
    if (cpp.errors.length) return { status: 'failed', message: `C++ example failed: ${cpp.errors.slice(0, 3).join('; ')}`, images: cpp.predictions.length, maxAbsDiff: Number.NaN, tolerance, labelMismatches: 0 };
    if (cpp.predictions.length !== presized.length) {
      return { status: 'failed', message: `C++ example printed ${cpp.predictions.length} predictions for ${presized.length} images`, images: cpp.predictions.length, maxAbsDiff: Number.NaN, tolerance, labelMismatches: 0 };
    }
    const session = await createOnnxSession(bundle.onnxPath);
    let maxAbsDiff = 0;
    let labelMismatches = 0;
    try {
      for (const [i, file] of presized.entries()) {
        const x = normalizePixels(await readImagePixels(file, spec), spec);
        const { data } = await runOnnx(session, x, [1, spec.height, spec.width, spec.channels], spec);
        const row = cpp.predictions[i];
        if (row.outputs.length !== data.length) throw new Error(`C++ printed ${row.outputs.length} outputs, onnxruntime gave ${data.length}`);
        let best = 0;
        for (let k = 0; k < data.length; k++) {
          const d = Math.abs(data[k] - row.outputs[k]);
          maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbsDiff, d);
          if (data[k] > data[best]) best = k;
        }
        const expectedLabel = bundle.labels.task === 'classification' ? bundle.labels.labels[best]?.name : undefined;
        if (expectedLabel !== undefined && expectedLabel !== row.label) labelMismatches++;
      }
    } finally {
      await session.release();
    }
    const passed = maxAbsDiff <= tolerance;
    return {
      status: passed ? 'passed' : 'failed',
      message: `${presized.length} images (C++ engine: ${cpp.engine ?? 'opencv'}): largest |C++ - onnxruntime| = ${maxAbsDiff.toExponential(3)} (tolerance ${tolerance}), ${labelMismatches} label mismatches`,
      images: presized.length,
      maxAbsDiff,
      tolerance,
      labelMismatches,
    };
  } finally {
    if (ownsWork) rmSync(work, { recursive: true, force: true });
  }
}

/** Age in years from one output row, as labels.json describes it (throws when the labels carry no ages). */
export function expectedAgeOf(labels: LabelsSpec): (output: Float32Array) => number {
  if (labels.task === 'regression') {
    const { scale, offset } = labels.regression ?? { scale: 1, offset: 0 };
    return (output) => output[0] * scale + offset;
  }
  const ages = labels.labels.map((l) => l.age);
  if (ages.some((a) => a === undefined)) throw new Error('the labels have no representative ages: no MAE can be computed');
  return (output) => output.reduce((sum, p, k) => sum + p * (ages[k] as number), 0);
}

export interface BundleVerification {
  tfjs: VerifyReport;
  checker: CheckerReport;
  cpp?: CppComparison;
  passed: boolean;
}

/** Verify a bundle: onnxruntime vs tfjs (<= tolerance), the python onnx checker (when present) and optionally the C++ example. */
export async function verifyBundle(options: {
  bundle: Bundle;
  model: tf.LayersModel;
  images: string[];
  /** Largest |onnx - tfjs| (default: DEFAULT_TOLERANCE of the bundle's format). */
  tolerance?: number;
  minImages?: number;
  cpp?: boolean;
  cppImages?: number;
  /** Largest |C++ - onnxruntime| (default: DEFAULT_CPP_TOLERANCE of the bundle's format). */
  cppTolerance?: number;
  /** True ages of `images` (same order; NaN where unknown): the MAE of both models is compared on them. */
  ages?: number[];
  /** Largest allowed |MAE change| in years with `ages` (default 0.1). */
  maxMaeChange?: number;
  onProgress?: CountCallback;
}): Promise<BundleVerification> {
  const { bundle } = options;
  const format = bundle.manifest.modelFormat ?? 'float32';
  const tfjs = await verifyAgainstTfjs({
    onnx: bundle.onnxPath,
    model: options.model,
    preprocess: bundle.preprocess,
    images: options.images,
    tolerance: options.tolerance ?? defaultTolerance(format, bundle.labels),
    minImages: options.minImages,
    onProgress: options.onProgress,
    ages: options.ages,
    expectedAge: options.ages ? expectedAgeOf(bundle.labels) : undefined,
    maxMaeChange: options.ages ? (options.maxMaeChange ?? 0.1) : undefined,
    testTimeFlip: bundle.manifest.testTimeFlip,
  });
  const checker = checkWithPythonOnnx(bundle.onnxPath);
  const cppTolerance = options.cppTolerance ?? DEFAULT_CPP_TOLERANCE[format];
  const cpp = options.cpp ? await compareCppWithOnnx({ bundle, images: options.images.slice(0, options.cppImages ?? 16), tolerance: cppTolerance }) : undefined;
  const passed = tfjs.passed && checker.status !== 'failed' && (!cpp || cpp.status !== 'failed');
  return { tfjs, checker, cpp, passed };
}
