import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { PhotoFace, PhotoPrediction } from '@agekit/face';
import { COMMON_OPTIONS, switchFlags, valueFlags, EXIT, failed, numberFlag, plural, stringFlag, UsageError, wholeNumberFlag, type CliCommand, type CommandContext } from '../lib/command';

const DEFAULT_BUNDLE = 'dist/bundle';

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

function printResult(ctx: CommandContext, r: PhotoPrediction): void {
  if (!r.ok) return ctx.term.warn(`skipped ${r.error.message}`);
  ctx.term.info(`${r.file}  ${r.width}x${r.height}  ${plural(r.faces.length, 'face')}${r.annotated ? `  -> ${r.annotated}` : ''}`);
  r.faces.forEach((face, i) => ctx.term.info(`  #${i + 1}  ${describeFace(face)}`));
}

export const command: CliCommand = {
  usage: `<image|folder>... [--bundle DIR] [--no-detect] [--annotate DIR] [--min-score 0.5] [--top 3] [--max-faces 20]

  <image|folder>    photos (JPEG, PNG, WebP, ...); a folder is searched recursively (also: --data DIR)
  --bundle DIR      bundle written by 'agekit-exporter export' (default: dist/bundle)
  --no-detect       the images are face crops already: the whole image is one face
  --annotate DIR    write each image with its boxes and labels drawn (same relative names; never over an input)
  --min-score X     smallest face-detector confidence kept, in (0, 1] (default 0.5)
  --top N           classes listed per face (default 3)
  --max-faces N     faces per photo at most (default 20)
  A file that cannot be read is reported with its reason and the run goes on (--strict: exit 1 at the end).`,
  options: { ...COMMON_OPTIONS, ...valueFlags('bundle', 'annotate', 'min-score', 'top', 'max-faces'), ...switchFlags('no-detect') },
  async run(ctx) {
    const args = [...ctx.positionals];
    const data = stringFlag(ctx, 'data');
    if (data) args.push(data);
    if (args.length === 0) throw new UsageError('no images: pass image files or folders (or --data DIR)');
    const bundleFlag = stringFlag(ctx, 'bundle');
    const bundle = path.resolve(ctx.cwd, bundleFlag ?? DEFAULT_BUNDLE);
    if (!existsSync(bundle)) throw new UsageError(bundleFlag ? `--bundle ${bundleFlag}: no such folder` : `no bundle at ${DEFAULT_BUNDLE}: pass --bundle DIR (written by 'agekit-exporter export')`);
    const minScore = numberFlag(ctx, 'min-score') ?? 0.5;
    if (!(minScore > 0 && minScore <= 1)) throw new UsageError(`--min-score must be in (0, 1] (got ${minScore})`);
    const top = wholeNumberFlag(ctx, 'top', 0) ?? 3;
    const detect = !ctx.values['no-detect'];
    const annotateFlag = stringFlag(ctx, 'annotate');
    const progress = ctx.term.progress('predict');
    // loaded here (as in serve) so `agekit predict --help` and usage errors stay fast
    const [{ PhotoInputError, PhotoModelLoadError, predictPhotos }, { loadBundlePredictor }] = await Promise.all([import('@agekit/face'), import('@agekit/onnx')]);
    let summary;
    try {
      summary = await predictPhotos({
        paths: args,
        cwd: ctx.cwd,
        loadPredictor: () => loadBundlePredictor(bundle, { top }),
        ...{ detect, minScore, maxFaces: wholeNumberFlag(ctx, 'max-faces', 1) ?? 20 },
        // @agekit/plot (node-canvas) is loaded only when something is drawn
        annotate: annotateFlag ? { dir: path.resolve(ctx.cwd, annotateFlag), draw: async (...a) => (await import('@agekit/plot')).annotateImage(...a) } : undefined,
        onWarning: (line) => ctx.term.warn(line),
        onProgress: (p) => {
          if (p.total > 1) progress(p); // one photo needs no progress line
        },
        onResult: (r) => printResult(ctx, r),
      });
    } catch (error) {
      if (error instanceof PhotoInputError) throw new UsageError(error.code === 'annotation-clash' ? `--annotate ${annotateFlag}: ${error.message}; choose another folder` : error.message);
      // a broken bundle or detector model: one clear line (the message names the file), not a stack trace
      if (error instanceof PhotoModelLoadError) return failed(ctx, `cannot load the model: ${error.message}`);
      throw error;
    }
    ctx.term.info(`predict: ${plural(summary.images, 'image')}, ${plural(summary.faces, 'face')}, ${summary.failed} failed, ${summary.seconds.toFixed(1)}s (bundle ${bundle}${detect ? '' : ', no detection'})`);
    ctx.term.result({ bundle, ...summary });
    if (summary.failed > 0 && ctx.values['strict']) return failed(ctx, `--strict: ${plural(summary.failed, 'image')} could not be read`);
    // a path named on the command line that does not exist, or no image read at all: the run failed
    const missing = summary.results.filter((r) => !r.ok && r.error.reason === 'not-found' && args.includes(r.file)).map((r) => r.file);
    if (missing.length > 0) return failed(ctx, `${missing.join(', ')}: no such file or folder`);
    if (summary.images > 0 && summary.failed === summary.images) return failed(ctx, `no image could be read (${summary.failed} failed)`);
    return EXIT.ok;
  },
};
