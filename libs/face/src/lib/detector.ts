import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { PixelImage } from '@agekit/dataset';
import { currentBackend } from '@agekit/runtime';
import { checkPixelImage } from './align';
import type { DetectedFace, FaceBox, FaceLandmarks, Point } from './types';

export interface FaceDetectorOptions {
  /** Smallest detector confidence kept, in (0, 1]. Default 0.5. */
  minScore?: number;
  /** At most this many faces per image (the most confident ones), an integer >= 1. Default 20. */
  maxFaces?: number;
  /** Folder holding face-api's weight files. Default: the installed `@vladmandic/face-api/model`. */
  modelDir?: string;
}

export interface FaceDetector {
  /** Faces in `image`, sorted left to right (by box x). */
  detect(image: PixelImage): Promise<DetectedFace[]>;
  /** Frees the model weights; `detect` throws afterwards. */
  dispose(): void;
}

/** A face-api weight manifest or file could not be read. */
export class FaceModelError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'FaceModelError';
  }
}

// The slice of face-api's API this module uses (its bundled typings carry their own copy of tfjs's types).
interface FaceApiPoint { x: number; y: number }
interface FaceApiNet { loadFromWeightMap(map: tf.NamedTensorMap): void; dispose(throwOnRedispose?: boolean): void }
interface FaceApiDetection { score: number; box: { x: number; y: number; width: number; height: number } }
interface FaceApiSsd extends FaceApiNet { locateFaces(input: tf.Tensor3D, options: unknown): Promise<FaceApiDetection[]> }
interface FaceApiLandmarks { positions: FaceApiPoint[] }
interface FaceApiLandmarkNet extends FaceApiNet { detectLandmarks(input: tf.Tensor3D[]): Promise<FaceApiLandmarks | FaceApiLandmarks[]> }
interface FaceApiModule {
  SsdMobilenetv1: new () => FaceApiSsd;
  FaceLandmark68Net: new () => FaceApiLandmarkNet;
  SsdMobilenetv1Options: new (options: { minConfidence: number; maxResults: number }) => unknown;
}

let faceApi: FaceApiModule | undefined;
function faceApiModule(): FaceApiModule {
  // face-api's Node build for the wasm backend; it uses the same @tensorflow/tfjs instance as this module
  faceApi ??= require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  return faceApi;
}

/** The installed `@vladmandic/face-api/model` folder. */
export function defaultFaceModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

async function readWeightMap(dir: string, name: string): Promise<tf.NamedTensorMap> {
  const manifestFile = path.join(dir, `${name}-weights_manifest.json`);
  let groups: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  try {
    groups = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as typeof groups;
  } catch (error) {
    throw new FaceModelError(manifestFile, error instanceof Error ? error.message : String(error));
  }
  if (!Array.isArray(groups) || groups.length === 0) throw new FaceModelError(manifestFile, 'not a tfjs weights manifest (expected a non-empty array)');
  const buffers: Buffer[] = [];
  const weights: tf.io.WeightsManifestEntry[] = [];
  for (const group of groups) {
    for (const p of group.paths ?? []) {
      const file = path.join(dir, p);
      try {
        buffers.push(await fs.readFile(file));
      } catch (error) {
        throw new FaceModelError(file, error instanceof Error ? error.message : String(error));
      }
    }
    weights.push(...(group.weights ?? []));
  }
  const all = Buffer.concat(buffers);
  try {
    return tf.io.decodeWeights(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer, weights);
  } catch (error) {
    throw new FaceModelError(manifestFile, `weights do not decode: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function mean(points: FaceApiPoint[], from: number, to: number): Point {
  let x = 0, y = 0;
  for (let i = from; i <= to; i++) {
    x += points[i].x;
    y += points[i].y;
  }
  const n = to - from + 1;
  return [x / n, y / n];
}

/**
 * The four landmarks from the 68 iBUG points (image coordinates): eyes = means of 36-41 and 42-47 (36-41 is the eye
 * with the smaller x in an upright face), nose = tip (30), mouth = mean of the outer lip (48-59).
 */
export function landmarksFrom68(points: FaceApiPoint[]): FaceLandmarks {
  if (points.length !== 68) throw new RangeError(`expected 68 landmark points, got ${points.length}`);
  return { leftEye: mean(points, 36, 41), rightEye: mean(points, 42, 47), nose: [points[30].x, points[30].y], mouth: mean(points, 48, 59) };
}

/** SSD looks at a 512x512 resize; photos are shrunk to this longest side first (bounded memory on big photos). */
const DETECT_MAX_SIDE = 1024;
/** The landmark net looks at 112x112; face crops are shrunk to this longest side first. */
const LANDMARK_MAX_SIDE = 256;

/**
 * The RGB pixels of the region [x0, x0+w) x [y0, y0+h) of `image`, shrunk by area averaging so that the longer
 * side is at most `maxSide`. Returns the tensor and the scale (output pixels per input pixel).
 */
function regionTensor(image: PixelImage, x0: number, y0: number, w: number, h: number, maxSide: number): { tensor: tf.Tensor3D; scale: number } {
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const ow = Math.max(1, Math.round(w * scale));
  const oh = Math.max(1, Math.round(h * scale));
  const fx = w / ow, fy = h / oh;
  const { channels: c, data, width } = image;
  const out = new Int32Array(ow * oh * 3);
  for (let v = 0; v < oh; v++) {
    const sy0 = y0 + Math.floor(v * fy);
    const sy1 = Math.max(sy0 + 1, y0 + Math.floor((v + 1) * fy));
    for (let u = 0; u < ow; u++) {
      const sx0 = x0 + Math.floor(u * fx);
      const sx1 = Math.max(sx0 + 1, x0 + Math.floor((u + 1) * fx));
      let r = 0, g = 0, b = 0;
      for (let y = sy0; y < sy1; y++) {
        for (let x = sx0; x < sx1; x++) {
          const i = (y * width + x) * c;
          if (c === 1) {
            r += data[i];
            g += data[i];
            b += data[i];
          } else {
            r += data[i];
            g += data[i + 1];
            b += data[i + 2];
          }
        }
      }
      const n = (sy1 - sy0) * (sx1 - sx0);
      const o = (v * ow + u) * 3;
      out[o] = Math.round(r / n);
      out[o + 1] = Math.round(g / n);
      out[o + 2] = Math.round(b / n);
    }
  }
  return { tensor: tf.tensor3d(out, [oh, ow, 3], 'int32'), scale: ow / w };
}

function checkOptions(options: FaceDetectorOptions): Required<FaceDetectorOptions> {
  if (options === null || typeof options !== 'object') throw new TypeError('face detector options must be an object');
  const minScore = options.minScore ?? 0.5;
  if (typeof minScore !== 'number' || !(minScore > 0 && minScore <= 1)) throw new RangeError(`minScore must be a number in (0, 1], got ${String(options.minScore)}`);
  const maxFaces = options.maxFaces ?? 20;
  if (typeof maxFaces !== 'number' || !Number.isInteger(maxFaces) || maxFaces < 1 || maxFaces > 1000) {
    throw new RangeError(`maxFaces must be an integer from 1 to 1000, got ${String(options.maxFaces)}`);
  }
  const modelDir = options.modelDir ?? defaultFaceModelDir();
  if (typeof modelDir !== 'string' || modelDir === '') throw new TypeError('modelDir must be a non-empty path');
  return { minScore, maxFaces, modelDir };
}

/**
 * Load face-api's SSD MobileNet v1 face detector and its 68-point landmark net from `modelDir`.
 * The caller activates a tfjs backend first (`initBackend()` from @agekit/runtime; wasm is what this is tested on).
 */
export async function loadFaceDetector(options: FaceDetectorOptions = {}): Promise<FaceDetector> {
  const { minScore, maxFaces, modelDir } = checkOptions(options);
  if (!currentBackend()) throw new Error('no tfjs backend has been chosen; call initBackend() from @agekit/runtime first (wasm is the tested one)');
  const [ssdWeights, landmarkWeights] = [await readWeightMap(modelDir, 'ssd_mobilenetv1_model'), await readWeightMap(modelDir, 'face_landmark_68_model')];
  const api = faceApiModule();
  const ssd = new api.SsdMobilenetv1();
  const landmarkNet = new api.FaceLandmark68Net();
  try {
    ssd.loadFromWeightMap(ssdWeights);
    landmarkNet.loadFromWeightMap(landmarkWeights);
  } catch (error) {
    tf.dispose(Object.values(ssdWeights));
    tf.dispose(Object.values(landmarkWeights));
    throw new FaceModelError(modelDir, `face-api rejected the weights: ${error instanceof Error ? error.message : String(error)}`);
  }
  const ssdOptions = new api.SsdMobilenetv1Options({ minConfidence: minScore, maxResults: maxFaces });
  let disposed = false;

  async function detect(image: PixelImage): Promise<DetectedFace[]> {
    if (disposed) throw new Error('this face detector has been disposed');
    checkPixelImage(image);
    const { tensor: input, scale } = regionTensor(image, 0, 0, image.width, image.height, DETECT_MAX_SIDE);
    let detections: FaceApiDetection[];
    try {
      detections = await ssd.locateFaces(input, ssdOptions);
    } finally {
      input.dispose();
    }
    const boxes: FaceBox[] = [];
    const scores: number[] = [];
    const crops: tf.Tensor3D[] = [];
    const cropScales: number[] = [];
    try {
      for (const d of detections) {
        const x0 = Math.max(0, Math.floor(d.box.x / scale));
        const y0 = Math.max(0, Math.floor(d.box.y / scale));
        const x1 = Math.min(image.width, Math.ceil((d.box.x + d.box.width) / scale));
        const y1 = Math.min(image.height, Math.ceil((d.box.y + d.box.height) / scale));
        if (x1 - x0 < 4 || y1 - y0 < 4) continue;
        boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
        scores.push(d.score);
        const crop = regionTensor(image, x0, y0, x1 - x0, y1 - y0, LANDMARK_MAX_SIDE);
        crops.push(crop.tensor);
        cropScales.push(crop.scale);
      }
      if (crops.length === 0) return [];
      const result = await landmarkNet.detectLandmarks(crops);
      const marks = Array.isArray(result) ? result : [result];
      const faces = boxes.map((box, i): DetectedFace => {
        const k = cropScales[i];
        const shifted = marks[i].positions.map((p) => ({ x: p.x / k + box.x, y: p.y / k + box.y }));
        return { box, score: scores[i], landmarks: landmarksFrom68(shifted) };
      });
      return faces.sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
    } finally {
      tf.dispose(crops);
    }
  }

  return {
    detect,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      ssd.dispose(false);
      landmarkNet.dispose(false);
    },
  };
}
