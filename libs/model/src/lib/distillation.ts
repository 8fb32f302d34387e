import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describeError, IMAGE_EXTENSIONS, listImageFiles, mapSettled, ProgressTracker, writeFileAtomic, type Progress, type ProgressCallback } from '@agekit/dataset';
import type { PreparedSplit } from './dataset';
import { predictOutputs, type LabelledImages } from './evaluate';
import { loadImagePixels, loadImageSet } from './images';
import { loadModel, METADATA_JSON, MODEL_JSON, resolveModelFolder, WEIGHTS_BIN } from './io';
import { ageToOutput, expectedAge, isClassification, outputToAge, type Task } from './tasks';

/**
 * Knowledge distillation (the `training.distillation` object of configs/train.json): the student learns, for each
 * labelled training image, `labelWeight` x its age + (1 - labelWeight) x the teachers' mean predicted age, and for each
 * image of the `unlabelled` folders the teachers' mean predicted age alone. The teachers run once per image (their
 * ages are cached by teacher and image content); a regression student learns the target age with its regression loss,
 * a classification student needs `labelDistribution` (the Gaussian soft target around the target age).
 */
export interface Distillation {
  /** Teacher model folders (saveModel's format; regression or classification over ages, any input size). */
  teachers: string[];
  /** Weight of a labelled image's own age in its target, 0..1 (default 0.5; 0 = the teachers' age only). */
  labelWeight?: number;
  /** Folders of face images without labels (every image below them), trained on the teachers' age alone. */
  unlabelled?: string[];
  /** Each teacher's age of an image is the mean of its outputs for the image and its mirror (default true). */
  flip?: boolean;
}

export interface TeacherAgesOptions {
  /** Mean of each teacher's outputs for the image and its mirror (default true). */
  flip?: boolean;
  /** Where the ages are kept (`teacher-<key>.json` per teacher, keyed by its files and `flip`; absent = no cache). */
  cacheDir?: string;
  /** Images decoded and predicted per chunk (default 256). */
  chunkSize?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface TeacherAges {
  /** Per file: the mean over the teachers of their predicted age, years (NaN when a teacher could not read it). */
  ages: number[];
  /** Per teacher: its own predicted ages (same order). */
  byTeacher: number[][];
  /** Predictions computed now, and taken from the cache (counted over teachers and files). */
  computed: number;
  fromCache: number;
  failed: { file: string; error: string }[];
}

interface TeacherCache {
  version: 1;
  teacher: string;
  flip: boolean;
  /** sha256 of an image file's bytes -> the teacher's age for it. */
  ages: Record<string, number>;
}

async function sha256OfFile(file: string): Promise<string> {
  return createHash('sha256').update(await fs.readFile(file)).digest('hex');
}

/** A teacher's cache key: its model files' content and the flip setting. */
async function teacherKey(dir: string, flip: boolean): Promise<string> {
  const hash = createHash('sha256');
  for (const name of [MODEL_JSON, WEIGHTS_BIN, METADATA_JSON]) hash.update(await fs.readFile(path.join(dir, name)));
  hash.update(flip ? 'flip' : 'plain');
  return hash.digest('hex').slice(0, 16);
}

/** Age in years of each output row of a model of `task`. */
function agesOfOutputs(task: Task, rows: number[][]): number[] {
  return rows.map((row) => (isClassification(task) ? expectedAge(task, row) : outputToAge(task, row[0])));
}

/**
 * The teachers' predicted age of every file (each teacher at its own input size and normalisation, flip-averaged if
 * asked), and their mean. Ages already in the cache (same teacher files, same flip, same image bytes) are not computed
 * again; new ones are added to it.
 */
export async function teacherAges(teachers: string[], files: string[], options: TeacherAgesOptions = {}): Promise<TeacherAges> {
  if (teachers.length === 0) throw new Error('distillation: no teachers');
  const flip = options.flip ?? true;
  const chunkSize = options.chunkSize ?? 256;
  const failed = new Map<string, string>();
  const contentKeys = await Promise.all(files.map((f) => sha256OfFile(f).catch(() => undefined)));
  let computed = 0;
  let fromCache = 0;
  const byTeacher: number[][] = [];
  for (const teacherDir of teachers) {
    const dir = await resolveModelFolder(teacherDir); // a run folder holding one model names it too
    const cacheFile = options.cacheDir ? path.join(options.cacheDir, `teacher-${await teacherKey(dir, flip)}.json`) : undefined;
    let cache: TeacherCache = { version: 1, teacher: dir, flip, ages: {} };
    if (cacheFile) {
      try {
        cache = JSON.parse(await fs.readFile(cacheFile, 'utf8')) as TeacherCache;
      } catch {
        // no cache yet
      }
    }
    const ages = files.map((_, i) => {
      const key = contentKeys[i];
      return key !== undefined && key in cache.ages ? cache.ages[key] : NaN;
    });
    fromCache += ages.filter((a) => !Number.isNaN(a)).length;
    const missing = ages.flatMap((a, i) => (Number.isNaN(a) && contentKeys[i] !== undefined ? [i] : []));
    if (missing.length > 0) {
      const tracker = new ProgressTracker(missing.length, options.onProgress, 500);
      const { model, metadata } = await loadModel(dir);
      try {
        const { size, channels, normalization } = metadata.input;
        for (let start = 0; start < missing.length; start += chunkSize) {
          if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new Error('distillation: stopped');
          const chunk = missing.slice(start, start + chunkSize);
          const decoded = await mapSettled(chunk, (i) => loadImagePixels(files[i], size, channels), { concurrency: 2 });
          const ok = chunk.filter((_, j) => decoded[j].ok);
          decoded.forEach((r, j) => {
            if (!r.ok) failed.set(files[chunk[j]], describeError(r.error));
          });
          const per = size * size * channels;
          const pixels = new Uint8Array(ok.length * per);
          let n = 0;
          for (const r of decoded) if (r.ok) pixels.set(r.value, per * n++);
          const predicted = agesOfOutputs(metadata.task, predictOutputs(model, { size, channels, pixels }, normalization, 64, flip));
          ok.forEach((i, j) => {
            ages[i] = predicted[j];
            cache.ages[contentKeys[i] as string] = predicted[j];
          });
          computed += ok.length;
          decoded.forEach((r) => tracker.tick(r.ok));
        }
      } finally {
        model.dispose();
      }
      if (cacheFile) {
        await fs.mkdir(path.dirname(cacheFile), { recursive: true });
        await writeFileAtomic(cacheFile, JSON.stringify(cache));
      }
    }
    contentKeys.forEach((key, i) => {
      if (key === undefined) failed.set(files[i], 'cannot read the file');
    });
    byTeacher.push(ages);
  }
  const mean = files.map((_, i) => byTeacher.reduce((s, ages) => s + ages[i], 0) / teachers.length);
  return { ages: mean, byTeacher, computed, fromCache, failed: [...failed].map(([file, error]) => ({ file, error })) };
}

/**
 * A student's target age: `labelWeight` x `label` + (1 - labelWeight) x `teacher` for a labelled image, the teacher's
 * age for an unlabelled one (label NaN).
 */
export function distilledAge(label: number, teacher: number, labelWeight: number): number {
  return Number.isNaN(label) ? teacher : labelWeight * label + (1 - labelWeight) * teacher;
}

export interface DistilledSetOptions {
  distillation: Distillation;
  /** The student's task: regression (targets = standardised target ages) or classification with label distribution (targets = ages). */
  task: Task;
  size: number;
  channels: 1 | 3;
  /** Decoded images of the unlabelled folders (at the student's size) and the teachers' ages. */
  cacheDir?: string;
  /** Phases 'teachers' (predicting) and 'decode unlabelled'. */
  onProgress?: (progress: Progress & { phase: string }) => void;
  signal?: AbortSignal;
}

export interface DistilledSet {
  /** The training set: the labelled images then the unlabelled ones, with the distilled targets; `ages` keep the labels (NaN unlabelled). */
  data: LabelledImages;
  /** True when `data.targets` are ages in years (a classification student), false when standardised ages (regression). */
  ageTargets: boolean;
  labelled: number;
  unlabelled: number;
  /** Images left out: a teacher could not read them, or (unlabelled) they failed to decode. */
  failed: { file: string; error: string }[];
  computed: number;
  fromCache: number;
  /** The teachers' mean-age MAE on the labelled training images (optimistic when a teacher trained on them). */
  teacherTrainMae: number;
}

/** The training set of a distilled student: the prepared labelled split plus the unlabelled folders, with the teachers' targets. */
export async function distilledTrainingSet(train: PreparedSplit, files: ReadonlyMap<string, string>, options: DistilledSetOptions): Promise<DistilledSet> {
  const { distillation, task, size, channels } = options;
  const labelWeight = distillation.labelWeight ?? 0.5;
  if (!(labelWeight >= 0 && labelWeight <= 1)) throw new Error(`distillation: labelWeight must be in 0..1 (got ${labelWeight})`);
  const progress = (phase: string): ProgressCallback => (p) => options.onProgress?.({ ...p, phase });
  const unlabelledFiles: string[] = [];
  for (const folder of distillation.unlabelled ?? []) {
    const listing = await listImageFiles(folder, { extensions: IMAGE_EXTENSIONS, maxDepth: 8, reportDeeperFolders: false });
    unlabelledFiles.push(...listing.files);
  }
  const unlabelledSet = await loadImageSet(
    unlabelledFiles.map((file) => ({ id: file, file })),
    { size, channels, cacheDir: options.cacheDir, name: 'unlabelled', onProgress: progress('decode unlabelled') },
  );
  const labelledFiles = train.ids.map((id) => {
    const file = files.get(id);
    if (file === undefined) throw new Error(`distillation: no file for training image ${id}`);
    return file;
  });
  const allFiles = [...labelledFiles, ...unlabelledSet.ids];
  const teachers = await teacherAges(distillation.teachers, allFiles, { flip: distillation.flip, cacheDir: options.cacheDir, onProgress: progress('teachers'), signal: options.signal });
  const labels = [...train.data.ages, ...unlabelledSet.ids.map(() => NaN)];
  const kept = allFiles.flatMap((_, i) => (Number.isFinite(teachers.ages[i]) ? [i] : []));
  const per = size * size * channels;
  const pixels = new Uint8Array(kept.length * per);
  kept.forEach((i, n) => {
    const [source, at] = i < labelledFiles.length ? [train.data.images.pixels, i] : [unlabelledSet.pixels, i - labelledFiles.length];
    pixels.set(source.subarray(at * per, (at + 1) * per), n * per);
  });
  const ageTargets = isClassification(task);
  const targets = kept.map((i) => {
    const age = distilledAge(labels[i], teachers.ages[i], labelWeight);
    return ageTargets ? age : ageToOutput(task, age);
  });
  const labelledKept = kept.filter((i) => i < labelledFiles.length);
  const teacherTrainMae = labelledKept.reduce((s, i) => s + Math.abs(teachers.ages[i] - labels[i]), 0) / Math.max(1, labelledKept.length);
  return {
    data: { images: { size, channels, pixels }, targets, ages: kept.map((i) => labels[i]) },
    ageTargets,
    labelled: labelledKept.length,
    unlabelled: kept.length - labelledKept.length,
    failed: [...teachers.failed, ...unlabelledSet.failed.map((f) => ({ file: f.file, error: f.error }))],
    computed: teachers.computed,
    fromCache: teachers.fromCache,
    teacherTrainMae,
  };
}
