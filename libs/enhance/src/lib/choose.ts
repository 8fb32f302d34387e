import type { PixelImage } from '@agekit/dataset';
import { FIXABLE_FLAGS, isFixableFlag, violation, type FixableFlag, type ImageMeasurement, type QualityGuard } from './guard';
import { applyOperation, describeOperation, resizeImage, type OperationSpec, type UpscaleKernel } from './operations';
import { luminance } from './planes';
import { ssimAgainst, ssimReference, type SsimReference } from './ssim';

/**
 * The order corrections are applied in when an image has several flags. Each stage runs only when
 * the image (as corrected so far) has one of the stage's flags, so a flag a stage causes is
 * handled by a later one (upscaling blurs: the detail stage then sharpens).
 * 1. resolution: upscale first, so later operations work at the final size;
 * 2. exposure (dark, bright): fix the tone curve before anything measures contrast or edges;
 * 3. texture (low_texture): raise contrast once the exposure is right;
 * 4. detail (blurry, noisy): sharpen or denoise last, because every earlier stage changes the
 *    Laplacian variance these two flags are judged on.
 */
export const CORRECTION_STAGES: ReadonlyArray<{ name: string; flags: readonly FixableFlag[]; mandatory: boolean }> = [
  { name: 'resolution', flags: ['low_resolution'], mandatory: true },
  { name: 'exposure', flags: ['dark', 'bright'], mandatory: false },
  { name: 'texture', flags: ['low_texture'], mandatory: false },
  { name: 'detail', flags: ['blurry', 'noisy'], mandatory: false },
];

/** Candidate corrections to try for each flag (the parameter grid). */
export type CandidateGrid = Partial<Record<FixableFlag, readonly OperationSpec[]>>;

export interface EnhanceOptions {
  guard: QualityGuard;
  candidates: CandidateGrid;
  /** Partial chains kept after each stage (beam search). Default 1 (greedy). */
  beamWidth?: number;
  /**
   * How a result will be stored and read back (e.g. JPEG encode + decode). When given, every
   * candidate is measured after this round trip, so a candidate that only clears a threshold
   * before lossy compression is not taken for a fix. The image returned is not round-tripped.
   */
  roundTrip?: (image: PixelImage) => Promise<PixelImage>;
  /** Flags known from an earlier measurement (e.g. metadata.csv); the guard's own flags are added. */
  flags?: readonly string[];
}

export type EnhanceStatus = 'unchanged' | 'resolved' | 'unresolved';

export interface EnhanceResult {
  image: PixelImage;
  /** Operations applied, in order (empty when unchanged). */
  operations: OperationSpec[];
  status: EnhanceStatus;
  /** Fixable flags before, in FIXABLE_FLAGS order. */
  flagsBefore: FixableFlag[];
  /** Fixable flags of the chosen image. */
  flagsAfter: FixableFlag[];
  before: ImageMeasurement;
  after: ImageMeasurement;
  /** SSIM (gray) of the chosen image to the original, resized the same way when the size changed. */
  ssim: number;
  /** Candidate images measured. */
  candidatesTried: number;
}

interface Chain {
  image: PixelImage;
  operations: OperationSpec[];
  kernel: UpscaleKernel | undefined;
  measurement: ImageMeasurement;
  flags: FixableFlag[];
  ssim: number | undefined;
}

function fixable(flags: readonly string[]): FixableFlag[] {
  const set = new Set(flags.filter(isFixableFlag));
  return FIXABLE_FLAGS.filter((f) => set.has(f));
}

/** Joins operation descriptions with '+', e.g. `upscale(kernel=cubic,minSide=100)+gamma(0.6)`. */
export function describeOperations(operations: readonly OperationSpec[]): string {
  return operations.map(describeOperation).join('+');
}

/**
 * Quality-guarded correction of one image. Walks CORRECTION_STAGES; at each stage that the image
 * still needs, every candidate of the grid for its flags is applied and re-measured with the guard.
 * The grid lists each operation's settings from gentlest to strongest: once a setting clears the
 * stage's flags without adding any, the stronger settings of that operation are skipped (they
 * would change the image more). Candidates are ranked by: fewest of the stage's flags left, then fewest flags of any kind, then
 * (among those still failing) nearest to passing, then highest SSIM to the original (least change).
 * The best `beamWidth` chains go on to the next stage; the final pick is the chain with the fewest
 * flags, then nearest to passing, then highest SSIM. Optional stages also keep "do nothing" as a
 * candidate, so a correction that only makes things worse is not applied. An image without fixable
 * flags is returned as is ('unchanged'); otherwise 'resolved' when no fixable flag is left, else
 * 'unresolved' (the best chain is still returned).
 */
export async function enhanceImage(image: PixelImage, options: EnhanceOptions): Promise<EnhanceResult> {
  const { guard, candidates } = options;
  const beamWidth = Math.max(1, Math.floor(options.beamWidth ?? 1));
  const before = await guard.measure(image);
  const flagsBefore = fixable([...guard.flags(before), ...(options.flags ?? [])]);
  if (flagsBefore.length === 0) {
    return { image, operations: [], status: 'unchanged', flagsBefore, flagsAfter: [], before, after: before, ssim: 1, candidatesTried: 0 };
  }
  const references = new Map<string, SsimReference>();
  const referenceFor = async (chain: Chain): Promise<SsimReference> => {
    const { width, height } = chain.image;
    const key = `${width}x${height}:${chain.kernel ?? ''}`;
    let ref = references.get(key);
    if (!ref) {
      const resized = chain.kernel ? await resizeImage(image, width, height, chain.kernel) : image;
      ref = ssimReference(luminance(resized), width, height);
      references.set(key, ref);
    }
    return ref;
  };
  const ssimOf = async (chain: Chain): Promise<number> => {
    if (chain.ssim === undefined) chain.ssim = ssimAgainst(await referenceFor(chain), luminance(chain.image));
    return chain.ssim;
  };
  const distance = (chain: Chain, flags: readonly FixableFlag[]): number =>
    flags.reduce((sum, f) => sum + violation(f, chain.measurement, guard.thresholds), 0);

  // Order chains by integer/real keys first, then SSIM, computing SSIM only for chains that tie.
  const pickBest = async (chains: Chain[], keyOf: (c: Chain) => number[], count: number): Promise<Chain[]> => {
    const keyed = chains.map((c) => ({ c, k: keyOf(c) }));
    const cmp = (a: number[], b: number[]): number => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return 0;
    };
    keyed.sort((a, b) => cmp(a.k, b.k));
    const out: Chain[] = [];
    for (let i = 0; i < keyed.length && out.length < count; ) {
      let j = i + 1;
      while (j < keyed.length && cmp(keyed[i].k, keyed[j].k) === 0) j++;
      const group = keyed.slice(i, j).map((e) => e.c);
      if (group.length > 1) {
        const scores = new Map<Chain, number>();
        for (const c of group) scores.set(c, await ssimOf(c));
        // stable: equal SSIM keeps grid order
        group.sort((a, b) => (scores.get(b) ?? 0) - (scores.get(a) ?? 0));
      }
      out.push(...group.slice(0, count - out.length));
      i = j;
    }
    return out;
  };

  let tried = 0;
  let beam: Chain[] = [{ image, operations: [], kernel: undefined, measurement: before, flags: flagsBefore, ssim: 1 }];
  for (const stage of CORRECTION_STAGES) {
    const next: Chain[] = [];
    for (const chain of beam) {
      const active = stage.flags.filter((f) => chain.flags.includes(f));
      if (active.length === 0) {
        next.push(chain);
        continue;
      }
      if (!stage.mandatory) next.push(chain);
      const seen = new Set<string>();
      // an operation whose gentler setting already cleared the stage is not tried stronger
      const settled = new Set<string>();
      for (const flag of active) {
        for (const spec of candidates[flag] ?? []) {
          const text = describeOperation(spec);
          if (seen.has(text) || settled.has(spec.op)) continue;
          seen.add(text);
          const corrected = await applyOperation(chain.image, spec);
          const measurement = await guard.measure(options.roundTrip ? await options.roundTrip(corrected) : corrected);
          tried++;
          const flags = fixable(guard.flags(measurement));
          if (!stage.flags.some((f) => flags.includes(f)) && flags.every((f) => chain.flags.includes(f))) settled.add(spec.op);
          next.push({
            image: corrected,
            operations: [...chain.operations, spec],
            kernel: spec.op === 'upscale' && (corrected.width !== chain.image.width || corrected.height !== chain.image.height) ? spec.kernel : chain.kernel,
            measurement,
            flags,
            // an upscale alone equals its SSIM reference (the original resized the same way)
            ssim: spec.op === 'upscale' && chain.operations.length === 0 ? 1 : undefined,
          });
        }
      }
      if (stage.mandatory && seen.size === 0) next.push(chain);
    }
    beam = await pickBest(
      next,
      (c) => {
        const left = stage.flags.filter((f) => c.flags.includes(f));
        return [left.length, c.flags.length, left.length > 0 ? distance(c, left) : 0];
      },
      beamWidth,
    );
  }
  const [best] = await pickBest(beam, (c) => [c.flags.length, distance(c, c.flags)], 1);
  return {
    image: best.image,
    operations: best.operations,
    status: best.flags.length === 0 ? 'resolved' : 'unresolved',
    flagsBefore,
    flagsAfter: best.flags,
    before,
    after: best.measurement,
    ssim: await ssimOf(best),
    candidatesTried: tried,
  };
}

/**
 * SSIM (gray) of a processed image to its original; when the size changed, the original is first
 * resized to the processed size with the kernel of the chain's upscale operation (bicubic if none).
 */
export async function ssimToOriginal(original: PixelImage, processed: PixelImage, operations: readonly OperationSpec[] = []): Promise<number> {
  let reference = original;
  if (processed.width !== original.width || processed.height !== original.height) {
    const upscale = operations.find((o): o is Extract<OperationSpec, { op: 'upscale' }> => o.op === 'upscale');
    reference = await resizeImage(original, processed.width, processed.height, upscale?.kernel ?? 'cubic');
  }
  return ssimAgainst(ssimReference(luminance(reference), reference.width, reference.height), luminance(processed));
}
