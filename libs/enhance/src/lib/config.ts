import type { CandidateGrid } from './choose';
import { FIXABLE_FLAGS, type FixableFlag } from './guard';
import type { OperationSpec, UpscaleKernel } from './operations';

/** An operation as written in configs/enhance.json: like OperationSpec, but upscale's minSide may be left to the quality thresholds. */
export type ConfiguredOperation = Exclude<OperationSpec, { op: 'upscale' }> | { op: 'upscale'; kernel: UpscaleKernel; minSide?: number };

/** configs/enhance.json. */
export interface EnhanceConfig {
  /** Partial chains kept per correction stage (1 = greedy). */
  beamWidth: number;
  /** JPEG quality for corrected images written as .jpg/.jpeg. */
  jpegQuality: number;
  /** Images in flight per thread. */
  concurrency: number;
  /** Worker threads (0 = one per core). */
  threads: number;
  /** The parameter grid: candidate corrections per flag. */
  candidates: Partial<Record<FixableFlag, ConfiguredOperation[]>>;
}

const num = (minimum?: number, exclusiveMinimum?: number) => ({
  type: 'number',
  ...(minimum !== undefined ? { minimum } : {}),
  ...(exclusiveMinimum !== undefined ? { exclusiveMinimum } : {}),
});
const int = (minimum: number) => ({ type: 'integer', minimum });
const op = (name: string, properties: Record<string, object>, required: string[]) => ({
  type: 'object',
  additionalProperties: false,
  required: ['op', ...required],
  properties: { op: { const: name }, ...properties },
});

const operationSchema = {
  oneOf: [
    op('unsharp', { sigma: num(0.3), amount: num(0), threshold: num(0) }, ['sigma', 'amount']),
    op('highpass', { amount: num(0) }, ['amount']),
    op('texture', { sigma: num(0.3), amount: num(0) }, ['sigma', 'amount']),
    op('gaussian', { sigma: num(0.3) }, ['sigma']),
    op('median', { size: { type: 'integer', enum: [3, 5, 7, 9] } }, ['size']),
    op('bilateral', { diameter: int(3), sigmaColor: num(undefined, 0), sigmaSpace: num(undefined, 0) }, ['diameter', 'sigmaColor', 'sigmaSpace']),
    op('equalize', {}, []),
    op('clahe', { tiles: int(1), maxSlope: num(0) }, ['tiles', 'maxSlope']),
    op('gamma', { gamma: num(undefined, 0) }, ['gamma']),
    op('upscale', { kernel: { enum: ['cubic', 'lanczos3'] }, minSide: int(1) }, ['kernel']),
  ],
};

/** JSON schema of configs/enhance.json (defaults are filled in by @agekit/dataset's loadConfig). */
export const enhanceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    beamWidth: { type: 'integer', minimum: 1, maximum: 8, default: 1 },
    jpegQuality: { type: 'integer', minimum: 1, maximum: 100, default: 95 },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    threads: { type: 'integer', minimum: 0, maximum: 64, default: 0 },
    candidates: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(FIXABLE_FLAGS.map((flag) => [flag, { type: 'array', items: operationSchema }])),
      default: {},
    },
  },
} as const;

/** The grid used when configs/enhance.json gives none for a flag. */
export const DEFAULT_CANDIDATES: Record<FixableFlag, ConfiguredOperation[]> = {
  low_resolution: [
    { op: 'upscale', kernel: 'cubic' },
    { op: 'upscale', kernel: 'lanczos3' },
  ],
  dark: [
    { op: 'gamma', gamma: 0.8 },
    { op: 'gamma', gamma: 0.65 },
    { op: 'gamma', gamma: 0.5 },
    { op: 'gamma', gamma: 0.4 },
    { op: 'gamma', gamma: 0.3 },
    { op: 'clahe', tiles: 4, maxSlope: 3 },
    { op: 'equalize' },
  ],
  bright: [
    { op: 'gamma', gamma: 1.25 },
    { op: 'gamma', gamma: 1.5 },
    { op: 'gamma', gamma: 2 },
    { op: 'gamma', gamma: 2.5 },
    { op: 'gamma', gamma: 3 },
    { op: 'clahe', tiles: 4, maxSlope: 3 },
    { op: 'equalize' },
  ],
  low_texture: [
    { op: 'texture', sigma: 4, amount: 1 },
    { op: 'texture', sigma: 4, amount: 2 },
    { op: 'clahe', tiles: 4, maxSlope: 3 },
    { op: 'equalize' },
  ],
  blurry: [
    { op: 'unsharp', sigma: 1, amount: 1 },
    { op: 'unsharp', sigma: 1, amount: 2 },
    { op: 'unsharp', sigma: 1, amount: 3 },
    { op: 'unsharp', sigma: 1, amount: 5 },
    { op: 'highpass', amount: 0.5 },
    { op: 'highpass', amount: 1 },
    { op: 'highpass', amount: 2 },
    { op: 'highpass', amount: 3 },
    { op: 'highpass', amount: 5 },
  ],
  noisy: [
    { op: 'gaussian', sigma: 0.8 },
    { op: 'gaussian', sigma: 1.2 },
    { op: 'median', size: 3 },
    { op: 'bilateral', diameter: 5, sigmaColor: 40, sigmaSpace: 3 },
    { op: 'bilateral', diameter: 7, sigmaColor: 60, sigmaSpace: 5 },
  ],
};

export const DEFAULT_ENHANCE_CONFIG: EnhanceConfig = {
  beamWidth: 1,
  jpegQuality: 95,
  concurrency: 2,
  threads: 0,
  candidates: DEFAULT_CANDIDATES,
};

/**
 * The grid to run: the config's candidates per flag (the defaults for flags it leaves out), with
 * upscale's minSide filled from the quality thresholds' minSide where the config gives none.
 */
export function resolveCandidates(candidates: EnhanceConfig['candidates'], minSide: number): CandidateGrid {
  const grid: CandidateGrid = {};
  for (const flag of FIXABLE_FLAGS) {
    const list = candidates[flag] ?? DEFAULT_CANDIDATES[flag];
    grid[flag] = list.map((spec): OperationSpec => (spec.op === 'upscale' ? { op: 'upscale', kernel: spec.kernel, minSide: spec.minSide ?? minSide } : spec));
  }
  return grid;
}
