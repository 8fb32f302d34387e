import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '@agekit/dataset';
import type { Task } from './tasks';
import type { Normalization } from './images';
import type { ArchitectureName } from './architectures';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const METADATA_JSON = 'agekit-model.json';

/** Everything a consumer (predict, evaluate, the ONNX exporter) needs besides the weights. See README.md. */
export interface AgekitModelMetadata {
  format: 'agekit-model';
  version: 1;
  /** A built architecture, or a pretrained backbone with a trained head (e.g. 'faceapi-xception+dense'). */
  architecture: ArchitectureName | `${string}+dense`;
  parameters: number;
  task: Task;
  input: {
    /** Tensor layout of the model input. */
    layout: 'NHWC';
    size: number;
    channels: 1 | 3;
    colour: 'rgb' | 'grayscale';
    /** How images are brought to size x size: stretched (sharp fit 'fill', bilinear). */
    resize: 'fill';
    /** x' = (x - mean) / std per channel, x in 0..255. */
    normalization: Normalization;
  };
  output: {
    /** 'probabilities': softmax over task.labels; 'standardized-age': age = value * task.targetScale.std + mean. */
    kind: 'probabilities' | 'standardized-age';
  };
  /** tfjs backend the model was trained on. */
  backend: string;
  gitCommit?: string;
  createdAt: string;
  /** Validation (or test) figures at the saved epoch. */
  metrics?: Record<string, number | null>;
  /** The training settings, for the record. */
  training?: Record<string, unknown>;
}

function joinWeights(data: tf.io.WeightData | undefined): ArrayBuffer {
  if (data === undefined) return new ArrayBuffer(0);
  return tf.io.CompositeArrayBuffer.join(data);
}

/** An IOHandler that writes model.json + weights.bin into `dir` atomically (no tfjs-node needed). */
export function fileSaveHandler(dir: string): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    await fs.mkdir(dir, { recursive: true });
    const weights = joinWeights(artifacts.weightData);
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
    };
    await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weights));
    await writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        modelTopologyBytes: JSON.stringify(modelJson.modelTopology).length,
        weightSpecsBytes: JSON.stringify(modelJson.weightsManifest).length,
        weightDataBytes: weights.byteLength,
      },
    };
  });
}

/**
 * A tfjs IOHandler that reads a model JSON and its weight shards from the file system (no tfjs-node):
 * `dir/model.json`, or the JSON file itself when `source` ends in .json (graph models such as the peers').
 */
export function fileLoadHandler(source: string): tf.io.IOHandler {
  const file = source.endsWith('.json') ? source : path.join(source, MODEL_JSON);
  const dir = path.dirname(file);
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await fs.readFile(file, 'utf8')) as tf.io.ModelJSON;
      } catch (error) {
        throw new Error(`${file}: cannot read model (${error instanceof Error ? error.message : String(error)})`);
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const bytes = await fs.readFile(path.join(dir, p));
          buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        }
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: (json as { signature?: object }).signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: tf.io.CompositeArrayBuffer.join(buffers),
      };
    },
  };
}

/** Save model.json + weights.bin + agekit-model.json into `dir`. */
export async function saveModel(model: tf.LayersModel, dir: string, metadata: AgekitModelMetadata): Promise<void> {
  await model.save(fileSaveHandler(dir));
  await writeFileAtomic(path.join(dir, METADATA_JSON), JSON.stringify(metadata, jsonNumbers, 2) + '\n');
}

/** JSON has no Infinity/NaN: write them as null (readers treat a null band max as open-ended). */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/**
 * The model folder `dir` names: `dir` itself when it holds agekit-model.json, else the one model folder below it, two
 * levels deep at most (a transfer run's <out>/<task>/, a trainer recipe's <out>/model/ or <out>/model/<task>/). No model
 * or several: an error naming what was found, so a command never picks one of two models silently.
 */
export async function resolveModelFolder(dir: string): Promise<string> {
  const root = path.resolve(dir);
  if (existsSync(path.join(root, METADATA_JSON))) return root;
  const found: string[] = [];
  const search = async (folder: string, depth: number): Promise<void> => {
    const entries = await fs.readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((e) => e.isDirectory() && e.name !== 'cache' && !e.name.startsWith('.'))) {
      const child = path.join(folder, entry.name);
      if (existsSync(path.join(child, METADATA_JSON))) found.push(child);
      else if (depth > 1) await search(child, depth - 1);
    }
  };
  await search(root, 2);
  if (found.length === 1) return found[0];
  if (found.length === 0) throw new Error(`${root}: not an agekit model folder (no ${METADATA_JSON} in it or in its subfolders)`);
  throw new Error(`${root}: holds ${found.length} models (${found.map((f) => path.relative(root, f)).join(', ')}): name one`);
}

/** The metadata of the model in `dir` (see resolveModelFolder). */
export async function readModelMetadata(dir: string): Promise<AgekitModelMetadata> {
  const file = path.join(await resolveModelFolder(dir), METADATA_JSON);
  let meta: AgekitModelMetadata;
  try {
    meta = JSON.parse(await fs.readFile(file, 'utf8')) as AgekitModelMetadata;
  } catch (error) {
    throw new Error(`${file}: cannot read model metadata (${error instanceof Error ? error.message : String(error)})`);
  }
  if (meta.format !== 'agekit-model') throw new Error(`${file}: not an agekit model metadata file (format ${String(meta.format)})`);
  // restore what JSON cannot hold
  meta.task.representativeAges = meta.task.representativeAges.map((a) => (a === null ? NaN : a));
  meta.task.bands = meta.task.bands?.map((b) => ({ ...b, max: b.max === null ? Infinity : b.max }));
  return meta;
}

export interface LoadedModel {
  model: tf.LayersModel;
  metadata: AgekitModelMetadata;
  /** The model folder read (see resolveModelFolder). */
  dir: string;
}

/** Load a model saved by `saveModel` (on the active backend) from `dir` or the one model folder below it. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const modelDir = await resolveModelFolder(dir);
  const metadata = await readModelMetadata(modelDir);
  const model = await tf.loadLayersModel(fileLoadHandler(modelDir));
  return { model, metadata, dir: modelDir };
}
