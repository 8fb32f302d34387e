import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { decodeImage, describeError, ImageDecodeError, IMAGE_EXTENSIONS, listImageFiles, ProgressTracker, writeFileAtomic, type Progress } from '@agekit/dataset';
import type { PhotoAnalyzer, PhotoFace } from './analyze';

/** One input image: where it is and where its annotated copy goes. */
export interface PredictInput {
  /** Absolute path. */
  file: string;
  /** Shown in output: the path as given, or relative to the folder given. */
  name: string;
  /** Absolute path of the annotated copy (with --annotate). */
  annotated?: string;
}

export type PredictImageResult =
  | { file: string; ok: true; width: number; height: number; faces: PhotoFace[]; annotated?: string }
  | { file: string; ok: false; error: { reason: string; message: string } };

export interface PredictSummary {
  bundle: string;
  detect: boolean;
  images: number;
  failed: number;
  faces: number;
  seconds: number;
  results: PredictImageResult[];
}


/** The annotated copy's name: PNG and JPEG keep their name and format; anything else becomes `<name>.png`. */
export function annotatedName(name: string): { name: string; format: 'png' | 'jpeg' } {
  const ext = path.extname(name).toLowerCase();
  if (ext === '.jpg' || ext === '.jpeg') return { name, format: 'jpeg' };
  if (ext === '.png') return { name, format: 'png' };
  return { name: `${name}.png`, format: 'png' };
}

/**
 * Expand the arguments: a file is one input (whatever its extension: a bad one is reported later), a folder gives its
 * image files (by extension, recursively, sorted). A missing path is returned as a problem, not thrown.
 */
export async function listInputs(args: string[], cwd: string, annotateDir?: string): Promise<{ inputs: PredictInput[]; missing: PredictImageResult[]; skipped: string[] }> {
  const inputs: PredictInput[] = [];
  const missing: PredictImageResult[] = [];
  const skipped: string[] = [];
  for (const arg of args) {
    const abs = path.resolve(cwd, arg);
    let stat;
    try {
      stat = await fs.stat(abs);
    } catch (error) {
      missing.push({ file: arg, ok: false, error: { reason: 'not-found', message: `${arg}: ${describeError(error)}` } });
      continue;
    }
    if (stat.isDirectory()) {
      // the one safe listing: links are followed only inside the folder, a link looped back is reported once
      const listing = await listImageFiles(abs, { extensions: IMAGE_EXTENSIONS, maxDepth: Infinity });
      for (const p of listing.problems) {
        // a loop or a nested folder is not an image: a warning; a dangling or escaping link is a file that failed
        if (p.code === 'symlink-loop') skipped.push(`${path.join(arg, p.path)}: ${p.reason}`);
        else missing.push({ file: path.join(arg, p.path), ok: false, error: { reason: p.code, message: p.reason } });
      }
      for (const file of listing.files) {
        const rel = path.relative(abs, file);
        inputs.push({ file, name: path.join(arg, rel), annotated: annotateDir ? path.resolve(annotateDir, annotatedName(rel).name) : undefined });
      }
    } else {
      inputs.push({ file: abs, name: arg, annotated: annotateDir ? path.resolve(annotateDir, annotatedName(path.basename(abs)).name) : undefined });
    }
  }
  return { inputs, missing, skipped };
}

/** An annotated copy must never replace an input, nor two copies the same file: the first such clash is returned. */
export function annotationClash(inputs: PredictInput[]): string | undefined {
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

export interface PredictRunOptions {
  analyzer: PhotoAnalyzer;
  bundle: string;
  inputs: PredictInput[];
  /** Results already known to be failures (missing paths), reported first. */
  failures?: PredictImageResult[];
  detect: boolean;
  maxPixels?: number;
  onProgress?: (p: Progress) => void;
  /** Called as each image is done (to print as we go). */
  onResult?: (result: PredictImageResult) => void;
}

function reasonOf(error: unknown): { reason: string; message: string } {
  if (error instanceof ImageDecodeError) return { reason: error.reason, message: error.message };
  return { reason: 'failed', message: describeError(error) };
}

/** Decode each image, analyse it, write its annotated copy; a bad file becomes a failed result and the run goes on. */
export async function predictImages(options: PredictRunOptions): Promise<PredictSummary> {
  const start = performance.now();
  const results: PredictImageResult[] = [];
  for (const failure of options.failures ?? []) {
    results.push(failure);
    options.onResult?.(failure);
  }
  const tracker = new ProgressTracker(options.inputs.length, options.onProgress);
  for (const input of options.inputs) {
    let result: PredictImageResult;
    try {
      const image = await decodeImage(input.file, { channels: 3, maxPixels: options.maxPixels });
      const analysis = await options.analyzer.analyze(image, { detect: options.detect });
      result = { file: input.name, ok: true, ...analysis };
      if (input.annotated) {
        try {
          // @agekit/plot (node-canvas) is loaded only when something is drawn
          const { annotateImage } = await import('@agekit/plot');
          const bytes = await annotateImage(image, analysis.faces, { format: annotatedName(input.annotated).format });
          await fs.mkdir(path.dirname(input.annotated), { recursive: true });
          await writeFileAtomic(input.annotated, bytes);
          result.annotated = input.annotated;
        } catch (error) {
          throw new Error(`writing the annotated copy ${input.annotated}: ${describeError(error)}`);
        }
      }
    } catch (error) {
      const { reason, message } = reasonOf(error);
      // name the file even when the error does not
      result = { file: input.name, ok: false, error: { reason, message: message.includes(input.file) || message.includes(input.name) ? message : `${input.name}: ${message}` } };
    }
    results.push(result);
    tracker.tick(result.ok);
    options.onResult?.(result);
  }
  const ok = results.filter((r): r is Extract<PredictImageResult, { ok: true }> => r.ok);
  return {
    bundle: options.bundle,
    detect: options.detect,
    images: results.length,
    failed: results.length - ok.length,
    faces: ok.reduce((n, r) => n + r.faces.length, 0),
    seconds: (performance.now() - start) / 1000,
    results,
  };
}

/** "box 467,271 210x263  score 0.99  age 34.2  top 30 12%, 31 10%" */
export function describeFace(face: PhotoFace): string {
  const b = face.box;
  const parts = [`box ${Math.round(b.x)},${Math.round(b.y)} ${Math.round(b.width)}x${Math.round(b.height)}`];
  if (face.score !== null) parts.push(`score ${face.score.toFixed(2)}`);
  if (face.expectedAge !== null) parts.push(`age ${face.expectedAge.toFixed(1)}`);
  if (face.group !== null) parts.push(`group ${face.group}`);
  if (face.top.length) parts.push(`top ${face.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(0)}%`).join(', ')}`);
  return parts.join('  ');
}
