// Test helper (specs only; excluded from the library build by tsconfig.lib.json).
import type { PixelImage } from '@agekit/dataset';
import type { AgePredictor } from './photo-analyzer';

/**
 * An age predictor that answers with the crop's first byte as the age (so a test can tell which crop an answer
 * belongs to) and records every crop it was given and how often it was disposed.
 */
export function recordingPredictor(): AgePredictor & { seen: PixelImage[]; disposed: number } {
  const predictor = {
    seen: [] as PixelImage[],
    disposed: 0,
    async predict(faces: PixelImage[]) {
      predictor.seen.push(...faces);
      return faces.map((face) => ({ expectedAge: face.data[0], top: [{ label: String(face.data[0]), probability: 1 }], group: null }));
    },
    async dispose() {
      predictor.disposed++;
    },
  };
  return predictor;
}
