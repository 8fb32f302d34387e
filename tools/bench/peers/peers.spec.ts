import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@agekit/runtime';
import { faceresAge, gearAge, padToSquareCentred, runPeer, scoreAges, type AgePeer } from './peers';

// face-api's own Node build (shares this process's @tensorflow/tfjs): the reference padding.
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as { padToSquare(x: tf.Tensor4D, centre: boolean): tf.Tensor4D };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

describe('peer preprocessing and decoding', () => {
  it('pads to square like face-api (centred, odd remainder first)', () => {
    const img = tf.randomUniform([5, 8, 3], 0, 255, 'float32', 1) as tf.Tensor3D;
    const mine = padToSquareCentred(img);
    const ref = faceapi.padToSquare(tf.expandDims(img, 0) as tf.Tensor4D, true);
    expect(mine.shape).toEqual([8, 8, 3]);
    expect(maxAbsDiff(mine.dataSync(), ref.dataSync())).toBe(0);
  });

  it('decodes gear and faceres age outputs as human does', () => {
    expect(gearAge([0, 0, 0, 1, 0, 0, 0])).toBe(35.5);
    // best bin 28 (p .6), then towards 35.5 by .4: 28 + .4 * 7.5 = 31
    expect(gearAge([0, 0, 0.6, 0.4, 0, 0, 0])).toBeCloseTo(31, 10);
    const p = new Array<number>(100).fill(0);
    p[30] = 0.7;
    p[31] = 0.2;
    p[29] = 0.1;
    expect(faceresAge(p)).toBeCloseTo(32, 10);
  });
});

describe('scoreAges', () => {
  it('gives MAE, CS(5), bands and a rank AUC that is 1 for exact ages', () => {
    const actual = [20, 21, 22, 30, 40, 50];
    const s = scoreAges(actual, actual.map((a) => a + 0.2), { aucRange: { min: 20, max: 50 }, bandEdges: [20, 30, 40, 50] });
    expect(s.mae).toBeCloseTo(0.2, 10);
    expect(s.cs5).toBe(1);
    expect(s.auc).toBe(1);
    expect(s.bands.map((b) => b.count)).toEqual([3, 1, 1, 1]);
    const bad = scoreAges(actual, [50, 50, 50, 20, 20, 20], { aucRange: { min: 20, max: 50 } });
    expect(bad.auc).toBeLessThan(0.5);
    expect(bad.cs5).toBe(0);
  });
});

describe('runPeer', () => {
  it('with flip: each age is the mean of the peer on the image and on its mirror', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-peers-'));
    try {
      // one row of 3 pixels, red 10, 20, 60: a peer that answers the top-left red value
      const file = path.join(dir, 'row.png');
      await sharp(Buffer.from([10, 0, 0, 20, 0, 0, 60, 0, 0]), { raw: { width: 3, height: 1, channels: 3 } }).png().toFile(file);
      const peer: AgePeer = { name: 'faceapi', description: 'top-left red', parameters: 0, predict: (images) => images.map((img) => img.dataSync()[0]), dispose: () => undefined };
      expect((await runPeer(peer, [file])).ages).toEqual([10]);
      expect((await runPeer(peer, [file], { flip: true })).ages).toEqual([35]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
