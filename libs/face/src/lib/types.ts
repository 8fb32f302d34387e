/** A rectangle in input-image pixels, top-left origin. */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** [x, y] in input-image pixels (continuous; pixel i covers [i, i+1)). */
export type Point = [number, number];

/** Landmarks of one face; `leftEye` is the eye with the smaller x in an upright face (the subject's right eye). */
export interface FaceLandmarks {
  leftEye: Point;
  rightEye: Point;
  nose: Point;
  mouth: Point;
}

export interface DetectedFace {
  box: FaceBox;
  /** Detector confidence, 0..1. */
  score: number;
  landmarks: FaceLandmarks;
}
