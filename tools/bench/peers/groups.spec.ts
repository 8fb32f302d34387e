import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '@agekit/dataset';
import { initBackend } from '@agekit/runtime';
import { alignedFaces, groupOfAge, scoreGroups } from './groups';

// face-api's own demo photo (three people), read from the installed package; never copied into the repo
const SAMPLE1 = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo', 'sample1.jpg');

describe('Indian actors groups (tools/bench/peers/main.ts groups)', () => {
  it('reads a predicted age as YOUNG <= 30, MIDDLE 31-50, OLD 51+ after rounding to whole years', () => {
    expect([5, 30, 30.49, 30.5, 50.49, 50.5, 90].map((a) => groupOfAge(a))).toEqual(['YOUNG', 'YOUNG', 'YOUNG', 'MIDDLE', 'MIDDLE', 'OLD', 'OLD']);
    expect([NaN, null, undefined].map((a) => groupOfAge(a))).toEqual([null, null, null]);
  });

  it('scores accuracy, per-group recall, balanced accuracy and the confusion matrix; a missing prediction is wrong', () => {
    const labels = ['YOUNG', 'MIDDLE', 'OLD'];
    const actual = ['YOUNG', 'YOUNG', 'MIDDLE', 'MIDDLE', 'MIDDLE', 'OLD'];
    const predicted = ['YOUNG', 'MIDDLE', 'MIDDLE', 'MIDDLE', null, 'MIDDLE'];
    const s = scoreGroups(actual, predicted, labels);
    expect(s.accuracy).toBeCloseTo(3 / 6, 12);
    expect(s.recall).toEqual([
      { label: 'YOUNG', count: 2, recall: 0.5 },
      { label: 'MIDDLE', count: 3, recall: 2 / 3 },
      { label: 'OLD', count: 1, recall: 0 },
    ]);
    expect(s.balancedAccuracy).toBeCloseTo((0.5 + 2 / 3 + 0) / 3, 12);
    expect(s.confusion).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [0, 1, 0],
    ]);
    expect(() => scoreGroups(['CHILD'], ['YOUNG'], labels)).toThrow("unknown group 'CHILD'");
  });

  describe('alignedFaces', () => {
    let dir: string;
    beforeAll(async () => {
      await initBackend({ backend: 'wasm' });
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-groups-'));
      await sharp({ create: { width: 80, height: 100, channels: 3, background: { r: 90, g: 90, b: 90 } } }).jpeg().toFile(path.join(dir, 'blank.jpg'));
    });
    afterAll(async () => {
      await fs.rm(dir, { recursive: true, force: true });
    });

    it("aligns the most confident face to 200 px, keeps the whole crop when there is none, and caches both by file hash and detector", async () => {
      const cacheDir = path.join(dir, 'cache');
      const files = [SAMPLE1, path.join(dir, 'blank.jpg'), path.join(dir, 'missing.jpg')];
      const first = await alignedFaces(files, { cacheDir });
      expect(first.found).toEqual([true, false, false]);
      expect([first.noFace, first.failed.map((f) => f.file), first.fromCache]).toEqual([1, [files[2]], 0]);
      expect(first.files.slice(1)).toEqual(files.slice(1));
      expect(path.dirname(first.files[0])).toMatch(/face-api-[0-9.]+_ssd-min0\.5_align200$/);
      const crop = await decodeImage(first.files[0], { channels: 3 });
      expect([crop.width, crop.height]).toEqual([200, 200]);

      const again = await alignedFaces(files, { cacheDir });
      expect({ ...again, fromCache: 0 }).toEqual(first);
      expect(again.fromCache).toBe(2);
      // another detector setting is another cache entry, never a stale crop
      const other = await alignedFaces(files.slice(0, 1), { cacheDir, size: 112 });
      expect(other.fromCache).toBe(0);
      expect((await decodeImage(other.files[0], { channels: 3 })).width).toBe(112);
    }, 120_000);
  });
});
