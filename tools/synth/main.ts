#!/usr/bin/env node
/**
 * Synthetic face dataset generator.
 * Usage: tsx tools/synth/main.ts --out DIR [--count N] [--seed S] [--min-age A] [--max-age B]
 *        [--size PX] [--defect-rate R] [--duplicate-rate R] [--uniform] [--if-absent]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatDuration } from '@agekit/dataset';
import { generateSynthDataset } from './generate';

const usage = `synth: write a folder-per-age dataset of synthetic faces whose features change with age.
  --out DIR            output folder (required)
  --count N            number of images (default 600)
  --seed S             seed (default 1); the same seed gives byte-identical files
  --min-age A          youngest age (default 20)
  --max-age B          oldest age (default 50)
  --size PX            side of clean images (default 128)
  --defect-rate R      share of images with a quality defect (default 0.3)
  --duplicate-rate R   share of exact duplicates (default 0.02)
  --uniform            uniform ages (default: skewed towards the late 20s)
  --if-absent          do nothing if DIR/manifest.csv exists`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: 'string' },
        count: { type: 'string', default: '600' },
        seed: { type: 'string', default: '1' },
        'min-age': { type: 'string', default: '20' },
        'max-age': { type: 'string', default: '50' },
        size: { type: 'string', default: '128' },
        'defect-rate': { type: 'string', default: '0.3' },
        'duplicate-rate': { type: 'string', default: '0.02' },
        uniform: { type: 'boolean', default: false },
        'if-absent': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!values.out) {
    console.error(`--out is required\n\n${usage}`);
    return 2;
  }
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number (got '${v}')`);
    return n;
  };
  if (values['if-absent'] && existsSync(`${values.out}/manifest.csv`)) {
    console.log(`synth: ${values.out} already has a dataset; nothing to do`);
    return 0;
  }
  const started = performance.now();
  const samples = await generateSynthDataset({
    out: values.out,
    count: num('count', values.count),
    seed: num('seed', values.seed),
    minAge: num('min-age', values['min-age']),
    maxAge: num('max-age', values['max-age']),
    size: num('size', values.size),
    defectRate: num('defect-rate', values['defect-rate']),
    duplicateRate: num('duplicate-rate', values['duplicate-rate']),
    ageDistribution: values.uniform ? 'uniform' : 'skewed',
    onProgress: (p) => {
      if (process.stderr.isTTY) process.stderr.write(`\rsynth ${p.done}/${p.total} ${p.rate.toFixed(0)} img/s ETA ${formatDuration(p.etaSeconds)}   `);
    },
  });
  if (process.stderr.isTTY) process.stderr.write('\n');
  const defects = new Map<string, number>();
  for (const s of samples) defects.set(s.defect, (defects.get(s.defect) ?? 0) + 1);
  console.log(
    `synth: wrote ${samples.length} images to ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)}s ` +
      `(${[...defects].map(([k, v]) => `${k} ${v}`).join(', ')})`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`synth: ${(error as Error).message}`);
    process.exit(1);
  },
);
