import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { PreparedSplit } from './dataset';
import { distilledAge, distilledTrainingSet, teacherAges } from './distillation';
import { saveLeftHalfTeacher, writeHalvesImage } from './distillation.testing';
import { loadImageSet } from './images';
import { resolveTask } from './tasks';

const SIZE = 8;
const TEACHERS = [
  { name: 'a', scale: { mean: 20, std: 40 } },
  { name: 'b', scale: { mean: 30, std: 20 } },
];
/** [left, right] grey levels of each image. */
const LABELLED = [
  [0, 255],
  [51, 102],
  [204, 0],
  [153, 153],
];
const UNLABELLED = [
  [255, 51],
  [102, 204],
];

/** Each teacher's age of an image with halves (left, right): its left half's, or with flip the mean of both halves'. */
function teacherAge(scale: { mean: number; std: number }, [left, right]: number[], flip: boolean): number {
  return scale.mean + (scale.std * (flip ? (left + right) / 2 : left)) / 255;
}
const meanTeacherAge = (halves: number[], flip: boolean): number => TEACHERS.reduce((s, t) => s + teacherAge(t.scale, halves, flip), 0) / TEACHERS.length;

describe('distillation', () => {
  let dir: string;
  let teachers: string[];
  let labelledFiles: string[];
  beforeAll(async () => {
    await tf.setBackend('cpu');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agekit-distill-'));
    teachers = [];
    for (const t of TEACHERS) {
      teachers.push(path.join(dir, `teacher-${t.name}`));
      await saveLeftHalfTeacher(teachers[teachers.length - 1], SIZE, t.scale);
    }
    labelledFiles = [];
    for (const [i, [left, right]] of LABELLED.entries()) {
      labelledFiles.push(path.join(dir, 'labelled', `${i}.png`));
      await writeHalvesImage(labelledFiles[i], SIZE, left, right);
    }
    for (const [i, [left, right]] of UNLABELLED.entries()) await writeHalvesImage(path.join(dir, 'unlabelled', 'sub', `${i}.png`), SIZE, left, right);
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("teacherAges: each teacher's own age of each image and their mean, flip-averaged when asked", async () => {
    for (const flip of [false, true]) {
      const result = await teacherAges(teachers, labelledFiles, { flip });
      expect(result.failed).toEqual([]);
      LABELLED.forEach((halves, i) => {
        TEACHERS.forEach((t, k) => expect(result.byTeacher[k][i]).toBeCloseTo(teacherAge(t.scale, halves, flip), 4));
        expect(result.ages[i]).toBeCloseTo(meanTeacherAge(halves, flip), 4);
      });
    }
  });

  it('computes each age once: cached by teacher and image content (a renamed copy is a hit, another teacher or flip a miss)', async () => {
    const cacheDir = path.join(dir, 'cache-ages');
    const first = await teacherAges(teachers, labelledFiles, { cacheDir, flip: true });
    expect(first).toMatchObject({ computed: 8, fromCache: 0 });
    const copy = path.join(dir, 'copy', 'renamed.png');
    await fs.mkdir(path.dirname(copy), { recursive: true });
    await fs.copyFile(labelledFiles[1], copy);
    const again = await teacherAges(teachers, [...labelledFiles, copy], { cacheDir, flip: true });
    expect(again).toMatchObject({ computed: 0, fromCache: 10 });
    expect(again.ages.slice(0, 4)).toEqual(first.ages);
    expect(again.ages[4]).toBe(first.ages[1]);
    expect(await teacherAges(teachers, labelledFiles, { cacheDir, flip: false })).toMatchObject({ computed: 8, fromCache: 0 });
    const changed = path.join(dir, 'teacher-c');
    await saveLeftHalfTeacher(changed, SIZE, { mean: 21, std: 40 });
    const other = await teacherAges([changed], labelledFiles, { cacheDir, flip: true });
    expect(other).toMatchObject({ computed: 4, fromCache: 0 });
    expect(other.ages[0]).toBeCloseTo(teacherAge({ mean: 21, std: 40 }, LABELLED[0], true), 4);
  });

  it('a missing image is reported and has no age', async () => {
    const result = await teacherAges(teachers.slice(0, 1), [labelledFiles[0], path.join(dir, 'missing.png')], { flip: false });
    expect(result.ages[0]).toBeCloseTo(teacherAge(TEACHERS[0].scale, LABELLED[0], false), 4);
    expect(result.ages[1]).toBeNaN();
    expect(result.failed.map((f) => f.file)).toEqual([path.join(dir, 'missing.png')]);
  });

  it('distilledAge mixes label and teacher by the label weight; an unlabelled image takes the teacher', () => {
    expect(distilledAge(40, 20, 0.25)).toBe(25);
    expect(distilledAge(40, 20, 1)).toBe(40);
    expect(distilledAge(NaN, 33, 0.5)).toBe(33);
  });

  describe('distilledTrainingSet', () => {
    const labels = [10, 50, 70, 30];
    let train: PreparedSplit;
    let files: Map<string, string>;
    beforeAll(async () => {
      const ids = labelledFiles.map((_, i) => `img-${i}`);
      const images = await loadImageSet(
        ids.map((id, i) => ({ id, file: labelledFiles[i] })),
        { size: SIZE, channels: 3 },
      );
      train = { data: { images, targets: labels.map(() => 0), ages: labels }, ids, outsideTask: [], failed: [], fromCache: false };
      files = new Map(ids.map((id, i) => [id, labelledFiles[i]]));
    });

    it("regression: standardised label-weighted mix of the label and the teachers' mean, the teachers' mean for unlabelled faces", async () => {
      const task = resolveTask({ kind: 'regression', minAge: 0, maxAge: 100 }, labels);
      const scale = task.targetScale as { mean: number; std: number };
      const set = await distilledTrainingSet(train, files, {
        distillation: { teachers, labelWeight: 0.25, unlabelled: [path.join(dir, 'unlabelled')], flip: true },
        task,
        size: SIZE,
        channels: 3,
        cacheDir: path.join(dir, 'cache-set'),
      });
      expect(set).toMatchObject({ ageTargets: false, labelled: 4, unlabelled: 2, failed: [] });
      const expectedAges = [
        ...LABELLED.map((halves, i) => 0.25 * labels[i] + 0.75 * meanTeacherAge(halves, true)),
        ...UNLABELLED.map((halves) => meanTeacherAge(halves, true)),
      ];
      expect(set.data.targets).toHaveLength(6);
      set.data.targets.forEach((t, i) => expect(t * scale.std + scale.mean).toBeCloseTo(expectedAges[i], 3));
      expect(set.data.ages.slice(0, 4)).toEqual(labels);
      expect(set.data.ages.slice(4).every(Number.isNaN)).toBe(true);
      // the images are the labelled ones then the unlabelled ones (left half's grey level of each)
      const per = SIZE * SIZE * 3;
      expect([...LABELLED, ...UNLABELLED].map((_, i) => set.data.images.pixels[i * per])).toEqual([...LABELLED, ...UNLABELLED].map(([left]) => left));
      const mae = LABELLED.reduce((s, halves, i) => s + Math.abs(meanTeacherAge(halves, true) - labels[i]), 0) / 4;
      expect(set.teacherTrainMae).toBeCloseTo(mae, 3);
    });

    it('classification (label distribution): the targets are the mixed ages themselves', async () => {
      const task = resolveTask({ kind: 'classification', minAge: 1, maxAge: 100 });
      const set = await distilledTrainingSet(train, files, { distillation: { teachers: teachers.slice(1), labelWeight: 0, flip: false }, task, size: SIZE, channels: 3 });
      expect(set.ageTargets).toBe(true);
      LABELLED.forEach((halves, i) => expect(set.data.targets[i]).toBeCloseTo(teacherAge(TEACHERS[1].scale, halves, false), 4));
      await expect(distilledTrainingSet(train, files, { distillation: { teachers, labelWeight: 1.5 }, task, size: SIZE, channels: 3 })).rejects.toThrow(/labelWeight/);
    });
  });
});
