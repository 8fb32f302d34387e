import * as path from 'node:path';
import { decodeImage, type PixelImage } from '@agekit/dataset';
import { initBackend } from '@agekit/runtime';
import { ALIGNED_SIZE, createPhotoAnalyzer, faceLabel } from './photo-analyzer';
import { recordingPredictor } from './predictor.testing';

const SAMPLE1 = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');

describe('faceLabel', () => {
  it('expected age with the most probable class', () => {
    expect(faceLabel({ expectedAge: 34.4, top: [{ label: '30-39', probability: 0.624 }], group: '30-39' })).toBe('34 y (30-39 62%)');
  });
  it('regression: the age only', () => {
    expect(faceLabel({ expectedAge: 41.6, top: [], group: null })).toBe('42 y');
  });
  it('groups without ages: the group and its probability', () => {
    expect(faceLabel({ expectedAge: null, top: [{ label: 'MIDDLE', probability: 0.7 }], group: 'MIDDLE' })).toBe('MIDDLE 70%');
    expect(faceLabel({ expectedAge: null, top: [], group: 'OLD' })).toBe('OLD');
  });
});

describe('createPhotoAnalyzer', () => {
  const gray = (width: number, height: number, value: number): PixelImage => ({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(value) });

  it('without detection: the whole image is one face, given to the predictor as it is; dispose frees the predictor', async () => {
    const predictor = recordingPredictor();
    const analyzer = await createPhotoAnalyzer({ predictor, detect: false });
    const image = gray(30, 20, 90);
    const result = await analyzer.analyze(image);
    expect(predictor.seen).toEqual([image]);
    expect(result).toEqual({
      width: 30,
      height: 20,
      faces: [{ box: { x: 0, y: 0, width: 30, height: 20 }, score: null, expectedAge: 90, top: [{ label: '90', probability: 1 }], group: null, label: '90 y (90 100%)' }],
    });
    await analyzer.dispose();
    expect(predictor.disposed).toBe(1);
    await analyzer.dispose(); // twice is harmless
    expect(predictor.disposed).toBe(1);
    await expect(analyzer.analyze(image)).rejects.toThrow(/disposed/);
  });

  it('a detector that cannot be loaded (bad option) rejects and disposes the predictor it was given', async () => {
    const predictor = recordingPredictor();
    await expect(createPhotoAnalyzer({ predictor, minScore: 2 })).rejects.toThrow(RangeError);
    expect(predictor.disposed).toBe(1);
  });

  it('with detection (loaded on first use): face-api sample1.jpg gives three aligned 200x200 crops, left to right, with the detector scores', async () => {
    await initBackend({ backend: 'wasm' });
    const predictor = recordingPredictor();
    const analyzer = await createPhotoAnalyzer({ predictor, detect: false });
    try {
      const photo = await decodeImage(SAMPLE1, { channels: 3 });
      const result = await analyzer.analyze(photo, { detect: true });
      expect([result.width, result.height]).toEqual([1920, 1280]);
      expect(result.faces).toHaveLength(3);
      expect(predictor.seen).toHaveLength(3);
      for (const [i, crop] of predictor.seen.entries()) {
        expect([crop.width, crop.height, crop.channels]).toEqual([ALIGNED_SIZE, ALIGNED_SIZE, 3]);
        const face = result.faces[i];
        expect(face.score).toBeGreaterThanOrEqual(0.5);
        expect(face.box.width).toBeGreaterThan(100);
        if (i > 0) expect(face.box.x).toBeGreaterThan(result.faces[i - 1].box.x);
        // each face carries the predictor's answer for its own crop
        expect(face.expectedAge).toBe(crop.data[0]);
        expect(face.label).toBe(faceLabel(face));
      }
    } finally {
      await analyzer.dispose();
    }
  }, 120_000);
});
