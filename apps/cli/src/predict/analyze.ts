import type { PixelImage } from '@agekit/dataset';
import { alignFace, loadFaceDetector, type FaceBox, type FaceDetector } from '@agekit/face';
import { currentBackend, initBackend } from '@agekit/runtime';
import { loadBundlePredictor, type AgePrediction, type ClassProbability } from '@agekit/onnx';

/** One face of a photo: where it is, how sure the detector was (null without detection) and the model's answer. */
export interface PhotoFace {
  box: FaceBox;
  score: number | null;
  expectedAge: number | null;
  top: ClassProbability[];
  group: string | null;
  /** What is drawn next to the box, e.g. "34 y (30-39 62%)". */
  label: string;
}

export interface PhotoResult {
  width: number;
  height: number;
  faces: PhotoFace[];
}

export interface PhotoAnalyzer {
  analyze(image: PixelImage, options?: { detect?: boolean }): Promise<PhotoResult>;
  dispose(): Promise<void>;
}

export interface PhotoAnalyzerOptions {
  /** An exported bundle (model.onnx, preprocess.json, labels.json). */
  bundleDir: string;
  /** Find faces (default true); false: the whole image is one face. */
  detect?: boolean;
  /** Smallest detector confidence kept (default 0.5). */
  minScore?: number;
  /** Classes reported per face (default 3). */
  top?: number;
  /** Faces per photo at most (default 20). */
  maxFaces?: number;
}

/** The side of the aligned crop the model sees before its own resize: UTKFace's 200 x 200. */
export const ALIGNED_SIZE = 200;

/** "34 y (30-39 62%)", "31 y (31 9%)", "MIDDLE 70%", "34 y". */
export function faceLabel(p: AgePrediction): string {
  const best = p.top[0];
  const percent = best ? `${best.label} ${Math.round(best.probability * 100)}%` : '';
  if (p.expectedAge !== null) return percent ? `${Math.round(p.expectedAge)} y (${percent})` : `${Math.round(p.expectedAge)} y`;
  return percent || (p.group ?? '?');
}

/**
 * Detector (face-api SSD + landmarks, on tfjs) -> UTKFace-style alignment (200 x 200) -> the bundle's model (onnxruntime).
 * The detector is loaded up front when detection is on by default, else on the first image that asks for it.
 */
export async function createPhotoAnalyzer(options: PhotoAnalyzerOptions): Promise<PhotoAnalyzer> {
  const predictor = await loadBundlePredictor(options.bundleDir, { top: options.top });
  let detector: FaceDetector | undefined;
  let detectorLoading: Promise<FaceDetector> | undefined;
  const getDetector = (): Promise<FaceDetector> => {
    detectorLoading ??= (async () => {
      // the detector runs on tfjs: keep a backend the app already chose, else pick the best one
      if (!currentBackend()) await initBackend();
      detector = await loadFaceDetector({ minScore: options.minScore, maxFaces: options.maxFaces });
      return detector;
    })();
    return detectorLoading;
  };
  try {
    if (options.detect !== false) await getDetector();
  } catch (error) {
    await predictor.dispose();
    throw error;
  }
  let disposed = false;
  return {
    async analyze(image, analyzeOptions = {}) {
      if (disposed) throw new Error('the analyzer was disposed');
      const detect = analyzeOptions.detect ?? options.detect ?? true;
      if (!detect) {
        const [p] = await predictor.predict([image]);
        return { width: image.width, height: image.height, faces: [{ box: { x: 0, y: 0, width: image.width, height: image.height }, score: null, ...p, label: faceLabel(p) }] };
      }
      const found = await (await getDetector()).detect(image);
      const crops = found.map((face) => alignFace(image, face, { size: ALIGNED_SIZE }));
      const predictions = await predictor.predict(crops);
      return {
        width: image.width,
        height: image.height,
        faces: found.map((face, i) => ({ box: face.box, score: face.score, ...predictions[i], label: faceLabel(predictions[i]) })),
      };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      detector?.dispose();
      await predictor.dispose();
    },
  };
}
