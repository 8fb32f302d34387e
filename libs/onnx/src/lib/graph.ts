import { onnx } from 'onnx-proto';

/** ONNX operator set this package writes, and the IR version that goes with it (ONNX 1.8). */
export const OPSET_VERSION = 13;
export const IR_VERSION = 7;

export type AttributeValue = number | number[] | string | { float: number } | { floats: number[] };

/** Float attribute marker: plain numbers are written as INT(S), wrap a value to write FLOAT(S). */
export const float = (value: number): { float: number } => ({ float: value });
export const floats = (values: number[]): { floats: number[] } => ({ floats: values });

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`onnx: attribute ${name}=${value} is not an integer (wrap floats with float())`);
    return { name, type: T.INT, i: value };
  }
  if (Array.isArray(value)) {
    for (const v of value) if (!Number.isInteger(v)) throw new Error(`onnx: attribute ${name} has a non-integer ${v}`);
    return { name, type: T.INTS, ints: value };
  }
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.FLOATS, floats: value.floats };
}

/** Bytes of exactly this typed array (never a pooled Buffer's whole backing store). */
function bytesOf(array: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** Collects nodes and initializers and writes an ONNX ModelProto. */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly constants = new Map<string, string>();

  /** A fresh value name derived from `base` (ONNX names must be unique in a graph). */
  name(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'value';
    let candidate = clean;
    for (let i = 1; this.usedNames.has(candidate); i++) candidate = `${clean}_${i}`;
    this.usedNames.add(candidate);
    return candidate;
  }

  reserve(name: string): void {
    if (this.usedNames.has(name)) throw new Error(`onnx: value name ${name} is already used`);
    this.usedNames.add(name);
  }

  node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttributeValue> = {}, nodeName?: string): void {
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: nodeName ?? `${opType}_${this.nodes.length}`,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
  }

  /** A FLOAT initializer; the data is copied so later changes to `values` cannot leak in. */
  floatInitializer(base: string, dims: number[], values: Float32Array | number[]): string {
    const data = Float32Array.from(values);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`onnx: initializer ${base} has ${data.length} values, dims [${dims}] need ${expected}`);
    const name = this.name(base);
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(data) });
    return name;
  }

  int64Initializer(base: string, values: number[]): string {
    const name = this.name(base);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: bytesOf(data) });
    return name;
  }

  /** A shared scalar FLOAT constant (one initializer per value). */
  scalar(value: number): string {
    const key = `f${Math.fround(value)}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.floatInitializer(`const_${String(value).replace(/[^0-9a-z]/gi, '_')}`, [], [value]);
    this.constants.set(key, name);
    return name;
  }

  /** Rename the output `from` of the node that produces it to `to`; false when `from` is a graph input or also consumed elsewhere. */
  renameProducedValue(from: string, to: string): boolean {
    const producer = this.nodes.find((n) => n.output?.includes(from));
    if (!producer) return false;
    if (this.nodes.some((n) => n.input?.includes(from))) return false;
    producer.output = (producer.output ?? []).map((o) => (o === from ? to : o));
    return true;
  }
}

export interface ValueInfo {
  name: string;
  /** Dimensions; a string is a symbolic dimension such as 'N'. */
  dims: Array<number | string>;
}

function valueInfo(v: ValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: v.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export interface ModelProtoOptions {
  graphName: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  producerVersion: string;
  docString?: string;
  metadata?: Record<string, string>;
}

export function encodeModel(builder: GraphBuilder, options: ModelProtoOptions): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: '@agekit/onnx',
    producerVersion: options.producerVersion,
    docString: options.docString ?? '',
    graph: {
      name: options.graphName,
      node: builder.nodes,
      initializer: builder.initializers,
      input: options.inputs.map(valueInfo),
      output: options.outputs.map(valueInfo),
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const error = onnx.ModelProto.verify(model);
  if (error) throw new Error(`onnx: invalid ModelProto: ${error}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Decode a model (for tests and inspection). */
export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
