import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  decodeImage,
  describeError,
  ImageDecodeError,
  IMAGE_EXTENSIONS,
  listImageFiles,
  ProgressTracker,
  writeFileAtomic,
  type PixelImage,
  type ProgressCallback,
} from '@agekit/dataset';
import { createPhotoAnalyzer, type AgePredictor, type PhotoAnalyzer, type PhotoFace } from './photo-analyzer';

/** One input photo: where it is and where its annotated copy goes. */
export interface PhotoInput {
  /** Absolute path. */
  file: string;
  /** Shown in results: the path as given, or the folder given joined with the path inside it. */
  name: string;
  /** Absolute path of the annotated copy (when annotating). */
  annotated?: string;
}

/** One photo's outcome: its faces, or why it failed (a reason code and a message naming the file). */
export type PhotoPrediction =
  | { file: string; ok: true; width: number; height: number; faces: PhotoFace[]; annotated?: string }
  | { file: string; ok: false; error: { reason: string; message: string } };

/** Draws the boxes and labels onto the photo and encodes it (@agekit/plot's annotateImage is one). */
export type DrawAnnotations = (image: PixelImage, faces: PhotoFace[], options: { format: 'png' | 'jpeg' }) => Promise<Uint8Array>;

export interface PredictPhotosOptions {
  /** Image files and folders (a folder is searched recursively for image files); relative to `cwd`. */
  paths: string[];
  /** Default process.cwd(). */
  cwd?: string;
  /** Loads the age model (e.g. `() => loadBundlePredictor(dir)` from @agekit/onnx); called once the inputs are listed. */
  loadPredictor: () => Promise<AgePredictor>;
  /** Find faces (default true); false: each image is one face crop. */
  detect?: boolean;
  /** Smallest detector confidence kept (default 0.5). */
  minScore?: number;
  /** Faces per photo at most (default 20). */
  maxFaces?: number;
  /** Write a copy of each photo with its faces drawn under `dir` (same relative names); never over an input. */
  annotate?: { dir: string; draw: DrawAnnotations };
  /** Larger images (width x height, read from the header) fail with reason 'too-large' before decoding. Default 40e6:
   * any camera photo, and no decompression bomb. */
  maxPixels?: number;
  /** A folder entry left out that is not a failed image (a link that loops back). */
  onWarning?: (message: string) => void;
  onProgress?: ProgressCallback;
  /** Each photo's outcome as soon as it is known (failed paths first). */
  onResult?: (result: PhotoPrediction) => void;
  signal?: AbortSignal;
}

export interface PredictPhotosResult {
  detect: boolean;
  images: number;
  failed: number;
  faces: number;
  seconds: number;
  results: PhotoPrediction[];
}

/** The inputs cannot be predicted as asked (nothing was loaded or written): no image at all, or an annotated copy over an input. */
export class PhotoInputError extends Error {
  override readonly name = 'PhotoInputError';
  constructor(
    readonly code: 'no-images' | 'annotation-clash',
    message: string,
  ) {
    super(message);
  }
}

/** The age model or the face detector could not be loaded (the message is the loader's). */
export class PhotoModelLoadError extends Error {
  override readonly name = 'PhotoModelLoadError';
  constructor(cause: unknown) {
    super(describeError(cause), { cause });
  }
}

/** The annotated copy's name: PNG and JPEG keep their name and format; anything else becomes `<name>.png`. */
export function annotatedName(name: string): { name: string; format: 'png' | 'jpeg' } {
  const ext = path.extname(name).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return { name, format: 'jpeg' };
  if (ext === '.png') return { name, format: 'png' };
  return { name: `${name}.png`, format: 'png' };
}

/**
 * Expand the paths: a file is one input (whatever its extension: a bad one fails later), a folder gives its image
 * files (by extension, recursively, sorted). A missing path or a broken link is a failed result, not thrown.
 */
export async function listPhotoInputs(
  paths: string[],
  options: { cwd?: string; annotateDir?: string; onWarning?: (message: string) => void } = {},
): Promise<{ inputs: PhotoInput[]; failures: PhotoPrediction[] }> {
  const cwd = options.cwd ?? process.cwd();
  const annotated = (name: string): string | undefined => (options.annotateDir ? path.resolve(options.annotateDir, annotatedName(name).name) : undefined);
  const inputs: PhotoInput[] = [];
  const failures: PhotoPrediction[] = [];
  for (const given of paths) {
    const abs = path.resolve(cwd, given);
    let stat;
    try {
      stat = await fs.stat(abs);
    } catch (error) {
      failures.push({ file: given, ok: false, error: { reason: 'not-found', message: `${given}: ${describeError(error)}` } });
      continue;
    }
    if (!stat.isDirectory()) {
      inputs.push({ file: abs, name: given, annotated: annotated(path.basename(abs)) });
      continue;
    }
    // the one safe listing: links are followed only inside the folder, a link looped back is reported once
    const listing = await listImageFiles(abs, { extensions: IMAGE_EXTENSIONS, maxDepth: Infinity });
    for (const p of listing.problems) {
      // a loop is not an image: a warning; a dangling or escaping link is a file that failed
      if (p.code === 'symlink-loop') options.onWarning?.(`${path.join(given, p.path)}: ${p.reason}`);
      else failures.push({ file: path.join(given, p.path), ok: false, error: { reason: p.code, message: p.reason } });
    }
    for (const file of listing.files) {
      const rel = path.relative(abs, file);
      inputs.push({ file, name: path.join(given, rel), annotated: annotated(rel) });
    }
  }
  return { inputs, failures };
}

/** An annotated copy must never replace an input, nor two copies the same file: the first such clash, described. */
export function annotationClash(inputs: PhotoInput[]): string | undefined {
  const sources = new Set(inputs.map((i) => i.file));
  const seen = new Map<string, string>();
  for (const input of inputs) {
    if (!input.annotated) continue;
    if (sources.has(input.annotated)) return `the annotated copy of ${input.name} would overwrite the input ${input.annotated}`;
    const other = seen.get(input.annotated);
    if (other) return `${other} and ${input.name} would both be annotated as ${input.annotated}`;
    seen.set(input.annotated, input.name);
  }
  return undefined;
}

function failure(input: PhotoInput, error: unknown): PhotoPrediction {
  const { reason, message } = error instanceof ImageDecodeError ? error : { reason: 'failed', message: describeError(error) };
  // name the file even when the error does not
  const named = message.includes(input.file) || message.includes(input.name) ? message : `${input.name}: ${message}`;
  return { file: input.name, ok: false, error: { reason, message: named } };
}

async function predictOne(input: PhotoInput, analyzer: PhotoAnalyzer, options: PredictPhotosOptions): Promise<PhotoPrediction> {
  const image = await decodeImage(input.file, { channels: 3, maxPixels: options.maxPixels ?? 40_000_000 });
  const analysis = await analyzer.analyze(image);
  const result: PhotoPrediction = { file: input.name, ok: true, ...analysis };
  if (options.annotate && input.annotated) {
    try {
      await writeFileAtomic(input.annotated, await options.annotate.draw(image, analysis.faces, { format: annotatedName(input.annotated).format }));
      result.annotated = input.annotated;
    } catch (error) {
      throw new Error(`writing the annotated copy ${input.annotated}: ${describeError(error)}`);
    }
  }
  return result;
}

/**
 * The predict stage: list the photos, load the age model (and the face detector when detecting), then per photo
 * decode -> detect -> align -> predict, and write its annotated copy (temporary name, then rename). A photo that
 * cannot be read or predicted becomes a failed result and the run goes on. Throws PhotoInputError before loading
 * anything when there is no image or an annotated copy would overwrite an input, PhotoModelLoadError when the model
 * cannot be loaded.
 */
export async function predictPhotos(options: PredictPhotosOptions): Promise<PredictPhotosResult> {
  const detect = options.detect ?? true;
  const { inputs, failures } = await listPhotoInputs(options.paths, { cwd: options.cwd, annotateDir: options.annotate?.dir, onWarning: options.onWarning });
  const clash = annotationClash(inputs);
  if (clash) throw new PhotoInputError('annotation-clash', clash);
  if (inputs.length === 0 && failures.length === 0) throw new PhotoInputError('no-images', `no image files in ${options.paths.join(', ')}`);
  let analyzer: PhotoAnalyzer;
  try {
    analyzer = await createPhotoAnalyzer({ predictor: await options.loadPredictor(), detect, minScore: options.minScore, maxFaces: options.maxFaces });
  } catch (error) {
    throw new PhotoModelLoadError(error);
  }
  const start = performance.now();
  const results: PhotoPrediction[] = [];
  const report = (result: PhotoPrediction): void => {
    results.push(result);
    options.onResult?.(result);
  };
  try {
    failures.forEach(report);
    const tracker = new ProgressTracker(inputs.length, options.onProgress);
    for (const input of inputs) {
      options.signal?.throwIfAborted();
      const result = await predictOne(input, analyzer, options).catch((error: unknown) => failure(input, error));
      tracker.tick(result.ok);
      report(result);
    }
  } finally {
    await analyzer.dispose();
  }
  const ok = results.filter((r): r is Extract<PhotoPrediction, { ok: true }> => r.ok);
  return {
    detect,
    images: results.length,
    failed: results.length - ok.length,
    faces: ok.reduce((n, r) => n + r.faces.length, 0),
    seconds: (performance.now() - start) / 1000,
    results,
  };
}
