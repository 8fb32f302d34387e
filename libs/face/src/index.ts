// Public API of @agekit/face
export type { FaceBox, Point, FaceLandmarks, DetectedFace } from './lib/types';
export { loadFaceDetector, defaultFaceModelDir, landmarksFrom68, FaceModelError } from './lib/detector';
export type { FaceDetector, FaceDetectorOptions } from './lib/detector';
export { alignFace, alignmentTransform, fitSimilarity, applyTransform, invertTransform, composeTransforms, warpSimilarity, UTKFACE_TEMPLATE } from './lib/align';
export type { AlignOptions, SimilarityTransform } from './lib/align';
export { ALIGNED_SIZE, createPhotoAnalyzer, faceLabel } from './lib/photo-analyzer';
export type { AgeEstimate, AgePredictor, PhotoAnalyzer, PhotoAnalyzerOptions, PhotoFace, PhotoResult } from './lib/photo-analyzer';
export { annotatedName, annotationClash, listPhotoInputs, PhotoInputError, PhotoModelLoadError, predictPhotos } from './lib/predict-photos';
export type { DrawAnnotations, PhotoInput, PhotoPrediction, PredictPhotosOptions, PredictPhotosResult } from './lib/predict-photos';
export { createAgeServer } from './lib/serve/server';
export type { AgeServerOptions } from './lib/serve/server';
export { DEFAULT_SERVE_LIMITS, resolveServeLimits } from './lib/serve/limits';
export type { ServeLimits } from './lib/serve/limits';
export type { ServeErrorBody } from './lib/serve/http';
