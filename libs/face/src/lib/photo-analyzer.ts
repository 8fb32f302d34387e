import type { PixelImage } from '@agekit/dataset';
import { currentBackend, initBackend } from '@agekit/runtime';
import { alignFace } from './align';
import { loadFaceDetector, type FaceDetector } from './detector';
import type { FaceBox } from './types';

/** What an age model says about one face crop (structurally @agekit/onnx's AgePrediction). */
export interface AgeEstimate {
  /** Years, or null when the model's classes carry no ages. */
  expectedAge: number | null;
  /** The most probable classes, most probable first. */
  top: Array<{ label: string; probability: number }>;
  /** The most probable class when the classes are age groups; null otherwise. */
  group: string | null;
}

/**
 * Ages from aligned face crops, one estimate per crop in order. @agekit/onnx's BundlePredictor (loadBundlePredictor)
 * is one; this library does not depend on it, so the caller passes it in.
 */
export interface AgePredictor {
  predict(faces: PixelImage[]): Promise<AgeEstimate[]>;
  dispose(): Promise<void>;
}

/** One face of a photo: where it is, how sure the detector was (null without detection) and the model's answer. */
export type PhotoFace = { box: FaceBox; score: number | null } & AgeEstimate & {
    /** What is drawn next to the box, e.g. "34 y (30-39 62%)". */
    label: string;
  };

export interface PhotoResult {
  width: number;
  height: number;
  faces: PhotoFace[];
}

export interface PhotoAnalyzer {
  analyze(image: PixelImage, options?: { detect?: boolean }): Promise<PhotoResult>;
  /** Frees the detector and the predictor. */
  dispose(): Promise<void>;
}

export interface PhotoAnalyzerOptions {
  /** The age model; the analyzer owns it from here on (dispose, and a failed creation, dispose it). */
  predictor: AgePredictor;
  /** Find faces (default true); false: the whole image is one face. */
  detect?: boolean;
  /** Smallest detector confidence kept (default 0.5). */
  minScore?: number;
  /** Faces per photo at most (default 20). */
  maxFaces?: number;
}

/** The side of the aligned crop the model sees before its own resize: UTKFace's 200 x 200. */
export const ALIGNED_SIZE = 200;

/** "34 y (30-39 62%)", "31 y (31 9%)", "MIDDLE 70%", "34 y". */
export function faceLabel(p: AgeEstimate): string {
  const best = p.top[0];
  const percent = best ? `${best.label} ${Math.round(best.probability * 100)}%` : '';
  if (p.expectedAge !== null) return percent ? `${Math.round(p.expectedAge)} y (${percent})` : `${Math.round(p.expectedAge)} y`;
  return percent || (p.group ?? '?');
}

/**
 * Detector (face-api SSD + landmarks, on tfjs) -> UTKFace-style alignment (200 x 200) -> the age predictor.
 * The detector is loaded up front when detection is on by default, else on the first image that asks for it.
 */
export async function createPhotoAnalyzer(options: PhotoAnalyzerOptions): Promise<PhotoAnalyzer> {
  const { predictor } = options;
  let detector: FaceDetector | undefined;
  let detectorLoading: Promise<FaceDetector> | undefined;
  const getDetector = (): Promise<FaceDetector> => {
    detectorLoading ??= (async () => {
      // the detector runs on tfjs: keep a backend the caller already chose, else pick the best one
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
