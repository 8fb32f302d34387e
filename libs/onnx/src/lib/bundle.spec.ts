import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCHITECTURES, buildModel, type ArchitectureName } from '@agekit/model';
import { generateSynthDataset } from '@agekit/synth';
import {
  compareCppWithOnnx,
  DEFAULT_TOLERANCE,
  defaultTolerance,
  INT8_REGRESSION_TOLERANCE_YEARS,
  readBundle,
  verifyBundle,
  writeBundle,
  type ExportModelDescription,
  type LabelsSpec,
} from './bundle';
import { compileCppExampleForTests } from './cpp.testing';

jest.setTimeout(120_000);

const SIZE = 32; // the smallest squeezenet input: the tfjs cpu reference is slow on this shared 2-core machine
const LABELS = ['20', '25', '30', '35', '40'];
let work: string;
let images: string[];
let cppBinary: string | undefined;
let cppSkipReason = '';

function description(name: string, channels: 1 | 3, task: 'classification' | 'regression'): ExportModelDescription {
  return {
    name,
    task,
    labels: task === 'classification' ? LABELS : [],
    labelAges: task === 'classification' ? LABELS.map(Number) : [],
    regression: task === 'regression' ? { scale: 12, offset: 33 } : undefined,
    input: { width: SIZE, height: SIZE, channels, resize: 'lanczos3', scale: 1, mean: channels === 3 ? [124, 116, 104] : [115], std: channels === 3 ? [58, 57, 57] : [58] },
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu'); // exact reference outputs
  work = mkdtempSync(join(tmpdir(), 'agekit-onnx-bundle-'));
  const samples = await generateSynthDataset({ out: join(work, 'faces'), count: 64, seed: 11, size: 64, duplicateRate: 0 });
  images = samples.map((s) => join(work, 'faces', s.file));
  // The C++ example is compiled once (it reads everything model-specific from the bundle at run time).
  ({ binary: cppBinary, skipReason: cppSkipReason } = compileCppExampleForTests(work));
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// Every architecture, both heads, both colour modes and both input layouts are covered (a full 2x2x2 grid costs minutes
// on the tfjs cpu reference, so the cases are spread over the combinations).
const cases: Array<[ArchitectureName, 1 | 3, 'classification' | 'regression', 'NCHW' | 'NHWC']> = [
  ['squeezenet', 3, 'classification', 'NCHW'],
  ['squeezenet', 1, 'regression', 'NHWC'],
  ['simple-cnn', 1, 'classification', 'NCHW'],
  ['mobilenet-v3-small', 3, 'regression', 'NCHW'],
];
it('covers every architecture @agekit/model has', () => {
  expect(new Set(cases.map((c) => c[0]))).toEqual(new Set(ARCHITECTURES));
});

describe('export of every @agekit/model architecture', () => {
  it.each(cases)('%s (%i channels, %s, %s): tfjs vs onnxruntime <= 1e-4 on 64 synth faces, checker, C++ agrees <= 1e-3', async (architecture, channels, task, layout) => {
    const model = buildModel({ architecture, size: SIZE, channels, classes: LABELS.length, head: task, seed: 5 });
    const out = join(work, `bundle-${architecture}-${task}`);
    const { bundle, converted } = writeBundle({ model, description: description(architecture, channels, task), out, inputLayout: layout, sourceModel: '/models/x' });
    expect(converted.removedLayers.length).toBeGreaterThan(0); // dropout

    const reread = readBundle(out);
    expect(reread.preprocess).toEqual(bundle.preprocess);
    expect(reread.preprocess.layout).toBe(layout);
    expect(reread.labels.task).toBe(task);
    expect(reread.manifest.sourceModel).toBe('/models/x');
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('readNetFromONNX');
    expect(readFileSync(join(out, 'cpp', 'CMakeLists.txt'), 'utf8')).toContain('find_package(OpenCV');

    const report = await verifyBundle({ bundle: reread, model, images, cpp: false });
    expect(report.tfjs.images).toBe(64);
    expect(report.tfjs.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.tfjs.passed).toBe(true);
    if (report.checker.status === 'skipped') console.warn(`onnx checker ${report.checker.message}`);
    expect(report.checker.status).not.toBe('failed');

    if (!cppBinary) {
      console.warn(`C++ example check skipped: ${cppSkipReason}`);
      return;
    }
    const cpp = await compareCppWithOnnx({ bundle: reread, images: images.slice(0, 12), binary: cppBinary });
    expect(cpp.message).toMatch(/images/);
    expect(cpp.status).toBe('passed');
    expect(cpp.images).toBe(12);
    expect(cpp.maxAbsDiff).toBeLessThanOrEqual(1e-3);
    expect(cpp.labelMismatches).toBe(0);
    model.dispose();
  });
});

/** A small model of the same family (conv, BN, pool, dense softmax): cheap on the cpu backend. */
function tinyModel(seed: number): tf.LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [SIZE, SIZE, 3], filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: LABELS.length, activation: 'softmax', kernelInitializer: init(2) }),
    ],
  });
}

describe('verification catches a wrong export', () => {
  it('fails when the ONNX file does not come from the tfjs model, and with too few images', async () => {
    const { bundle } = writeBundle({ model: tinyModel(1), description: description('tiny', 3, 'classification'), out: join(work, 'bundle-mismatch') });
    const wrong = await verifyBundle({ bundle, model: tinyModel(2), images });
    expect(wrong.passed).toBe(false);
    expect(wrong.tfjs.failure).toMatch(/above the tolerance/);
    const few = await verifyBundle({ bundle, model: tinyModel(1), images: [...images.slice(0, 5), join(work, 'missing.jpg')] });
    expect(few.passed).toBe(false);
    expect(few.tfjs.problems).toHaveLength(1);
    expect(few.tfjs.problems[0].file).toContain('missing.jpg');
    expect(few.tfjs.failure).toMatch(/only 5 images/);
  });

  it('the C++ comparison fails when the program reads a different model', async () => {
    if (!cppBinary) {
      console.warn(`C++ example check skipped: ${cppSkipReason}`);
      return;
    }
    writeBundle({ model: tinyModel(3), description: description('tiny', 3, 'classification'), out: join(work, 'bundle-a') });
    writeBundle({ model: tinyModel(4), description: description('tiny', 3, 'classification'), out: join(work, 'bundle-b') });
    // onnxruntime runs bundle-a's file, the C++ program reads bundle-b's directory
    const mixed = { ...readBundle(join(work, 'bundle-b')), onnxPath: join(work, 'bundle-a', 'model.onnx') };
    const cpp = await compareCppWithOnnx({ bundle: mixed, images: images.slice(0, 4), binary: cppBinary });
    expect(cpp.status).toBe('failed');
  });
});

describe('labels without representative ages (age-group labels)', () => {
  it('omits the age (no JSON null: OpenCV cannot parse it) and the C++ example still agrees', async () => {
    const d = { ...description('tiny', 3, 'classification'), labels: ['A', 'B', 'C', 'D', 'E'], labelAges: [NaN, NaN, NaN, NaN, NaN] };
    const { bundle } = writeBundle({ model: tinyModel(5), description: d, out: join(work, 'bundle-groups') });
    const labels = JSON.parse(readFileSync(join(bundle.dir, 'labels.json'), 'utf8'));
    expect(labels.labels[0]).toEqual({ index: 0, name: 'A' });
    expect(readFileSync(join(bundle.dir, 'labels.json'), 'utf8')).not.toContain('null');
    if (!cppBinary) {
      console.warn(`C++ example check skipped: ${cppSkipReason}`);
      return;
    }
    const cpp = await compareCppWithOnnx({ bundle, images: images.slice(0, 4), binary: cppBinary });
    expect(cpp.status).toBe('passed');
  });
});

describe('default tolerance of a verification', () => {
  const classification: LabelsSpec = { task: 'classification', outputName: 'p', labels: [{ index: 0, name: '20', age: 20 }], expectedAge: '' };
  const regression: LabelsSpec = { task: 'regression', outputName: 'age', labels: [], regression: { scale: 50, offset: 50 }, expectedAge: '' };

  it("is the format's for probabilities, and one year (in output units) for an int8 regression output", () => {
    for (const format of ['float32', 'float16', 'int8'] as const) expect(defaultTolerance(format, classification)).toBe(DEFAULT_TOLERANCE[format]);
    expect(defaultTolerance('float32', regression)).toBe(DEFAULT_TOLERANCE.float32);
    // one year = 1/50 of the output when age = output * 50 + 50
    expect(defaultTolerance('int8', regression) * 50).toBeCloseTo(INT8_REGRESSION_TOLERANCE_YEARS, 12);
  });
});
