import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from '@agekit/dataset';
import type { ResampleConfig, TargetConfig } from './config';
import {
  ageClasses,
  classOfAge,
  distributionFromCounts,
  distributionFromFile,
  parseAgeCountCsv,
  parseDistributionFile,
  uniformDistribution,
  type AgeClass,
  type DistributionFile,
} from './distribution';
import australiaErp2021 from './distributions/australia-erp-2021.json';
import { EQUALIZE_CLASSES, type EqualizeClasses, type SamplingStrategy } from './plan';

/** Distributions that ship with the library, by name: a target names one instead of a file. */
export const BUILT_IN_DISTRIBUTIONS: Readonly<Record<string, DistributionFile>> = {
  // parsed (and so checked) like any distribution file
  'australia-erp-2021': parseDistributionFile(JSON.stringify(australiaErp2021), 'australia-erp-2021'),
};

async function readText(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new DatasetError(file, `cannot read ${what}: ${(error as Error).message}`);
  }
}

/** Turn a target into a sampling strategy (distribution files are read relative to `baseDir`). */
export async function strategyFor(target: TargetConfig, ages: ResampleConfig['ages'], baseDir: string): Promise<SamplingStrategy> {
  const range = { minAge: ages.min, maxAge: ages.max, binWidth: ages.binWidth };
  if ('distribution' in target) {
    if (target.distribution === 'uniform') return { kind: 'distribution', distribution: uniformDistribution(range) };
    const builtIn = Object.hasOwn(BUILT_IN_DISTRIBUTIONS, target.distribution) ? BUILT_IN_DISTRIBUTIONS[target.distribution] : undefined;
    if (builtIn) return { kind: 'distribution', distribution: distributionFromFile(builtIn, range) };
    const file = path.resolve(baseDir, target.distribution);
    if (file.toLowerCase().endsWith('.csv')) {
      const parsed = parseAgeCountCsv(await readText(file, 'distribution CSV'), file);
      return {
        kind: 'distribution',
        distribution: distributionFromCounts(parsed.rows, { ...range, name: path.basename(file), openEndedFrom: parsed.openEndedFrom }),
      };
    }
    const text = await readText(file, 'distribution file');
    return { kind: 'distribution', distribution: distributionFromFile(parseDistributionFile(text, file), range) };
  }
  if ('counts' in target) return { kind: 'counts', counts: target.counts };
  return { kind: 'equalize', classes: target.strategy, direction: target.direction ?? 'over' };
}

/** A target given as one word: uniform, a built-in name or a distribution file, or a strategy name (spaces or hyphens: not-majority). */
export function targetFromFlag(value: string, direction: 'over' | 'under' | undefined): TargetConfig {
  const name = value.replace(/-/g, ' ');
  if ((EQUALIZE_CLASSES as readonly string[]).includes(name)) return { strategy: name as EqualizeClasses, direction: direction ?? 'over' };
  return { distribution: value };
}

/**
 * The class of a record: its age's class within the age range (single year or bin); a record with
 * only an age group (YOUNG/MIDDLE/OLD) is its group for count/strategy targets, and left out for
 * distribution targets (which are over ages).
 */
export function classifier(ages: ResampleConfig['ages'], byAgeOnly: boolean): { classes: AgeClass[]; classOf: (r: { age?: number; ageGroup?: string }) => string | undefined } {
  const classes = ageClasses({ minAge: ages.min, maxAge: ages.max, binWidth: ages.binWidth });
  return {
    classes,
    classOf: (r) => {
      if (r.age !== undefined) return classOfAge(classes, r.age)?.label;
      return byAgeOnly ? undefined : r.ageGroup;
    },
  };
}
