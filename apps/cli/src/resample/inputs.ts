import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DatasetError, readCsv } from '@agekit/dataset';
import {
  ageClasses,
  classOfAge,
  distributionFromCounts,
  distributionFromFile,
  EQUALIZE_CLASSES,
  parseAgeCountCsv,
  parseDistributionFile,
  uniformDistribution,
  type AgeClass,
  type EqualizeClasses,
  type SamplingStrategy,
} from '@agekit/resample';
import type { ResampleConfig, TargetConfig } from './config';

/** Turn the config's target into a sampling strategy (loading distribution files relative to `baseDir`). */
export async function strategyFor(target: TargetConfig, ages: ResampleConfig['ages'], baseDir: string): Promise<SamplingStrategy> {
  const range = { minAge: ages.min, maxAge: ages.max, binWidth: ages.binWidth };
  if ('distribution' in target) {
    if (target.distribution === 'uniform') return { kind: 'distribution', distribution: uniformDistribution(range) };
    const file = path.resolve(baseDir, target.distribution);
    if (file.toLowerCase().endsWith('.csv')) {
      let text: string;
      try {
        text = await fs.readFile(file, 'utf8');
      } catch (error) {
        throw new DatasetError(file, `cannot read distribution CSV: ${(error as Error).message}`);
      }
      const parsed = parseAgeCountCsv(text, file);
      return {
        kind: 'distribution',
        distribution: distributionFromCounts(parsed.rows, { ...range, name: path.basename(file), openEndedFrom: parsed.openEndedFrom }),
      };
    }
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      throw new DatasetError(file, `cannot read distribution file: ${(error as Error).message}`);
    }
    return { kind: 'distribution', distribution: distributionFromFile(parseDistributionFile(text, file), range) };
  }
  if ('counts' in target) return { kind: 'counts', counts: target.counts };
  return { kind: 'equalize', classes: target.strategy, direction: target.direction ?? 'over' };
}

/** `--target`: uniform, a distribution file, or a strategy name (spaces or hyphens: not-majority). */
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

export interface MetadataInfo {
  /** Ids whose metadata row has a non-empty `error`. */
  failed: Map<string, string>;
  /** Group of each id: the row's `group`, joined with its duplicate_of / near_duplicate_of (union-find). */
  groupOf: Map<string, string>;
  rows: number;
}

/** Read `csv/metadata.csv` (agekit explore): failed images and duplicate groups. */
export async function readMetadata(file: string): Promise<MetadataInfo> {
  if (!existsSync(file)) throw new DatasetError(file, 'no such metadata file');
  const rows = await readCsv(file);
  if (rows.length > 0 && !('id' in rows[0])) throw new DatasetError(file, `no id column (found ${Object.keys(rows[0]).join(', ')})`);
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    for (let up = parent.get(root); up !== undefined && up !== root; up = parent.get(root)) root = up;
    let cur = x;
    while (cur !== root) {
      const next = parent.get(cur) ?? root;
      parent.set(cur, root);
      cur = next;
    }
    return root;
  };
  const union = (a: string, b: string): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return;
    // the smaller name becomes the root, so groups do not depend on row order
    if (ra < rb) parent.set(rb, ra);
    else parent.set(ra, rb);
  };
  const failed = new Map<string, string>();
  for (const row of rows) {
    const id = row['id'];
    if (!id) continue;
    if (!parent.has(id)) parent.set(id, id);
    if (row['error']) failed.set(id, row['error']);
    const group = row['group'];
    if (group && group !== id) union(id, `group:${group}`);
    for (const column of ['duplicate_of', 'near_duplicate_of']) {
      for (const other of (row[column] ?? '').split(';').map((s) => s.trim()).filter(Boolean)) union(id, other);
    }
  }
  const groupOf = new Map<string, string>();
  for (const row of rows) if (row['id']) groupOf.set(row['id'], find(row['id']).replace(/^group:/, ''));
  return { failed, groupOf, rows: rows.length };
}
