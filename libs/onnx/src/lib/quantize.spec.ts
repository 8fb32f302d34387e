import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { buildModel } from '@agekit/model';
import { generateSynthDataset } from '@agekit/synth';
import { compareCppWithOnnx, exportBundle, readBundle, verifyBundle, writeBundle, type ExportModelDescription } from './bundle';
import { convertLayersModel } from './convert';
import { normalizePixels, readImagePixels, type PreprocessSpec } from './preprocess';
import { convertToFloat16, DEFAULT_INT8_PLACEMENT, float16Bits, float16Value, quantizeInt8, type Int8Placement } from './quantize';
import { checkWithPythonOnnx, createOnnxSession, runOnnx } from './verify';
import { compileCppExampleForTests } from './cpp.testing';
import { findOnnxRuntimeC } from './cpp';

jest.setTimeout(180_000);

const SIZE = 32;
const LABELS = ['20', '25', '30', '35', '40'];
const DT = onnx.TensorProto.DataType;
const SPEC = { layout: 'NCHW' as const, inputName: 'input', outputName: 'output' };
let work: string;
let images: string[];
let ages: number[];
let cppBinary: string | undefined;
let cppSkipReason = '';

const description: ExportModelDescription = {
  name: 'tiny',
  task: 'classification',
  labels: LABELS,
  labelAges: LABELS.map(Number),
  input: { width: SIZE, height: SIZE, channels: 3, resize: 'lanczos3', scale: 1, mean: [124, 116, 104], std: [58, 57, 57] },
};
const { scale, mean, std } = description.input;
const pre: Pick<PreprocessSpec, 'width' | 'height' | 'channels' | 'resize' | 'scale' | 'mean' | 'std'> = {
  width: SIZE,
  height: SIZE,
  channels: 3,
  resize: { method: 'lanczos3', fit: 'fill', library: 'sharp' },
  scale,
  mean,
  std,
};

/**
 * Conv + BN + ReLU, MaxPool, two branches joined by Concat, a separable conv (depthwise part without bias) with a residual Add,
 * a ReLU6 conv, a hidden Dense and a softmax: every path of the quantizer.
 */
function smallModel(seed: number): tf.LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: init(1), name: 'c1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'c1_bn', gammaInitializer: 'ones', movingVarianceInitializer: 'ones' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  const a = tf.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu', kernelInitializer: init(2), name: 'a' }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(3), name: 'b' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.concatenate({}).apply([a, b]) as tf.SymbolicTensor;
  const sep = tf.layers.separableConv2d({ filters: 12, kernelSize: 3, padding: 'same', depthwiseInitializer: init(7), pointwiseInitializer: init(8), name: 's' }).apply(x);
  x = tf.layers.add({}).apply([x, sep as tf.SymbolicTensor]) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, activation: 'relu6', kernelInitializer: init(4), name: 'c2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init(5), biasInitializer: 'ones', name: 'hidden' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: LABELS.length, activation: 'softmax', kernelInitializer: init(6), name: 'probs' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

async function pixels(files: string[]): Promise<Float32Array> {
  const per = SIZE * SIZE * 3;
  const all = new Float32Array(files.length * per);
  for (const [i, f] of files.entries()) all.set(normalizePixels(await readImagePixels(f, pre), pre), i * per);
  return all;
}

async function run(bytes: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const session = await createOnnxSession(bytes);
  try {
    return (await runOnnx(session, x, [x.length / (SIZE * SIZE * 3), SIZE, SIZE, 3], SPEC)).data;
  } finally {
    await session.release();
  }
}

function initializer(model: onnx.ModelProto, name: string): onnx.ITensorProto {
  const t = model.graph?.initializer?.find((i) => i.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}

function typed<T extends Float32Array | Int8Array | Uint8Array | Int32Array | Uint16Array>(t: onnx.ITensorProto, make: (b: ArrayBuffer) => T): T {
  const copy = new Uint8Array((t.rawData as Uint8Array).length);
  copy.set(t.rawData as Uint8Array);
  return make(copy.buffer);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  work = mkdtempSync(join(tmpdir(), 'agekit-onnx-quantize-'));
  const samples = await generateSynthDataset({ out: join(work, 'faces'), count: 96, seed: 3, size: 64, duplicateRate: 0 });
  images = samples.map((s) => join(work, 'faces', s.file));
  ages = samples.map((s) => s.age);
  ({ binary: cppBinary, skipReason: cppSkipReason } = compileCppExampleForTests(work));
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('float16 bits', () => {
  it('rounds to the nearest half (ties to even), overflows to infinity and keeps subnormals', () => {
    expect(float16Bits(1)).toBe(0x3c00);
    expect(float16Bits(-2)).toBe(0xc000);
    expect(float16Bits(65504)).toBe(0x7bff);
    expect(float16Bits(65520)).toBe(0x7c00); // halfway to the next binade rounds up: infinity
    expect(float16Bits(1 / 3)).toBe(0x3555);
    expect(float16Bits(2 ** -24)).toBe(0x0001);
    expect(float16Bits(2 ** -26)).toBe(0);
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even mantissa
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even mantissa (rounds up)
    expect(Number.isNaN(float16Value(float16Bits(Number.NaN)))).toBe(true);
    for (const v of [0.1, -3.75, 1234.5, 6e-5, 1e-7]) expect(Math.abs(float16Value(float16Bits(v)) - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
  });
});

describe('float16 model', () => {
  it('stores every weight as FLOAT16, keeps a float32 input and output, and matches the float32 model to 1e-2', async () => {
    const converted = convertLayersModel(smallModel(1));
    const half = convertToFloat16(converted.bytes);
    const decoded = onnx.ModelProto.decode(half);
    const graph = decoded.graph as onnx.GraphProto;
    expect(graph.initializer.filter((i) => i.dataType === DT.FLOAT)).toHaveLength(0);
    expect(graph.initializer.filter((i) => i.dataType === DT.FLOAT16).length).toBeGreaterThan(10);
    expect(graph.input[0].type?.tensorType?.elemType).toBe(DT.FLOAT);
    expect(graph.output[0].type?.tensorType?.elemType).toBe(DT.FLOAT);
    expect(graph.node[0].opType).toBe('Cast');
    expect(graph.node[graph.node.length - 1].opType).toBe('Cast');
    const x = await pixels(images.slice(0, 16));
    const [full, reduced] = [await run(converted.bytes, x), await run(half, x)];
    let maxDiff = 0;
    for (let i = 0; i < full.length; i++) maxDiff = Math.max(maxDiff, Math.abs(full[i] - reduced[i]));
    expect(maxDiff).toBeGreaterThan(0); // it really computes in float16
    expect(maxDiff).toBeLessThanOrEqual(1e-2);
    expect(checkWithPythonOnnx(half).status).not.toBe('failed');
  });
});

describe('int8 model', () => {
  let floatBytes: Uint8Array;
  let int8Bytes: Uint8Array;
  let calibration: Float32Array;

  beforeAll(async () => {
    floatBytes = convertLayersModel(smallModel(2)).bytes;
    calibration = await pixels(images.slice(0, 64));
    const result = await quantizeInt8(floatBytes, { calibration: { images: calibration, imageShape: [SIZE, SIZE, 3], spec: SPEC } });
    int8Bytes = result.bytes;
    expect(result.report.calibrationImages).toBe(64);
    expect(result.report.int8Ops).toMatchObject({ QLinearConv: 6, QLinearMatMul: 2, MaxPool: 1, Concat: 1, QLinearAdd: 1, QLinearGlobalAveragePool: 1, Flatten: 1 });
    expect(result.report.floatOps).toEqual({ Add: 2, Relu: 1, Softmax: 1 }); // the two dense biases, the hidden dense layer's ReLU, the softmax
    expect(result.report.placement).toEqual(DEFAULT_INT8_PLACEMENT);
  });

  it('writes QOperator nodes named as OpenCV expects, with no float Conv/Gemm left and the checker passing', () => {
    const graph = onnx.ModelProto.decode(int8Bytes).graph as onnx.GraphProto;
    const ops = graph.node.map((n) => n.opType);
    expect(ops).not.toContain('Conv');
    expect(ops).not.toContain('Gemm');
    // the convolutions' ReLUs are folded into their uint8 output ranges; only the dense layer's (float, after its bias) is left
    expect(ops.filter((o) => o === 'Relu')).toHaveLength(1);
    const names = new Set(graph.initializer.map((i) => i.name));
    // every value a quantized op reads or writes ends in _quantized (OpenCV marks int8 values by that suffix)
    for (const node of graph.node.filter((n) => String(n.opType).startsWith('QLinear') || n.opType === 'MaxPool' || n.opType === 'Concat')) {
      expect(node.output?.[0]).toMatch(/_quantized$/);
      expect(node.input?.[0]).toMatch(/_quantized$/);
    }
    const quantizedValues = graph.node.flatMap((n) => n.output ?? []).filter((o) => o.endsWith('_quantized'));
    expect(quantizedValues.length).toBeGreaterThan(6);
    for (const out of quantizedValues) {
      const base = out.slice(0, -'quantized'.length);
      expect(names.has(`${base}scale`)).toBe(true);
      expect(names.has(`${base}zero_point`)).toBe(true);
    }
    expect(checkWithPythonOnnx(int8Bytes).status).not.toBe('failed');
  });

  it('quantizes weights symmetrically per output channel: scale = max|w|/127, every weight within half a step', () => {
    const floatModel = onnx.ModelProto.decode(floatBytes);
    const model = onnx.ModelProto.decode(int8Bytes);
    const conv = (model.graph as onnx.GraphProto).node.find((n) => n.opType === 'QLinearConv' && n.name === 'b') as onnx.INodeProto;
    const floatConv = (floatModel.graph as onnx.GraphProto).node.find((n) => n.opType === 'Conv' && n.name === 'b') as onnx.INodeProto;
    const w = typed(initializer(floatModel, (floatConv.input as string[])[1]), (b) => new Float32Array(b));
    const q = typed(initializer(model, (conv.input as string[])[3]), (b) => new Int8Array(b));
    const scaleTensor = initializer(model, (conv.input as string[])[4]);
    expect(initializer(model, (conv.input as string[])[3]).dataType).toBe(DT.INT8);
    const scales = typed(scaleTensor, (b) => new Float32Array(b));
    expect(scales.length).toBe(6);
    const per = w.length / 6;
    for (let c = 0; c < 6; c++) {
      let maxAbs = 0;
      for (let i = 0; i < per; i++) maxAbs = Math.max(maxAbs, Math.abs(w[c * per + i]));
      expect(scales[c]).toBeCloseTo(maxAbs / 127, 7);
      for (let i = 0; i < per; i++) expect(Math.abs(q[c * per + i] * scales[c] - w[c * per + i])).toBeLessThanOrEqual(scales[c] / 2 + 1e-7);
    }
    expect(new Set(Array.from(scales)).size).toBe(6); // really one scale per channel
  });

  it('agrees with the float model on images it was not calibrated on', async () => {
    const x = await pixels(images.slice(64));
    const [full, quant] = [await run(floatBytes, x), await run(int8Bytes, x)];
    let maxDiff = 0;
    let agree = 0;
    const k = LABELS.length;
    for (let n = 0; n < full.length / k; n++) {
      let bestF = 0;
      let bestQ = 0;
      for (let j = 0; j < k; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(full[n * k + j] - quant[n * k + j]));
        if (full[n * k + j] > full[n * k + bestF]) bestF = j;
        if (quant[n * k + j] > quant[n * k + bestQ]) bestQ = j;
      }
      if (bestF === bestQ) agree++;
    }
    expect(maxDiff).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThanOrEqual(0.05);
    expect(agree / (full.length / k)).toBeGreaterThanOrEqual(0.9);
  });

  it('percentile calibration clips activation ranges (never wider than min/max)', async () => {
    const minmax = onnx.ModelProto.decode(int8Bytes);
    const { bytes } = await quantizeInt8(floatBytes, { calibration: { images: calibration, imageShape: [SIZE, SIZE, 3], spec: SPEC }, method: 'percentile', percentile: 99 });
    const clipped = onnx.ModelProto.decode(bytes);
    const scaleOf = (m: onnx.ModelProto, name: string) => typed(initializer(m, name), (b) => new Float32Array(b))[0];
    const activationScales = (minmax.graph as onnx.GraphProto).initializer.filter((i) => i.name?.endsWith('_scale') && (i.dims ?? []).length === 0).map((i) => i.name as string);
    expect(activationScales.length).toBeGreaterThan(4);
    let narrower = 0;
    for (const name of activationScales) {
      expect(scaleOf(clipped, name)).toBeLessThanOrEqual(scaleOf(minmax, name) * (1 + 1e-6));
      if (scaleOf(clipped, name) < scaleOf(minmax, name) * 0.999) narrower++;
    }
    expect(narrower).toBeGreaterThan(0);
  });
});

/** A stem conv read only by convolutions, then residual Adds: one read by a ReLU and a conv, one read by a conv only. */
function residualModel(seed: number): tf.LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 10 + k });
  const conv = (filters: number, k: number, activation?: 'relu') => tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation, kernelInitializer: init(k) });
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  const stem = conv(8, 1, 'relu').apply(input) as tf.SymbolicTensor;
  const first = tf.layers.add({}).apply([conv(8, 9).apply(stem) as tf.SymbolicTensor, conv(8, 2).apply(stem) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const relu = tf.layers.reLU({}).apply(first) as tf.SymbolicTensor;
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init(3) }).apply(relu) as tf.SymbolicTensor;
  const second = tf.layers.add({}).apply([conv(8, 4).apply(depthwise) as tf.SymbolicTensor, conv(8, 5).apply(first) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(second) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: LABELS.length, activation: 'softmax', kernelInitializer: init(6) }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

describe('int8 placement (which nodes stay float)', () => {
  let floatBytes: Uint8Array;
  let calibration: Float32Array;
  let held: Float32Array;
  let floatOut: Float32Array;
  const quantize = async (placement: Partial<Int8Placement>) =>
    quantizeInt8(floatBytes, { calibration: { images: calibration, imageShape: [SIZE, SIZE, 3], spec: SPEC }, placement });
  const graphOf = (bytes: Uint8Array) => onnx.ModelProto.decode(bytes).graph as onnx.GraphProto;
  const groupOf = (n: onnx.INodeProto) => Number((n.attribute ?? []).find((a) => a.name === 'group')?.i ?? 1);
  const floatConvs = (bytes: Uint8Array) => graphOf(bytes).node.filter((n) => n.opType === 'Conv');
  const stemName = (bytes: Uint8Array) => graphOf(bytes).node.find((n) => n.opType === 'Conv' && (n.input ?? [])[0] === SPEC.inputName)?.name;

  beforeAll(async () => {
    floatBytes = convertLayersModel(residualModel(7)).bytes;
    calibration = await pixels(images.slice(0, 48));
    held = await pixels(images.slice(48, 80));
    floatOut = await run(floatBytes, held);
  });

  /** Largest |int8 - float| on held-out images: every placement must still compute the same model. */
  async function maxDiff(bytes: Uint8Array): Promise<number> {
    const y = await run(bytes, held);
    return y.reduce((m, v, i) => Math.max(m, Math.abs(v - floatOut[i])), 0);
  }

  it('depthwise convolutions: float keeps them Conv (the others int8), int8 makes them QLinearConv', async () => {
    const float = await quantize({ depthwiseConv: 'float', stemConv: 'int8' });
    expect(floatConvs(float.bytes).map(groupOf)).toEqual([8]); // exactly the depthwise conv, nothing else
    expect(float.report.floatOps['Conv']).toBe(1);
    const int8 = await quantize({ depthwiseConv: 'int8', stemConv: 'int8' });
    expect(floatConvs(int8.bytes)).toHaveLength(0);
    expect(graphOf(int8.bytes).node.filter((n) => n.opType === 'QLinearConv' && groupOf(n) === 8)).toHaveLength(1);
    expect(await maxDiff(float.bytes)).toBeLessThanOrEqual(0.05);
    expect(await maxDiff(int8.bytes)).toBeLessThanOrEqual(0.05);
  });

  it('stem convolution: auto keeps it float when only convolutions read it, int8 when a pooling follows; float/int8 force it', async () => {
    const auto = await quantize({ stemConv: 'auto' });
    expect(floatConvs(auto.bytes).map((n) => n.name)).toEqual([stemName(floatBytes)]);
    // the float stem's ReLU stays a float ReLU (it is not folded into an int8 output)
    expect(graphOf(auto.bytes).node.filter((n) => n.opType === 'Relu')).toHaveLength(1);
    expect(floatConvs((await quantize({ stemConv: 'int8' })).bytes)).toHaveLength(0);
    expect(floatConvs((await quantize({ stemConv: 'float' })).bytes)).toHaveLength(1);
    expect(await maxDiff(auto.bytes)).toBeLessThanOrEqual(0.05);
    // smallModel's stem is followed by a MaxPool: auto leaves it int8, and the pool runs on uint8
    const pooled = await quantizeInt8(convertLayersModel(smallModel(2)).bytes, { calibration: { images: calibration, imageShape: [SIZE, SIZE, 3], spec: SPEC }, placement: { stemConv: 'auto' } });
    expect(floatConvs(pooled.bytes)).toHaveLength(0);
    expect(pooled.report.int8Ops['MaxPool']).toBe(1);
  });

  it('residual Adds: int8 writes QLinearAdd (com.microsoft, imported), once per ReLU reader and once raw; float leaves float Adds', async () => {
    const int8 = await quantize({ add: 'int8' });
    const graph = graphOf(int8.bytes);
    const adds = graph.node.filter((n) => n.opType === 'QLinearAdd');
    expect(adds).toHaveLength(3); // the first Add raw and with its ReLU folded, the second raw
    expect(adds.every((n) => n.domain === 'com.microsoft')).toBe(true);
    expect(onnx.ModelProto.decode(int8.bytes).opsetImport.some((o) => o.domain === 'com.microsoft')).toBe(true);
    // no float Add or ReLU is left but the dense layer's bias (every ReLU is folded into an int8 conv or a QLinearAdd copy)
    expect(graph.node.filter((n) => n.opType === 'Add' || n.opType === 'Relu').map((n) => n.opType)).toEqual(['Add']);
    // the ReLU's copy clips at zero: its uint8 zero point is 0
    const reluCopy = adds.find((n) => n.name?.endsWith('/Relu')) as onnx.INodeProto;
    expect(typed(initializer(onnx.ModelProto.decode(int8.bytes), (reluCopy.input as string[])[7]), (b) => new Uint8Array(b))[0]).toBe(0);
    expect(await maxDiff(int8.bytes)).toBeLessThanOrEqual(0.05);
    expect(checkWithPythonOnnx(int8.bytes).status).not.toBe('failed');

    const float = await quantize({ add: 'float' });
    expect(graphOf(float.bytes).node.filter((n) => n.opType === 'QLinearAdd')).toHaveLength(0);
    expect(float.report.floatOps['Add']).toBe(3); // two residuals + the dense bias
    expect(await maxDiff(float.bytes)).toBeLessThanOrEqual(0.05);
  });

  it('GlobalAveragePool: int8 is QLinearGlobalAveragePool feeding the int8 dense layer directly; float dequantizes first', async () => {
    const int8 = await quantize({ globalAveragePool: 'int8' });
    const ops = graphOf(int8.bytes).node.map((n) => n.opType);
    expect(ops).toContain('QLinearGlobalAveragePool');
    expect(ops).not.toContain('GlobalAveragePool');
    expect(int8.report.int8Ops['DequantizeLinear']).toBe(1); // only the dense product before its float bias
    const float = await quantize({ globalAveragePool: 'float' });
    expect(graphOf(float.bytes).node.map((n) => n.opType)).toContain('GlobalAveragePool');
    expect(await maxDiff(int8.bytes)).toBeLessThanOrEqual(0.05);
    expect(await maxDiff(float.bytes)).toBeLessThanOrEqual(0.05);
  });

  it('every placement runs in the C++ example (OpenCV 4.6); the default agrees with onnxruntime to 1e-3', async () => {
    if (!cppBinary) {
      console.warn(`C++ example check skipped: ${cppSkipReason}`);
      return;
    }
    const model = residualModel(8);
    const mixed: Int8Placement = { depthwiseConv: 'float', stemConv: 'float', add: 'float', globalAveragePool: 'float' };
    for (const [k, placement] of [DEFAULT_INT8_PLACEMENT, { ...DEFAULT_INT8_PLACEMENT, stemConv: 'auto' } as const, mixed].entries()) {
      const { bundle } = await exportBundle({ model, description, out: join(work, `bundle-placement-${k}`), format: 'int8', calibration: { images: images.slice(0, 48) }, int8Placement: placement });
      expect(readBundle(bundle.dir).manifest.quantization?.placement).toEqual(placement);
      // A float value quantized inside the network may land one uint8 step apart in the two runtimes: only the default, int8
      // from the input on, is held to the export's C++ tolerance; the mixed placements must run and stay close.
      const tolerance = placement === DEFAULT_INT8_PLACEMENT ? 1e-3 : 0.05;
      const cpp = await compareCppWithOnnx({ bundle, images: images.slice(48, 60), binary: cppBinary, tolerance });
      expect(cpp.status).toBe('passed');
      expect(cpp.images).toBe(12);
    }
  });
});

describe('quantized bundles', () => {
  it('int8: bundle.json/preprocess.json state the format, verification reports the MAE change, and the C++ example agrees', async () => {
    const model = smallModel(3);
    const { bundle } = await exportBundle({ model, description, out: join(work, 'bundle-int8'), format: 'int8', calibration: { images: images.slice(0, 48) } });
    const reread = readBundle(bundle.dir);
    expect(reread.manifest.modelFormat).toBe('int8');
    expect(reread.preprocess.modelFormat).toBe('int8');
    expect(reread.manifest.quantization?.calibrationImages).toBe(48);
    expect(readFileSync(join(bundle.dir, 'README.md'), 'utf8')).toContain('Number format: int8');
    const float = writeBundle({ model, description, out: join(work, 'bundle-float') }).bundle;
    expect(float.manifest.modelFormat).toBe('float32');
    expect(statSync(bundle.onnxPath).size).toBeLessThan(statSync(float.onnxPath).size);

    const held = images.slice(48);
    const report = await verifyBundle({ bundle: reread, model, images: held, ages: ages.slice(48), minImages: 32, cpp: false });
    expect(report.tfjs.mae?.images).toBe(held.length);
    // The MAE of the reference, computed here independently from tfjs's outputs.
    const x = await pixels(held);
    const y = (model.predict(tf.tensor4d(x, [held.length, SIZE, SIZE, 3])) as tf.Tensor).dataSync();
    let error = 0;
    for (let n = 0; n < held.length; n++) {
      let age = 0;
      for (let k = 0; k < LABELS.length; k++) age += y[n * LABELS.length + k] * Number(LABELS[k]);
      error += Math.abs(age - ages[48 + n]);
    }
    expect(report.tfjs.mae?.reference).toBeCloseTo(error / held.length, 4);
    expect(Math.abs(report.tfjs.mae?.change ?? 1)).toBeLessThanOrEqual(0.1);
    expect(report.tfjs.passed).toBe(true);
    expect(report.checker.status).not.toBe('failed');

    // a limit below the measured change fails the verification
    const strict = await verifyBundle({ bundle: reread, model, images: held, ages: ages.slice(48), minImages: 32, maxMaeChange: Math.abs(report.tfjs.mae?.change ?? 0) / 2 || 1e-12 });
    if (report.tfjs.mae?.change !== 0) {
      expect(strict.passed).toBe(false);
      expect(strict.tfjs.failure).toMatch(/MAE changes/);
    }

    if (!cppBinary) {
      console.warn(`C++ example check skipped: ${cppSkipReason}`);
      return;
    }
    const cpp = await compareCppWithOnnx({ bundle: reread, images: held.slice(0, 12), binary: cppBinary, tolerance: 1e-3 });
    expect(cpp.status).toBe('passed');
    expect(cpp.message).toMatch(/C\+\+ engine: opencv/); // int8 is checked against OpenCV's kernels, whatever else is built in
    expect(cpp.images).toBe(12);
    expect(cpp.labelMismatches).toBe(0);
  });

  it('float16: the bundle states the format and verifies within the float16 tolerance; the C++ example agrees through ONNX Runtime when built with it, else says OpenCV cannot read float16', async () => {
    const model = smallModel(4);
    const { bundle } = writeBundle({ model, description, out: join(work, 'bundle-fp16'), format: 'float16' });
    expect(readBundle(bundle.dir).preprocess.modelFormat).toBe('float16');
    const report = await verifyBundle({ bundle, model, images: images.slice(0, 32), ages: ages.slice(0, 32), minImages: 32 });
    expect(report.tfjs.tolerance).toBe(1e-2);
    expect(report.tfjs.maxAbsDiff).toBeLessThanOrEqual(1e-2);
    expect(Math.abs(report.tfjs.mae?.change ?? 1)).toBeLessThanOrEqual(0.05);
    expect(report.passed).toBe(true);
    if (!cppBinary) return;
    const cpp = await compareCppWithOnnx({ bundle, images: images.slice(0, 4), binary: cppBinary });
    if (findOnnxRuntimeC()) {
      // the example was built with ONNX Runtime's C API: it runs float16 bundles with it, and must agree
      expect(cpp.status).toBe('passed');
      expect(cpp.message).toMatch(/C\+\+ engine: onnxruntime/);
      expect(cpp.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    } else {
      console.warn('float16 C++ check skipped: ONNX Runtime C headers not found (ONNXRUNTIME_DIR / ONNXRUNTIME_INCLUDE_DIR)');
      expect(cpp.status).toBe('skipped');
      expect(cpp.message).toMatch(/float16/);
    }
  });

  it('int8 needs calibration images', async () => {
    expect(() => writeBundle({ model: smallModel(5), description, out: join(work, 'x'), format: 'int8' })).toThrow(/exportBundle/);
    await expect(exportBundle({ model: smallModel(5), description, out: join(work, 'y'), format: 'int8' })).rejects.toThrow(/calibration images/);
  });
});

it('quantizes the squeezenet of @agekit/model (fire modules: Concat of two convs, MaxPool) entirely to int8 convolutions, to < 30% of the size', async () => {
  const model = buildModel({ architecture: 'squeezenet', size: SIZE, channels: 3, classes: LABELS.length, head: 'classification', seed: 1 });
  const converted = convertLayersModel(model);
  model.dispose();
  const calibration = await pixels(images.slice(0, 16));
  const { bytes, report } = await quantizeInt8(converted.bytes, { calibration: { images: calibration, imageShape: [SIZE, SIZE, 3], spec: SPEC } });
  expect(bytes.length).toBeLessThanOrEqual(converted.bytes.length * 0.3);
  expect(convertToFloat16(converted.bytes).length).toBeLessThanOrEqual(converted.bytes.length * 0.55);
  expect(report.int8Ops['QLinearConv']).toBe(converted.opCounts['Conv']);
  expect(report.int8Ops['Concat']).toBe(converted.opCounts['Concat']);
  expect(report.floatOps['Relu']).toBeUndefined();
});
