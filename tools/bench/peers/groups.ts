/**
 * Age-group accuracy of any age predictor on faces from another source (issue #21's domain-shift check): the Indian
 * actors set (YOUNG / MIDDLE / OLD; the seed's reading 13-30, 31-50, 51+). Each image goes through `predict`'s path
 * (face-api SSD detection + landmarks, then UTKFace-style alignment to 200 x 200, @agekit/face); when no face is
 * found the whole crop is used and counted. The predicted age is read as a group with the same edges for every
 * model, so peers, agekit tfjs models and ONNX bundles are scored by this one code on the same crops.
 * Run through main.ts (`groups`).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { createRng, decodeImage, describeError, EXIT, integerFlag, parseFlags, readDataset, ProgressTracker, UsageError, writeFileAtomic, type ProgressCallback } from '@agekit/dataset';
import { alignFace, loadFaceDetector, type FaceDetectorOptions } from '@agekit/face';
import { expectedAge, isClassification, loadImageSet, loadModel, outputToAge, predictOutputs, resolveModelFolder } from '@agekit/model';
import { backendChoiceFlag, initBackend } from '@agekit/runtime';
import { loadBundlePredictor } from '@agekit/onnx';
import { ENSEMBLE_USAGE, ensembleMembersToRun, parseEnsembles, runEnsembles, type MemberRun } from './ensemble';
import { loadPeer, PEERS, PeerUnavailableError, runPeer, type AgePeer, type PeerName } from './peers';
import { fmt, printMarkdownTable, progressPrinter, runBenchCommand, type TableIo } from './table';
import { sharedPath } from '../shared-paths';

/** An age group by its inclusive upper age; the last group is open. */
export interface AgeGroupEdge {
  label: string;
  /** Largest age (after rounding to whole years) of the group; omit for the last, open group. */
  maxAge?: number;
}

/** The Indian actors' groups as the seed pipeline reads them: 13-30, 31-50, 51+ (ages under 13 count as YOUNG). */
export const INDIAN_ACTORS_GROUPS: readonly AgeGroupEdge[] = [{ label: 'YOUNG', maxAge: 30 }, { label: 'MIDDLE', maxAge: 50 }, { label: 'OLD' }];

/** The group of a predicted age (rounded to whole years first); null for a missing or non-finite age. */
export function groupOfAge(age: number | null | undefined, groups: readonly AgeGroupEdge[] = INDIAN_ACTORS_GROUPS): string | null {
  if (age === null || age === undefined || !Number.isFinite(age)) return null;
  const years = Math.round(age);
  for (const g of groups) if (g.maxAge === undefined || years <= g.maxAge) return g.label;
  return null;
}

export interface GroupScores {
  count: number;
  accuracy: number;
  /** Per true group: how many there are and the share predicted as that group. */
  recall: { label: string; count: number; recall: number }[];
  /** Macro-averaged recall (the accuracy a balanced set would give). */
  balancedAccuracy: number;
  /** confusion[true][predicted], in the order of `labels`; a missing prediction counts in no column. */
  confusion: number[][];
}

/** Accuracy, per-group recall and the confusion matrix of predicted groups (null: no prediction, counted wrong). */
export function scoreGroups(actual: readonly string[], predicted: readonly (string | null)[], labels: readonly string[]): GroupScores {
  if (actual.length !== predicted.length) throw new Error(`scoreGroups: ${actual.length} labels but ${predicted.length} predictions`);
  const index = new Map(labels.map((l, i) => [l, i]));
  const confusion = labels.map(() => labels.map(() => 0));
  let right = 0;
  for (let i = 0; i < actual.length; i++) {
    const t = index.get(actual[i]);
    if (t === undefined) throw new Error(`scoreGroups: unknown group '${actual[i]}' (known: ${labels.join(', ')})`);
    const p = predicted[i] === null ? undefined : index.get(predicted[i] as string);
    if (p !== undefined) confusion[t][p]++;
    if (p === t) right++;
  }
  const counts = labels.map((_, t) => actual.filter((a) => index.get(a) === t).length);
  const recall = labels.map((label, t) => ({ label, count: counts[t], recall: counts[t] ? confusion[t][t] / counts[t] : NaN }));
  const present = recall.filter((r) => r.count > 0);
  return {
    count: actual.length,
    accuracy: actual.length ? right / actual.length : NaN,
    recall,
    balancedAccuracy: present.length ? present.reduce((s, r) => s + r.recall, 0) / present.length : NaN,
    confusion,
  };
}

/** What a predictor says about one face crop: an age, and a group when the model predicts groups itself. */
export interface FacePrediction {
  age: number | null;
  group: string | null;
}

/** Any age predictor over image files (aligned crops or whole crops), one answer per file, in order. */
export interface FilePredictor {
  name: string;
  /** What an ensemble names it by: the peer's name, or the model folder (as loadModel resolves it). */
  key: string;
  parameters: number;
  predict(files: string[], onProgress?: ProgressCallback): Promise<{ predictions: FacePrediction[]; msPerImage: number }>;
  dispose(): Promise<void> | void;
}

/** A peer of peers.ts (its own preprocessing from the decoded crop); `flip`: test-time flip. */
export function peerPredictor(peer: AgePeer, flip = false): FilePredictor {
  return {
    name: `${peer.name}: ${peer.description}`,
    key: peer.name,
    parameters: peer.parameters,
    async predict(files, onProgress) {
      const run = await runPeer(peer, files, { flip, onProgress });
      return { predictions: run.ages.map((age) => ({ age: Number.isFinite(age) ? age : null, group: null })), msPerImage: run.msPerImage };
    },
    dispose: () => peer.dispose(),
  };
}

/**
 * An agekit tfjs model folder (trainer train / transfer): expected age, or the group of an age-group-labels model;
 * `flip`: test-time flip (mean output of each crop and its mirror).
 */
export async function modelFolderPredictor(modelDir: string, flip = false): Promise<FilePredictor> {
  const { model, metadata, dir } = await loadModel(modelDir);
  const task = metadata.task;
  const channels = metadata.input.channels as 1 | 3;
  return {
    name: `${path.basename(modelDir)} (${metadata.architecture}, ${task.kind})`,
    key: dir,
    parameters: metadata.parameters,
    async predict(files, onProgress) {
      const set = await loadImageSet(
        files.map((file, i) => ({ id: String(i), file })),
        { size: metadata.input.size, channels, onProgress },
      );
      const started = performance.now();
      const outputs = predictOutputs(model, set, metadata.input.normalization, 16, flip);
      const ms = (performance.now() - started) / Math.max(1, outputs.length);
      const byId = new Map(set.ids.map((id, k) => [id, outputs[k]]));
      const predictions = files.map((_, i): FacePrediction => {
        const row = byId.get(String(i));
        if (!row) return { age: null, group: null };
        if (!isClassification(task)) return { age: outputToAge(task, row[0]), group: null };
        const age = expectedAge(task, row);
        const best = row.indexOf(Math.max(...row));
        return { age: Number.isFinite(age) ? age : null, group: task.kind === 'age-group-labels' ? task.labels[best] : null };
      });
      return { predictions, msPerImage: ms };
    },
    dispose: () => {
      model.dispose();
    },
  };
}

/** An exported ONNX bundle (onnxruntime-node), as `agekit predict` runs it. */
export async function bundlePredictor(bundleDir: string): Promise<FilePredictor> {
  const predictor = await loadBundlePredictor(bundleDir);
  return {
    name: `bundle ${path.basename(bundleDir)} (ONNX)`,
    key: bundleDir,
    // a bundle does not record its parameter count (its source model's metadata does)
    parameters: NaN,
    async predict(files, onProgress) {
      const tracker = new ProgressTracker(files.length, onProgress, 1000);
      const predictions: FacePrediction[] = [];
      let ms = 0;
      for (const file of files) {
        try {
          const image = await decodeImage(file, { channels: 3 });
          const started = performance.now();
          const [p] = await predictor.predict([image]);
          ms += performance.now() - started;
          predictions.push({ age: p.expectedAge, group: p.group });
          tracker.tick();
        } catch {
          predictions.push({ age: null, group: null });
          tracker.tick(false);
        }
      }
      return { predictions, msPerImage: ms / Math.max(1, files.length) };
    },
    dispose: () => predictor.dispose(),
  };
}

export interface AlignedFacesOptions extends Pick<FaceDetectorOptions, 'minScore'> {
  /** Where aligned crops are kept between runs (a scratch folder, never the repository). */
  cacheDir: string;
  /** Side of the aligned crop (predict's: 200, UTKFace's). */
  size?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface AlignedFaces {
  /** Per input file, in order: the aligned crop's file, or the input file itself when no face was found. */
  files: string[];
  /** Per input file: whether a face was found (false: the whole crop is used). */
  found: boolean[];
  noFace: number;
  failed: { file: string; error: string }[];
  fromCache: number;
}

/** The detector's identity in the cache key: face-api's version and the settings that change the crops. */
async function detectorVersion(minScore: number, size: number): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(require.resolve('@vladmandic/face-api/package.json'), 'utf8')) as { version: string };
  return `face-api-${pkg.version}_ssd-min${minScore}_align${size}`;
}

/**
 * Detect (face-api SSD + 68 landmarks) and align (UTKFace template) the most confident face of each file, as
 * `agekit predict` does; cached by the file's SHA-1 and the detector version, so a second run reads PNGs only.
 */
export async function alignedFaces(files: readonly string[], options: AlignedFacesOptions): Promise<AlignedFaces> {
  const size = options.size ?? 200;
  const minScore = options.minScore ?? 0.5;
  const folder = path.join(options.cacheDir, await detectorVersion(minScore, size));
  await fs.mkdir(folder, { recursive: true });
  const tracker = new ProgressTracker(files.length, options.onProgress, 1000);
  const out: AlignedFaces = { files: [], found: [], noFace: 0, failed: [], fromCache: 0 };
  let detector: Awaited<ReturnType<typeof loadFaceDetector>> | undefined;
  try {
    for (const file of files) {
      options.signal?.throwIfAborted();
      let aligned: string | null = null;
      let failed = false;
      try {
        const bytes = await fs.readFile(file);
        const key = createHash('sha1').update(bytes).digest('hex');
        const png = path.join(folder, `${key}.png`);
        const none = path.join(folder, `${key}.none`);
        const cached = await fs.stat(png).then(() => png, () => fs.stat(none).then(() => none, () => undefined));
        if (cached) {
          out.fromCache++;
          aligned = cached === png ? png : null;
        } else {
          detector ??= await loadFaceDetector({ minScore, maxFaces: 5 });
          const image = await decodeImage(bytes, { channels: 3 });
          const faces = await detector.detect(image);
          const best = faces.reduce<(typeof faces)[number] | undefined>((a, f) => (a === undefined || f.score > a.score ? f : a), undefined);
          if (best) {
            const crop = alignFace(image, best, { size });
            await writeFileAtomic(png, await sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } }).png().toBuffer());
            aligned = png;
          } else await writeFileAtomic(none, '');
        }
        tracker.tick();
      } catch (error) {
        out.failed.push({ file, error: describeError(error) });
        failed = true;
        tracker.tick(false);
      }
      out.files.push(aligned ?? file);
      out.found.push(aligned !== null);
      if (aligned === null && !failed) out.noFace++;
    }
  } finally {
    detector?.dispose();
  }
  return out;
}

/** A seeded random sample of a labelled dataset's records with a group label (all of them without `limit`). */
export async function groupRecords(dataDir: string, options: { limit?: number; seed?: number } = {}): Promise<{ file: string; id: string; group: string }[]> {
  const dataset = await readDataset(dataDir);
  let records = dataset.records.flatMap((r) => (r.ageGroup === undefined ? [] : [{ file: r.file, id: r.id, group: r.ageGroup }])).sort((a, b) => a.id.localeCompare(b.id));
  if (options.limit !== undefined && options.limit < records.length) records = createRng(options.seed ?? 42).shuffle([...records]).slice(0, options.limit).sort((a, b) => a.id.localeCompare(b.id));
  return records;
}

/**
 * Files for distillation's unlabelled faces (`training.distillation.unlabelled`): a seeded sample of `count` records of
 * the labelled dataset that are NOT in the scored sample `groupRecords(dataDir, { limit: scoredLimit })`, so the
 * groups column never scores an image a student trained on (other images of the same people may still be among them).
 */
export async function unscoredRecords(dataDir: string, options: { scoredLimit: number; count: number; seed?: number }): Promise<{ file: string; id: string; group: string }[]> {
  const scored = new Set((await groupRecords(dataDir, { limit: options.scoredLimit })).map((r) => r.id));
  const rest = (await groupRecords(dataDir)).filter((r) => !scored.has(r.id));
  return createRng(options.seed ?? 7).shuffle(rest).slice(0, options.count).sort((a, b) => a.id.localeCompare(b.id));
}

export const GROUPS_USAGE = `groups [--data DIR (default ../shared/data/indian-actors)] [--limit N (seeded random sample)] [--peers faceapi,ssrnet,gear,faceres]
      [--model DIR]... [--bundle DIR]... ${ENSEMBLE_USAGE} [--human-models DIR] [--cache DIR (aligned crops; default <tmp>/agekit-aligned-faces)]
      [--min-score 0.5] [--no-align (whole crops, no detection)] [--flip (test-time flip; not for bundles)] [--backend B] [--json]`;

interface GroupRow {
  model: string;
  parameters: number;
  scores: GroupScores;
  msPerImage: number;
}

function printGroupTable(io: TableIo, rows: GroupRow[], labels: readonly string[]): void {
  const header = ['model', 'params', 'n', 'accuracy', 'balanced', ...labels.map((l) => `recall ${l}`), 'ms/img'];
  const table = rows.map((r) => [
    r.model,
    Number.isFinite(r.parameters) ? r.parameters.toLocaleString('en-US') : 'n/a',
    String(r.scores.count),
    fmt(r.scores.accuracy),
    fmt(r.scores.balancedAccuracy),
    ...r.scores.recall.map((x) => fmt(x.recall)),
    fmt(r.msPerImage, 1),
  ]);
  printMarkdownTable(io, header, table);
}

async function groupsTable(args: string[], io: TableIo, cwd: string): Promise<number> {
  const values = parseFlags(args, {
    data: { type: 'string' },
    limit: { type: 'string' },
    peers: { type: 'string' },
    model: { type: 'string', multiple: true },
    bundle: { type: 'string', multiple: true },
    ensemble: { type: 'string', multiple: true },
    'human-models': { type: 'string' },
    cache: { type: 'string' },
    'min-score': { type: 'string', default: '0.5' },
    'no-align': { type: 'boolean', default: false },
    flip: { type: 'boolean', default: false },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const names = (typeof values.peers === 'string' ? values.peers.split(',').map((s) => s.trim()).filter(Boolean) : [...PEERS]) as PeerName[];
  for (const n of names) if (!PEERS.includes(n)) throw new UsageError(`unknown peer '${n}' (known: ${PEERS.join(', ')})`);
  const minScore = Number(values['min-score']);
  if (!(minScore > 0 && minScore <= 1)) throw new UsageError(`--min-score must be a number in (0, 1] (got '${String(values['min-score'])}')`);
  const limit = integerFlag(values, 'limit');
  const flip = values.flip === true;
  if (flip && values.bundle !== undefined) throw new UsageError('--flip applies to model folders and peers; a bundle flips inside its graph or not at all');
  const dataDir = path.resolve(cwd, typeof values.data === 'string' ? values.data : sharedPath('data', 'indian-actors'));
  const cacheDir = path.resolve(cwd, typeof values.cache === 'string' ? values.cache : path.join(os.tmpdir(), 'agekit-aligned-faces'));
  const humanModelsDir = path.resolve(cwd, typeof values['human-models'] === 'string' ? values['human-models'] : 'cache/human-models');
  const ensembles = await parseEnsembles(values.ensemble as string[] | undefined, cwd);
  const modelDirs = await Promise.all(((values.model as string[] | undefined) ?? []).map((dir) => resolveModelFolder(path.resolve(cwd, dir))));
  const toRun = ensembleMembersToRun(ensembles, modelDirs, names);
  const backend = await initBackend({ backend: backendChoiceFlag(values.backend) ?? 'wasm' });
  io.err(`backend: ${backend.name} — ${backend.reason}`);

  const records = await groupRecords(dataDir, { limit });
  if (records.length === 0) {
    io.err(`error: no images with an age-group label in ${dataDir}`);
    return EXIT.failed;
  }
  const labels = INDIAN_ACTORS_GROUPS.map((g) => g.label);
  let files = records.map((r) => r.file);
  let faces: AlignedFaces | undefined;
  if (!values['no-align']) {
    faces = await alignedFaces(files, { cacheDir, minScore, onProgress: progressPrinter(io, 'detect + align') });
    for (const f of faces.failed.slice(0, 5)) io.err(`warning: ${f.file}: ${f.error}`);
    files = faces.files;
  }

  const predictors: FilePredictor[] = [];
  const unavailable: string[] = [];
  for (const dir of toRun.modelDirs) predictors.push(await modelFolderPredictor(dir, flip));
  for (const dir of (values.bundle as string[] | undefined) ?? []) predictors.push(await bundlePredictor(path.resolve(cwd, dir)));
  for (const name of toRun.peers) {
    try {
      predictors.push(peerPredictor(await loadPeer(name, { humanModelsDir }), flip));
    } catch (error) {
      if (!(error instanceof PeerUnavailableError)) throw error;
      unavailable.push(`${name}: ${error.reason}`);
      io.err(`warning: ${error.message}`);
    }
  }
  const rows: GroupRow[] = [];
  const actual = records.map((r) => r.group);
  // per predictor key: its age for each file (NaN where it has none), parameters and ms/img, for the ensembles
  const members = new Map<string, MemberRun>();
  for (const predictor of predictors) {
    const run = await predictor.predict(files, progressPrinter(io, predictor.name.split(' ')[0]));
    // a model that predicts the dataset's own groups is read by its group; every other one by its age
    const predicted = run.predictions.map((p) => (p.group !== null && labels.includes(p.group) ? p.group : groupOfAge(p.age)));
    rows.push({ model: predictor.name, parameters: predictor.parameters, scores: scoreGroups(actual, predicted, labels), msPerImage: run.msPerImage });
    members.set(predictor.key, { ages: run.predictions.map((p) => p.age ?? NaN), parameters: predictor.parameters, msPerImage: run.msPerImage });
    await predictor.dispose();
  }
  const combined = runEnsembles(ensembles, members);
  unavailable.push(...combined.notRun);
  // an ensemble is read by its mean age, even when a member is an age-group-labels model (its expected age)
  for (const { ensemble, run } of combined.done) rows.push({ model: ensemble.label, parameters: run.parameters, scores: scoreGroups(actual, run.ages.map((age) => groupOfAge(age)), labels), msPerImage: run.msPerImage });
  const how = faces
    ? `detected + aligned to 200 px as predict does (min score ${minScore}): face found in ${records.length - faces.noFace - faces.failed.length}, no face in ${faces.noFace} (whole crop used), ${faces.failed.length} unreadable; ${faces.fromCache} from the cache ${cacheDir}`
    : 'whole crops (--no-align)';
  const tta = flip ? '; test-time flip (mean of crop and mirror)' : '';
  io.out(`${dataDir}: ${records.length} images${limit !== undefined ? ` (seeded sample of ${limit})` : ''}; ${how}; backend ${backend.name}${tta}`);
  printGroupTable(io, rows, labels);
  io.out(`groups read from the predicted age: ${INDIAN_ACTORS_GROUPS.map((g) => `${g.label} ${g.maxAge === undefined ? 'above' : `<= ${g.maxAge}`}`).join(', ')} (rounded years); balanced = mean recall.`);
  if (unavailable.length) io.out(`not run: ${unavailable.join('; ')}`);
  io.result({ data: dataDir, count: records.length, flip, noFace: faces?.noFace ?? null, rows, unavailable });
  return EXIT.ok;
}

/** Run the groups table; returns the exit code (0 ok, 1 failed, 2 usage). */
export function runGroupsTable(args: string[], io: TableIo, cwd = process.cwd()): Promise<number> {
  return runBenchCommand(() => groupsTable(args, io, cwd), io, GROUPS_USAGE);
}
