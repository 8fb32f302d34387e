import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { createOnnxSession, type CountCallback } from './verify';
import { nhwcToNchw, type PreprocessSpec } from './preprocess';

/** Number format of a bundle's model.onnx. */
export type ModelFormat = 'float32' | 'float16' | 'int8';
/** How activation ranges are taken from the calibration images. */
export type CalibrationMethod = 'minmax' | 'percentile';

const DT = onnx.TensorProto.DataType;
/** Domain of onnxruntime's contrib ops (QLinearAdd, QLinearGlobalAveragePool); OpenCV 4.6's importer reads them too. */
const MICROSOFT_DOMAIN = 'com.microsoft';

/** Bytes of exactly this typed array (never a pooled Buffer's whole backing store). */
function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** The FLOAT values of an initializer (raw_data or float_data). */
function floatValues(tensor: onnx.ITensorProto): Float32Array {
  if (tensor.rawData && tensor.rawData.length) {
    const copy = new Uint8Array(tensor.rawData.length);
    copy.set(tensor.rawData);
    return new Float32Array(copy.buffer);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half-precision bits of a number, rounded to nearest even (overflow -> infinity, tiny values -> subnormals or zero). */
export function float16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const middle = 1 << (shift - 1);
    if (rest > middle || (rest === middle && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** The number a half-precision bit pattern stands for. */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function tensorType(name: string, elemType: number): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType } } };
}

function encode(model: onnx.IModelProto): Uint8Array {
  const error = onnx.ModelProto.verify(model);
  if (error) throw new Error(`onnx: invalid ModelProto: ${error}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

function setMetadata(model: onnx.IModelProto, key: string, value: string): void {
  model.metadataProps = [...(model.metadataProps ?? []).filter((p) => p.key !== key), { key, value }];
}

/**
 * float32 -> float16: every FLOAT initializer becomes FLOAT16 and the graph computes in float16, while the graph input and
 * outputs stay float32 (a Cast at each edge), so callers feed and read the same tensors as with the float32 model.
 */
export function convertToFloat16(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('onnx: the model has no graph');
  for (const init of graph.initializer ?? []) {
    if (init.dataType !== DT.FLOAT) continue;
    const values = floatValues(init);
    const half = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) half[i] = float16Bits(values[i]);
    init.dataType = DT.FLOAT16;
    init.rawData = bytesOf(half);
    init.floatData = [];
  }
  const nodes = graph.node ?? [];
  const head: onnx.INodeProto[] = [];
  for (const input of graph.input ?? []) {
    if (input.type?.tensorType?.elemType !== DT.FLOAT) continue;
    const cast = `${input.name}_float16`;
    for (const node of nodes) node.input = (node.input ?? []).map((i) => (i === input.name ? cast : i));
    head.push({ opType: 'Cast', input: [input.name as string], output: [cast], name: `${input.name}/to_float16`, attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT16 }] });
  }
  const tail: onnx.INodeProto[] = [];
  for (const output of graph.output ?? []) {
    if (output.type?.tensorType?.elemType !== DT.FLOAT) continue;
    const half = `${output.name}_float16`;
    for (const node of nodes) {
      node.output = (node.output ?? []).map((o) => (o === output.name ? half : o));
      node.input = (node.input ?? []).map((i) => (i === output.name ? half : i));
    }
    tail.push({ opType: 'Cast', input: [half], output: [output.name as string], name: `${output.name}/to_float32`, attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT }] });
  }
  graph.node = [...head, ...nodes, ...tail];
  graph.valueInfo = [];
  setMetadata(model, 'agekit_format', 'float16');
  return encode(model);
}

/** Calibration input: preprocessed images (NHWC, normalised as preprocess.json says) and how to feed them. */
export interface CalibrationData {
  /** N images, NHWC, concatenated. */
  images: Float32Array;
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  spec: Pick<PreprocessSpec, 'layout' | 'inputName'>;
}

/** Where one kind of node computes in an int8 model: int8 arithmetic, or float on dequantized values (mixed precision). */
export type Int8Choice = 'int8' | 'float';

/**
 * Per kind of node, int8 or float: what runs faster on x86 in onnxruntime (1 thread, batch 1) while the C++ example's OpenCV
 * 4.6 still runs the file. Convolutions other than these two kinds and dense layers are always int8; the defaults are measured
 * (README "Edge bundle").
 */
export interface Int8Placement {
  /** Depthwise convolutions (group = input channels, one filter each). int8 by default: onnxruntime's int8 depthwise kernel is
   * slower than its float one, but the dequantize/quantize around a float one cost more than that (and see stemConv). */
  depthwiseConv: Int8Choice;
  /**
   * Convolutions with at most 4 input channels (the stem on the image). int8 by default. 'auto': float when only convolutions
   * read its output (onnxruntime's float kernel for 3 input channels is 2x faster than its int8 one; 3% of the transfer model's
   * kernel time), int8 when a pooling follows (a pool outside onnxruntime's int8 NHWC chain ran 20x slower than inside it).
   * Not the default: a float value rounded to uint8 inside the network lands one step apart in OpenCV and onnxruntime now and
   * then (their float sums differ in the last bits), which broke the C++ agreement (3.9e-2 on 16 UTKFace images, limit 1e-3).
   */
  stemConv: Int8Choice | 'auto';
  /** Add of two computed values (residual connections): 'int8' is QLinearAdd (com.microsoft domain; onnxruntime and OpenCV run it). */
  add: Int8Choice;
  /** GlobalAveragePool: 'int8' is QLinearGlobalAveragePool (com.microsoft domain; onnxruntime and OpenCV run it). */
  globalAveragePool: Int8Choice;
}

/**
 * The measured default: every node that can be int8 is (README "Edge bundle" has the runs behind each choice). A float node
 * between int8 ones was never faster enough to pay for the C++ example's agreement with onnxruntime (see stemConv).
 */
export const DEFAULT_INT8_PLACEMENT: Readonly<Int8Placement> = { depthwiseConv: 'int8', stemConv: 'int8', add: 'int8', globalAveragePool: 'int8' };

/** The values each key of Int8Placement takes (for apps that read a placement from flags or a config). */
export const INT8_PLACEMENT_CHOICES: Readonly<Record<keyof Int8Placement, readonly string[]>> = {
  depthwiseConv: ['int8', 'float'],
  stemConv: ['int8', 'float', 'auto'],
  add: ['int8', 'float'],
  globalAveragePool: ['int8', 'float'],
};

/** Every node that can run in int8 does. */
export const ALL_INT8_PLACEMENT: Readonly<Int8Placement> = { depthwiseConv: 'int8', stemConv: 'int8', add: 'int8', globalAveragePool: 'int8' };

export interface QuantizeInt8Options {
  calibration: CalibrationData;
  /** Which kinds of node stay in float (default DEFAULT_INT8_PLACEMENT; a partial object overrides those keys). */
  placement?: Partial<Int8Placement>;
  /** 'minmax' (default) or 'percentile' (clip each activation to the [100 - p, p] percentiles of its calibration values). */
  method?: CalibrationMethod;
  /** Percentile for 'percentile' (default 99.99). */
  percentile?: number;
  batchSize?: number;
  onProgress?: CountCallback;
}

export interface QuantizeInt8Report {
  calibrationImages: number;
  method: CalibrationMethod;
  /** Where each kind of node was placed (the defaults merged with the option). */
  placement: Int8Placement;
  /** Op types written with int8 arithmetic, and how many. */
  int8Ops: Record<string, number>;
  /** Float ops left in the graph (they read dequantized values). */
  floatOps: Record<string, number>;
}

interface Range {
  lo: number;
  hi: number;
}

/** Activation ranges of every value of the graph (its input and every node output), measured with onnxruntime. */
async function calibrate(model: onnx.IModelProto, options: QuantizeInt8Options): Promise<Map<string, Range>> {
  const graph = model.graph as onnx.IGraphProto;
  const { images, imageShape, spec } = options.calibration;
  const [h, w, c] = imageShape;
  const per = h * w * c;
  const count = Math.floor(images.length / per);
  if (count < 1 || count * per !== images.length) throw new Error(`calibration: ${images.length} values are not whole ${h}x${w}x${c} images`);
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const names = [...new Set((graph.node ?? []).flatMap((n) => n.output ?? []))];
  const probe: onnx.IModelProto = { ...model, graph: { ...graph, output: [...(graph.output ?? []), ...names.filter((n) => !existing.has(n)).map((n) => tensorType(n, DT.FLOAT))] } };
  const session = await createOnnxSession(encode(probe));
  const batchSize = options.batchSize ?? 8;
  const method = options.method ?? 'minmax';
  const inputName = spec.inputName;
  const all = [inputName, ...names];
  const ranges = new Map<string, Range>(all.map((n) => [n, { lo: Number.POSITIVE_INFINITY, hi: Number.NEGATIVE_INFINITY }]));
  const BINS = 2048;
  const histograms = new Map<string, Float64Array>();
  const passes = method === 'percentile' ? 2 : 1;
  try {
    for (let pass = 0; pass < passes; pass++) {
      for (let start = 0; start < count; start += batchSize) {
        const n = Math.min(batchSize, count - start);
        const nhwc = images.subarray(start * per, (start + n) * per);
        const data = spec.layout === 'NCHW' ? nhwcToNchw(nhwc, n, h, w, c) : nhwc;
        const dims = spec.layout === 'NCHW' ? [n, c, h, w] : [n, h, w, c];
        const result = await session.run({ [inputName]: new ort.Tensor('float32', Float32Array.from(data), dims) });
        for (const name of all) {
          const values = name === inputName ? data : (result[name]?.data as Float32Array | undefined);
          if (!values) continue;
          const range = ranges.get(name) as Range;
          if (pass === 0) {
            for (let i = 0; i < values.length; i++) {
              const v = values[i];
              if (v < range.lo) range.lo = v;
              if (v > range.hi) range.hi = v;
            }
          } else {
            let hist = histograms.get(name);
            if (!hist) histograms.set(name, (hist = new Float64Array(BINS)));
            const width = (range.hi - range.lo) / BINS || 1;
            for (let i = 0; i < values.length; i++) hist[Math.min(BINS - 1, Math.max(0, Math.floor((values[i] - range.lo) / width)))]++;
          }
        }
        options.onProgress?.(pass * count + start + n, passes * count);
      }
    }
  } finally {
    await session.release();
  }
  if (method === 'percentile') {
    const p = (options.percentile ?? 99.99) / 100;
    for (const [name, hist] of histograms) {
      const range = ranges.get(name) as Range;
      const total = hist.reduce((a, b) => a + b, 0);
      const width = (range.hi - range.lo) / BINS;
      let seen = 0;
      let lo = range.lo;
      let hi = range.hi;
      for (let b = 0; b < BINS; b++) {
        seen += hist[b];
        if (seen >= (1 - p) * total) {
          lo = range.lo + b * width;
          break;
        }
      }
      seen = 0;
      for (let b = BINS - 1; b >= 0; b--) {
        seen += hist[b];
        if (seen >= (1 - p) * total) {
          hi = range.lo + (b + 1) * width;
          break;
        }
      }
      ranges.set(name, { lo, hi });
    }
  }
  return ranges;
}

/** uint8 activation parameters for a range (always containing 0, so zero padding and ReLU's zero are exact). */
function activationParams(range: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, Number.isFinite(range.lo) ? range.lo : 0);
  const hi = Math.max(0, Number.isFinite(range.hi) ? range.hi : 0);
  const scale = (hi - lo) / 255 || 1;
  return { scale: Math.fround(scale), zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/** Symmetric int8 weights, one scale per slice along `axis` (0 for OIHW conv kernels, 1 for [in, out] matrices). */
function quantizeWeights(values: Float32Array, dims: number[], axis: 0 | 1): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = axis === 0 ? values.length / channels : 1;
  const outer = axis === 0 ? 1 : channels;
  const channelOf = (i: number): number => (axis === 0 ? Math.floor(i / inner) : i % outer);
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < values.length; i++) maxAbs[channelOf(i)] = Math.max(maxAbs[channelOf(i)], Math.abs(values[i]));
  const scales = maxAbs.map((m) => Math.fround(m / 127) || 1);
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scales[channelOf(i)])));
  return { q, scales };
}

/** Values whose quantization parameters must be equal (Concat, MaxPool and Flatten move uint8 values without rescaling). */
class SharedParams {
  private readonly parent = new Map<string, string>();
  find(a: string): string {
    let root = a;
    while (this.parent.has(root)) root = this.parent.get(root) as string;
    return root;
  }
  join(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

/**
 * float32 -> int8 (QOperator form): every Conv becomes QLinearConv and every Gemm QLinearMatMul (+ a float bias Add), with
 * int8 weights symmetric per output channel and uint8 activations whose ranges come from the calibration images; the
 * placement may keep depthwise and stem convolutions in float, and writes residual Adds and GlobalAveragePool as QLinearAdd
 * and QLinearGlobalAveragePool (com.microsoft) or leaves them float. A ReLU (or Clip from 0) right after an int8 Conv or Add
 * is folded into the uint8 output range. MaxPool, Flatten and Concat run on the uint8 values; every other op runs in float
 * on dequantized values, and a value stays uint8 between consecutive int8 nodes. Quantized values follow the naming onnxruntime's quantizer
 * uses (`X_quantized`, `X_scale`, `X_zero_point`): OpenCV's ONNX importer (4.6) finds the int8 parameters by these names.
 * Batch norm must already be folded (the converter does).
 */
export async function quantizeInt8(bytes: Uint8Array, options: QuantizeInt8Options): Promise<{ bytes: Uint8Array; report: QuantizeInt8Report }> {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('onnx: the model has no graph');
  const ranges = await calibrate(model, options);
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name as string, t]));
  const nodes = graph.node ?? [];
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const node of nodes) for (const i of node.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), node]);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name as string));
  const isFloatConst = (name: string): boolean => initializers.get(name)?.dataType === DT.FLOAT;
  const constValue = (name: string | undefined): number | undefined => (name && isFloatConst(name) ? floatValues(initializers.get(name) as onnx.ITensorProto)[0] : undefined);
  const placement: Int8Placement = { ...DEFAULT_INT8_PLACEMENT, ...options.placement };

  const isActivation = (node: onnx.INodeProto): boolean =>
    node.opType === 'Relu' || (node.opType === 'Clip' && (node.input ?? []).length === 3 && constValue((node.input ?? [])[1]) === 0);
  /** The nodes that read a node's result, looking through an activation that is its only reader (it is folded or stays beside it). */
  const readersOf = (node: onnx.INodeProto): onnx.INodeProto[] => {
    const next = consumers.get((node.output ?? [])[0]) ?? [];
    return next.length === 1 && isActivation(next[0]) ? (consumers.get((next[0].output ?? [])[0]) ?? []) : next;
  };
  /** A Conv with constant weights that the placement leaves in int8 (depthwise and stem convolutions may stay float). */
  const convInInt8 = (node: onnx.INodeProto): boolean => {
    const inputs = node.input ?? [];
    if (node.opType !== 'Conv' || inputs.length < 2 || !isFloatConst(inputs[1]) || (inputs.length >= 3 && !isFloatConst(inputs[2]))) return false;
    const dims = ((initializers.get(inputs[1]) as onnx.ITensorProto).dims ?? []).map(Number);
    const group = Number((node.attribute ?? []).find((a) => a.name === 'group')?.i ?? 1);
    if (group > 1 && dims[1] === 1 && placement.depthwiseConv === 'float') return false;
    if (dims[1] * group > 4 || placement.stemConv === 'int8') return true;
    return placement.stemConv === 'auto' && !readersOf(node).every((r) => r.opType === 'Conv');
  };
  /** An Add of two computed values (not a bias) that the placement writes as QLinearAdd. */
  const addInInt8 = (node: onnx.INodeProto): boolean =>
    node.opType === 'Add' && placement.add === 'int8' && (node.input ?? []).length === 2 && (node.input ?? []).every((i) => !initializers.has(i));

  // An int8 Conv followed only by a ReLU (or Clip(0, max)) is written as one node whose output is the activation's.
  // An int8 Add is written once per activation that reads it (a QLinearAdd with the activation's output range: cheaper than
  // dequantize + ReLU + quantize), plus once without activation when anything else reads it (a residual read twice).
  const fusedActivation = new Map<onnx.INodeProto, onnx.INodeProto>();
  const addActivations = new Map<onnx.INodeProto, { activations: onnx.INodeProto[]; rawNeeded: boolean }>();
  for (const node of nodes) {
    const out = (node.output ?? [])[0];
    const next = consumers.get(out) ?? [];
    if (addInInt8(node)) {
      const activations = graphOutputs.has(out) ? [] : next.filter(isActivation);
      addActivations.set(node, { activations, rawNeeded: graphOutputs.has(out) || activations.length < next.length });
      continue;
    }
    if (convInInt8(node) && next.length === 1 && !graphOutputs.has(out) && isActivation(next[0])) fusedActivation.set(node, next[0]);
  }
  /** The upper clip of a fused activation (Clip's max), if any. */
  const clipHiOf = (act: onnx.INodeProto | undefined): number | undefined => (act?.opType === 'Clip' ? constValue((act.input ?? [])[2]) : undefined);
  const shared = new SharedParams();
  for (const node of nodes) {
    if (node.opType === 'Concat' || node.opType === 'MaxPool' || node.opType === 'Flatten') for (const i of node.input ?? []) shared.join(i, (node.output ?? [])[0]);
  }
  const groupRange = new Map<string, Range>();
  for (const [name, range] of ranges) {
    const root = shared.find(name);
    const g = groupRange.get(root) ?? { lo: Number.POSITIVE_INFINITY, hi: Number.NEGATIVE_INFINITY };
    groupRange.set(root, { lo: Math.min(g.lo, range.lo), hi: Math.max(g.hi, range.hi) });
  }
  const paramsOf = (name: string, clipHi?: number): { scale: number; zeroPoint: number } => {
    const range = groupRange.get(shared.find(name)) ?? { lo: 0, hi: 0 };
    return activationParams(clipHi === undefined ? range : { lo: range.lo, hi: Math.min(range.hi, clipHi) });
  };

  const out: onnx.INodeProto[] = [];
  const newInits: onnx.ITensorProto[] = [];
  const used = new Set<string>([...initializers.keys(), ...nodes.flatMap((n) => [...(n.input ?? []), ...(n.output ?? [])]), ...(graph.input ?? []).map((i) => i.name as string)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
  const addInit = (name: string, dataType: number, dims: number[], data: ArrayBufferView): string => {
    newInits.push({ name, dataType, dims, rawData: bytesOf(data) });
    return name;
  };
  interface Quantized {
    q: string;
    scale: string;
    zeroPoint: string;
    scaleValue: number;
    zeroPointValue: number;
  }
  const quantized = new Map<string, Quantized>();
  const floatReady = new Set<string>((graph.input ?? []).map((i) => i.name as string));
  const int8Ops: Record<string, number> = {};
  const floatOps: Record<string, number> = {};
  const count = (table: Record<string, number>, op: string): void => {
    table[op] = (table[op] ?? 0) + 1;
  };

  /** The exact name (no suffix may be added: OpenCV derives the scale's name from the value's). */
  const exact = (name: string): string => {
    if (used.has(name)) throw new Error(`quantize: the name ${name} is already used in the graph`);
    used.add(name);
    return name;
  };
  /** Declares `name` as available in uint8 (its producer is being written) with these parameters. */
  const declareQuantized = (name: string, params: { scale: number; zeroPoint: number }): Quantized => {
    const entry: Quantized = {
      q: exact(`${name}_quantized`),
      scale: addInit(exact(`${name}_scale`), DT.FLOAT, [], Float32Array.of(params.scale)),
      zeroPoint: addInit(exact(`${name}_zero_point`), DT.UINT8, [], Uint8Array.of(params.zeroPoint)),
      scaleValue: params.scale,
      zeroPointValue: params.zeroPoint,
    };
    quantized.set(name, entry);
    return entry;
  };
  const asQuantized = (name: string): Quantized => {
    const existing = quantized.get(name);
    if (existing) return existing;
    const entry = declareQuantized(name, paramsOf(name));
    out.push({ opType: 'QuantizeLinear', input: [name, entry.scale, entry.zeroPoint], output: [entry.q], name: `${name}/quantize` });
    count(int8Ops, 'QuantizeLinear');
    return entry;
  };
  const asFloat = (name: string): string => {
    if (floatReady.has(name) || initializers.has(name) || name === '') return name;
    const entry = quantized.get(name);
    if (!entry) throw new Error(`quantize: value ${name} is used before it is produced`);
    out.push({ opType: 'DequantizeLinear', input: [entry.q, entry.scale, entry.zeroPoint], output: [name], name: `${name}/dequantize` });
    count(int8Ops, 'DequantizeLinear');
    floatReady.add(name);
    return name;
  };
  const skipped = new Set<onnx.INodeProto>([...fusedActivation.values(), ...[...addActivations.values()].flatMap((a) => a.activations)]);

  for (const node of nodes) {
    if (skipped.has(node)) continue;
    const inputs = node.input ?? [];
    const outputs = node.output ?? [];
    const attrs = node.attribute ?? [];
    if (convInInt8(node)) {
      const weight = initializers.get(inputs[1]) as onnx.ITensorProto;
      const dims = (weight.dims ?? []).map(Number);
      const x = asQuantized(inputs[0]);
      const { q, scales } = quantizeWeights(floatValues(weight), dims, 0);
      const co = dims[0];
      const bias = inputs.length >= 3 ? floatValues(initializers.get(inputs[2]) as onnx.ITensorProto) : new Float32Array(co);
      const biasQ = new Int32Array(co);
      for (let k = 0; k < co; k++) biasQ[k] = Math.max(-2147483647, Math.min(2147483647, Math.round(bias[k] / (x.scaleValue * scales[k]))));
      const act = fusedActivation.get(node);
      const result = act ? (act.output ?? [])[0] : outputs[0];
      const clipHi = clipHiOf(act);
      // Weight names end in _int8/_int32, never _quantized: that suffix is reserved for activations (see above).
      const wName = addInit(fresh(`${inputs[1]}_int8`), DT.INT8, dims, q);
      const wScale = addInit(fresh(`${inputs[1]}_int8_scale`), DT.FLOAT, [co], scales);
      const wZero = addInit(fresh(`${inputs[1]}_int8_zero_point`), DT.INT8, [co], new Int8Array(co));
      const bName = addInit(fresh(`${inputs[1]}_bias_int32`), DT.INT32, [co], biasQ);
      const y = declareQuantized(result, paramsOf(result, clipHi));
      out.push({ opType: 'QLinearConv', input: [x.q, x.scale, x.zeroPoint, wName, wScale, wZero, y.scale, y.zeroPoint, bName], output: [y.q], name: node.name, attribute: attrs });
      count(int8Ops, 'QLinearConv');
      continue;
    }
    const gemmAttr = (name: string, fallback: number): number => {
      const a = attrs.find((t) => t.name === name);
      return a ? Number(a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f : a.i) : fallback;
    };
    if (node.opType === 'Gemm' && isFloatConst(inputs[1]) && gemmAttr('transA', 0) === 0 && gemmAttr('alpha', 1) === 1 && gemmAttr('beta', 1) === 1) {
      const weight = initializers.get(inputs[1]) as onnx.ITensorProto;
      let dims = (weight.dims ?? []).map(Number);
      let values = floatValues(weight);
      if (gemmAttr('transB', 0) === 1) {
        const [o, i] = dims;
        const t = new Float32Array(values.length);
        for (let r = 0; r < o; r++) for (let k = 0; k < i; k++) t[k * o + r] = values[r * i + k];
        values = t;
        dims = [i, o];
      }
      const x = asQuantized(inputs[0]);
      const { q, scales } = quantizeWeights(values, dims, 1);
      const product = fresh(`${outputs[0]}/matmul`);
      // The calibration saw the output with its bias; widening that range by the largest |bias| covers the bare product.
      const bias = inputs[2] && isFloatConst(inputs[2]) ? floatValues(initializers.get(inputs[2]) as onnx.ITensorProto) : undefined;
      const margin = bias ? bias.reduce((m, b) => Math.max(m, Math.abs(b)), 0) : 0;
      const range = ranges.get(outputs[0]) ?? { lo: 0, hi: 0 };
      const y = declareQuantized(product, activationParams({ lo: range.lo - margin, hi: range.hi + margin }));
      const wName = addInit(fresh(`${inputs[1]}_int8`), DT.INT8, dims, q);
      const wScale = addInit(fresh(`${inputs[1]}_int8_scale`), DT.FLOAT, [dims[1]], scales);
      const wZero = addInit(fresh(`${inputs[1]}_int8_zero_point`), DT.INT8, [dims[1]], new Int8Array(dims[1]));
      out.push({ opType: 'QLinearMatMul', input: [x.q, x.scale, x.zeroPoint, wName, wScale, wZero, y.scale, y.zeroPoint], output: [y.q], name: node.name });
      count(int8Ops, 'QLinearMatMul');
      if (bias) {
        out.push({ opType: 'Add', input: [asFloat(product), inputs[2]], output: [outputs[0]], name: `${node.name}/bias` });
        count(floatOps, 'Add');
      } else {
        out.push({ opType: 'Identity', input: [asFloat(product)], output: [outputs[0]], name: `${node.name}/out` });
      }
      floatReady.add(outputs[0]);
      continue;
    }
    const plannedAdd = addActivations.get(node);
    if (plannedAdd) {
      const [a, b] = inputs.map(asQuantized);
      const writes = [...(plannedAdd.rawNeeded ? [undefined] : []), ...plannedAdd.activations];
      for (const act of writes) {
        const result = act ? (act.output ?? [])[0] : outputs[0];
        const y = declareQuantized(result, paramsOf(result, clipHiOf(act)));
        const name = act ? `${node.name}/${act.opType}` : node.name;
        out.push({ opType: 'QLinearAdd', domain: MICROSOFT_DOMAIN, input: [a.q, a.scale, a.zeroPoint, b.q, b.scale, b.zeroPoint, y.scale, y.zeroPoint], output: [y.q], name });
        count(int8Ops, 'QLinearAdd');
      }
      continue;
    }
    if (node.opType === 'GlobalAveragePool' && placement.globalAveragePool === 'int8' && quantized.has(inputs[0])) {
      const x = quantized.get(inputs[0]) as Quantized;
      const y = declareQuantized(outputs[0], paramsOf(outputs[0]));
      const channelsLast: onnx.IAttributeProto = { name: 'channels_last', type: onnx.AttributeProto.AttributeType.INT, i: 0 };
      out.push({ opType: 'QLinearGlobalAveragePool', domain: MICROSOFT_DOMAIN, input: [x.q, x.scale, x.zeroPoint, y.scale, y.zeroPoint], output: [y.q], name: node.name, attribute: [channelsLast] });
      count(int8Ops, 'QLinearGlobalAveragePool');
      continue;
    }
    // MaxPool and Flatten move uint8 values without changing them: the output keeps the input's parameters. A MaxPool on a float
    // value that only int8 convolutions read quantizes its input instead of its output (exact: the max commutes with rounding),
    // so the pool runs on uint8 (onnxruntime's float MaxPool outside its NCHWc layout was 17x slower than its uint8 one).
    const pooledForInt8 = node.opType === 'MaxPool' && (consumers.get(outputs[0]) ?? []).every(convInInt8) && !graphOutputs.has(outputs[0]);
    if ((node.opType === 'MaxPool' || node.opType === 'Flatten') && (quantized.has(inputs[0]) || pooledForInt8) && outputs.length === 1) {
      const x = asQuantized(inputs[0]);
      const y = declareQuantized(outputs[0], { scale: x.scaleValue, zeroPoint: x.zeroPointValue });
      out.push({ ...node, input: [x.q], output: [y.q] });
      count(int8Ops, node.opType as string);
      continue;
    }
    if (node.opType === 'Concat' && inputs.every((i) => quantized.has(i))) {
      const parts = inputs.map((i) => quantized.get(i) as Quantized);
      if (parts.every((p) => p.scaleValue === parts[0].scaleValue && p.zeroPointValue === parts[0].zeroPointValue)) {
        const y = declareQuantized(outputs[0], { scale: parts[0].scaleValue, zeroPoint: parts[0].zeroPointValue });
        out.push({ ...node, input: parts.map((p) => p.q), output: [y.q] });
        count(int8Ops, 'Concat');
        continue;
      }
    }
    out.push({ ...node, input: inputs.map(asFloat) });
    for (const o of outputs) floatReady.add(o);
    count(floatOps, node.opType as string);
  }
  for (const o of graph.output ?? []) asFloat(o.name as string);

  const referenced = new Set(out.flatMap((n) => n.input ?? []));
  graph.node = out;
  graph.initializer = [...(graph.initializer ?? []).filter((t) => referenced.has(t.name as string)), ...newInits.filter((t) => referenced.has(t.name as string))];
  graph.valueInfo = [];
  if (out.some((n) => n.domain === MICROSOFT_DOMAIN) && !(model.opsetImport ?? []).some((o) => o.domain === MICROSOFT_DOMAIN)) {
    model.opsetImport = [...(model.opsetImport ?? []), { domain: MICROSOFT_DOMAIN, version: 1 }];
  }
  setMetadata(model, 'agekit_format', 'int8');
  const calibrationImages = Math.floor(options.calibration.images.length / options.calibration.imageShape.reduce((a, b) => a * b, 1));
  return { bytes: encode(model), report: { calibrationImages, method: options.method ?? 'minmax', placement, int8Ops, floatOps } };
}
