import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createRng, encodeImage, writeCsv, writeFileAtomic, mapSettled, type ProgressCallback } from '@agekit/dataset';
import { renderSample, type Defect } from './faces';

export interface SynthOptions {
  out: string;
  count: number;
  seed: number;
  minAge?: number;
  maxAge?: number;
  /** Side of a clean image in pixels (default 128). */
  size?: number;
  /** Share of images with a quality defect (default 0.3), spread over the defect kinds. */
  defectRate?: number;
  /** Share of images that are exact copies of an earlier image (default 0.02). */
  duplicateRate?: number;
  /** Age distribution: 'skewed' (default; peaks in the late 20s, like scraped face sets) or 'uniform'. */
  ageDistribution?: 'skewed' | 'uniform';
  onProgress?: ProgressCallback;
}

export interface SynthSample {
  /** Path relative to `out`: `<age>/synth_<n>.jpg`. */
  file: string;
  age: number;
  defect: Defect;
  /** The file this one is an exact copy of, if any. */
  duplicateOf?: string;
}

const DEFECTS: Defect[] = ['blurry', 'dark', 'bright', 'noisy', 'tiny', 'flat'];

/** Plan the samples (ages, defects, duplicates) for a seed without rendering anything. */
export function planSamples(options: SynthOptions): SynthSample[] {
  const minAge = options.minAge ?? 20;
  const maxAge = options.maxAge ?? 50;
  if (!(Number.isInteger(minAge) && Number.isInteger(maxAge) && minAge >= 0 && maxAge >= minAge)) {
    throw new Error(`synth: bad age range ${minAge}..${maxAge}`);
  }
  if (!(Number.isInteger(options.count) && options.count > 0)) throw new Error(`synth: count must be a positive integer (got ${options.count})`);
  const rng = createRng(options.seed).fork('plan');
  const ages: number[] = [];
  const weights: number[] = [];
  const peak = minAge + (maxAge - minAge) * 0.3;
  for (let a = minAge; a <= maxAge; a++) {
    ages.push(a);
    weights.push(options.ageDistribution === 'uniform' ? 1 : 0.25 + Math.exp(-(((a - peak) / ((maxAge - minAge + 1) * 0.25)) ** 2)));
  }
  const total = weights.reduce((s, w) => s + w, 0);
  const pickAge = (): number => {
    let u = rng.next() * total;
    for (let i = 0; i < ages.length; i++) {
      u -= weights[i];
      if (u < 0) return ages[i];
    }
    return ages[ages.length - 1];
  };
  const defectRate = options.defectRate ?? 0.3;
  const duplicateRate = options.duplicateRate ?? 0.02;
  const width = String(options.count - 1).length;
  const samples: SynthSample[] = [];
  for (let i = 0; i < options.count; i++) {
    const name = `synth_${String(i).padStart(width, '0')}.jpg`;
    if (samples.length > 0 && rng.next() < duplicateRate) {
      const source = samples[rng.int(samples.length)];
      const original = source.duplicateOf ? samples.find((s) => s.file === source.duplicateOf)! : source;
      samples.push({ file: `${original.age}/${name}`, age: original.age, defect: original.defect, duplicateOf: original.file });
      continue;
    }
    const age = pickAge();
    const defect = rng.next() < defectRate ? DEFECTS[rng.int(DEFECTS.length)] : 'none';
    samples.push({ file: `${age}/${name}`, age, defect });
  }
  return samples;
}

/**
 * Write a folder-per-age dataset of synthetic faces plus `manifest.csv` (file, age, defect,
 * duplicate_of). The same options give byte-identical files.
 */
export async function generateSynthDataset(options: SynthOptions): Promise<SynthSample[]> {
  const size = options.size ?? 128;
  const samples = planSamples(options);
  await fs.mkdir(options.out, { recursive: true });
  const root = createRng(options.seed);
  const bytesOf = new Map<string, Promise<Buffer>>();
  const render = (s: SynthSample): Promise<Buffer> => {
    let p = bytesOf.get(s.file);
    if (!p) {
      const image = renderSample({ age: s.age, size, defect: s.defect }, root.fork(s.file));
      p = encodeImage(image, 'jpeg', 92);
      bytesOf.set(s.file, p);
    }
    return p;
  };
  const results = await mapSettled(
    samples,
    async (s) => {
      const bytes = await render(s.duplicateOf ? samples.find((o) => o.file === s.duplicateOf)! : s);
      await writeFileAtomic(path.join(options.out, s.file), bytes);
      if (!s.duplicateOf) bytesOf.delete(s.file); // keep memory flat: duplicates re-render if needed
    },
    { concurrency: 4, onProgress: options.onProgress },
  );
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) throw failed.error;
  await writeCsv(
    path.join(options.out, 'manifest.csv'),
    samples.map((s) => ({ file: s.file, age: s.age, defect: s.defect, duplicate_of: s.duplicateOf ?? '' })),
  );
  return samples;
}
