import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage, readDataset } from '@agekit/dataset';
import { initBackend } from '@agekit/runtime';
import { generateSynthDataset } from '@agekit/synth';
import { transferModel } from '@agekit/transfer';
import { alignedFaces, groupOfAge, groupRecords, runGroupsTable, scoreGroups, unscoredRecords, type GroupScores } from './groups';
import type { TableIo } from './table';

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

  it('picks unlabelled faces only outside the scored sample, seeded', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-groups-unscored-'));
    try {
      await fs.mkdir(path.join(dir, 'images'));
      const lines = ['file,age_group'];
      for (let i = 0; i < 40; i++) {
        await fs.writeFile(path.join(dir, 'images', `${i}.png`), await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i, g: 0, b: 0 } } }).png().toBuffer());
        lines.push(`images/${i}.png,${['YOUNG', 'MIDDLE', 'OLD'][i % 3]}`);
      }
      await fs.writeFile(path.join(dir, 'labels.csv'), `${lines.join('\n')}\n`);
      const scored = new Set((await groupRecords(dir, { limit: 10 })).map((r) => r.id));
      const picked = await unscoredRecords(dir, { scoredLimit: 10, count: 25 });
      expect(scored.size).toBe(10);
      expect(picked).toHaveLength(25);
      expect(picked.filter((r) => scored.has(r.id))).toEqual([]);
      expect(new Set(picked.map((r) => r.id)).size).toBe(25);
      expect(await unscoredRecords(dir, { scoredLimit: 10, count: 25 })).toEqual(picked);
      expect(await unscoredRecords(dir, { scoredLimit: 10, count: 100 })).toHaveLength(30);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('scores an ensemble by the mean age of its members: a member with a negligible weight leaves the other one\'s row', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-groups-ensemble-'));
    try {
      await generateSynthDataset({ out: path.join(dir, 'data'), count: 30, seed: 5, size: 48, minAge: 20, maxAge: 59, defectRate: 0, duplicateRate: 0, ageDistribution: 'uniform' });
      // the same faces as a labels CSV with YOUNG/MIDDLE/OLD, the layout of the Indian actors
      const faces = path.join(dir, 'faces');
      await fs.mkdir(path.join(faces, 'images'), { recursive: true });
      const lines = ['file,age_group'];
      for (const [i, r] of (await readDataset(path.join(dir, 'data'))).records.entries()) {
        await fs.copyFile(r.file, path.join(faces, 'images', `${i}.png`));
        lines.push(`images/${i}.png,${groupOfAge(r.age)}`);
      }
      await fs.writeFile(path.join(faces, 'labels.csv'), `${lines.join('\n')}\n`);
      await transferModel({
        data: path.join(dir, 'data'),
        out: path.join(dir, 'out'),
        tasks: [{ name: 'years', task: { kind: 'classification', minAge: 20, maxAge: 59 } }],
        head: { hidden: 8, dropout: 0.2 },
        training: { epochs: 1, batchSize: 16 },
      });
      const model = path.join(dir, 'out', 'years');
      const results: unknown[] = [];
      const io: TableIo = { out: () => undefined, err: () => undefined, result: (v) => results.push(v) };
      const args = ['--data', faces, '--no-align', '--peers', 'faceapi', '--ensemble', `faceapi=1+${model}=1e-9`, '--ensemble', `faceapi=1e-9+${dir}/out=1`, '--ensemble', `faceapi+${model}`];
      expect(await runGroupsTable(args, io, dir)).toBe(0);
      const rows = (results[0] as { rows: { model: string; parameters: number; scores: GroupScores }[] }).rows;
      // the model folder ran once though two ensembles name it (once by its run folder) and no --model names it
      expect(rows.map((r) => r.model.split(':')[0])).toEqual(['years (faceapi-xception+dense, classification)', 'faceapi', 'mean of faceapi=1+years=1e-9', 'mean of faceapi=1e-9+years=1', 'mean of faceapi+years']);
      const [years, faceapi, nearFaceapi, nearYears, mean] = rows;
      expect(years.scores.confusion).not.toEqual(faceapi.scores.confusion); // else the two checks below could not tell them apart
      expect(nearFaceapi.scores).toEqual(faceapi.scores);
      expect(nearYears.scores).toEqual(years.scores);
      expect(mean.scores.count).toBe(30);
      expect(mean.parameters).toBe(years.parameters + faceapi.parameters);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
