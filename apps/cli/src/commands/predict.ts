import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { COMMON_OPTIONS, EXIT, numberFlag, stringFlag, UsageError, type CliCommand, type CommandContext } from '../lib/command';
import { createPhotoAnalyzer } from '../predict/analyze';
import { annotationClash, describeFace, listInputs, predictImages, type PredictImageResult } from '../predict/run';

const DEFAULT_BUNDLE = 'dist/bundle';
/** Larger photos are refused (decompression bombs); 40 MP covers any camera photo. */
const MAX_PIXELS = 40_000_000;

function printResult(ctx: CommandContext, r: PredictImageResult): void {
  if (!r.ok) {
    ctx.term.warn(`skipped ${r.error.message}`);
    return;
  }
  ctx.term.info(`${r.file}  ${r.width}x${r.height}  ${r.faces.length} face${r.faces.length === 1 ? '' : 's'}${r.annotated ? `  -> ${r.annotated}` : ''}`);
  r.faces.forEach((face, i) => ctx.term.info(`  #${i + 1}  ${describeFace(face)}`));
}

function positiveInteger(ctx: CommandContext, name: string, fallback: number, min: number): number {
  const value = numberFlag(ctx, name);
  if (value === undefined) return fallback;
  if (!(Number.isInteger(value) && value >= min)) throw new UsageError(`--${name} must be a whole number >= ${min} (got ${value})`);
  return value;
}

export const command: CliCommand = {
  name: 'predict',
  summary: 'ages of the faces in photos with an exported ONNX bundle (detect, align, predict; --annotate draws them)',
  usage: `<image|folder>... [--bundle DIR] [--no-detect] [--annotate DIR] [--min-score 0.5] [--top 3] [--max-faces 20]

  <image|folder>    photos (JPEG, PNG, WebP, ...); a folder is searched recursively (also: --data DIR)
  --bundle DIR      bundle written by 'agekit-exporter export' (default: dist/bundle)
  --no-detect       the images are face crops already: the whole image is one face
  --annotate DIR    write each image with its boxes and labels drawn (same relative names; never over an input)
  --min-score X     smallest face-detector confidence kept, in (0, 1] (default 0.5)
  --top N           classes listed per face (default 3)
  --max-faces N     faces per photo at most (default 20)
  A file that cannot be read is reported with its reason and the run goes on (--strict: exit 1 at the end).`,
  options: {
    ...COMMON_OPTIONS,
    bundle: { type: 'string' },
    'no-detect': { type: 'boolean', default: false },
    annotate: { type: 'string' },
    'min-score': { type: 'string' },
    top: { type: 'string' },
    'max-faces': { type: 'string' },
  },
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
    const top = positiveInteger(ctx, 'top', 3, 0);
    const maxFaces = positiveInteger(ctx, 'max-faces', 20, 1);
    const detect = !ctx.values['no-detect'];
    const annotateFlag = stringFlag(ctx, 'annotate');
    const annotateDir = annotateFlag ? path.resolve(ctx.cwd, annotateFlag) : undefined;

    const { inputs, missing, skipped } = await listInputs(args, ctx.cwd, annotateDir);
    for (const line of skipped) ctx.term.warn(line);
    const clash = annotationClash(inputs);
    if (clash) throw new UsageError(`--annotate ${annotateFlag}: ${clash}; choose another folder`);
    if (inputs.length === 0 && missing.length === 0) throw new UsageError(`no image files in ${args.join(', ')}`);

    let analyzer;
    try {
      analyzer = await createPhotoAnalyzer({ bundleDir: bundle, detect, minScore, top, maxFaces });
    } catch (error) {
      // a broken bundle or detector model: one clear line (the message names the file), not a stack trace
      ctx.term.error(`cannot load the model: ${error instanceof Error ? error.message : String(error)}`);
      return EXIT.failed;
    }
    let summary;
    try {
      summary = await predictImages({
        analyzer,
        bundle,
        inputs,
        failures: missing,
        detect,
        maxPixels: MAX_PIXELS,
        onProgress: inputs.length > 1 ? ctx.term.progress('predict') : undefined,
        onResult: (r) => printResult(ctx, r),
      });
    } finally {
      await analyzer.dispose();
    }
    ctx.term.info(`predict: ${summary.images} image${summary.images === 1 ? '' : 's'}, ${summary.faces} face${summary.faces === 1 ? '' : 's'}, ${summary.failed} failed, ${summary.seconds.toFixed(1)}s (bundle ${bundle}${detect ? '' : ', no detection'})`);
    ctx.term.result(summary);
    if (summary.failed > 0 && ctx.values['strict']) {
      ctx.term.error(`--strict: ${summary.failed} image${summary.failed === 1 ? '' : 's'} could not be read`);
      return EXIT.failed;
    }
    // a path named on the command line that does not exist, or no image read at all: the run failed
    if (missing.some((m) => args.includes(m.file))) {
      ctx.term.error(`${missing.filter((m) => args.includes(m.file)).map((m) => m.file).join(', ')}: no such file or folder`);
      return EXIT.failed;
    }
    if (summary.images > 0 && summary.failed === summary.images) {
      ctx.term.error(`no image could be read (${summary.failed} failed)`);
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};
