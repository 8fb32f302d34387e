import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DatasetError, readCsv, readMetadataCsv, type DatasetRecord, type ProgressCallback } from '@agekit/dataset';
import { analyzeFiles, findDuplicates, loadNativeQuality } from '@agekit/quality';
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

/**
 * Groups of ids that must stay in one split (a source image and its copies or near-copies): union-find, with the
 * smallest name as each group's root, so groups do not depend on the order links are added.
 */
export class GroupUnion {
  private readonly parent = new Map<string, string>();

  find(x: string): string {
    let root = x;
    for (let up = this.parent.get(root); up !== undefined && up !== root; up = this.parent.get(root)) root = up;
    let cur = x;
    while (cur !== root) {
      const next = this.parent.get(cur) ?? root;
      this.parent.set(cur, root);
      cur = next;
    }
    return root;
  }

  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent.set(rb, ra);
    else this.parent.set(ra, rb);
  }

  /** The group of `id` without the `group:` prefix of a named group. */
  groupOf(id: string): string {
    return this.find(id).replace(/^group:/, '');
  }
}

export interface MetadataInfo {
  /** Ids whose metadata row has a non-empty `error`. */
  failed: Map<string, string>;
  rows: number;
}

/** Read `csv/metadata.csv` (agekit explore): failed images, and duplicate links joined into `groups`. */
export async function readMetadata(file: string, groups: GroupUnion): Promise<MetadataInfo> {
  const rows = await readMetadataCsv(file);
  const failed = new Map<string, string>();
  for (const row of rows) {
    const id = row.id;
    if (!id) continue;
    if (row.error) failed.set(id, row.error);
    const group = row.group;
    if (group && group !== id) groups.union(id, `group:${group}`);
    for (const link of [row.duplicateOf, row.nearDuplicateOf]) {
      for (const other of link.split(';').map((s) => s.trim()).filter(Boolean)) groups.union(id, other);
    }
  }
  return { failed, rows: rows.length };
}

/** Ids of `csv/processing.csv` (agekit process) that resample leaves out: failed, or smaller than minSide before. */
export async function readProcessingExclusions(file: string, minSide: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const row of await readCsv(file)) {
    const id = row['id'];
    if (!id) continue;
    if (row['status'] === 'error') out.set(id, `processing failed: ${row['error']}`);
    const side = Math.min(Number(row['width_before']), Number(row['height_before']));
    if (side < minSide) out.set(id, `${row['width_before']}x${row['height_before']} before processing: below minSide ${minSide}`);
  }
  return out;
}

export interface ScreenOptions {
  /** Images whose shorter side is below this are left out. */
  minSide: number;
  /** Perceptual-hash distance up to which two images are near-duplicates (explore's nearDuplicateMaxDistance). */
  nearDuplicateMaxDistance: number;
  maxPixels: number;
  onProgress?: ProgressCallback;
}

/**
 * Measure every input image with explore's engine (native when built): byte-identical and near-duplicate images
 * are joined into one group in `groups`, and the unreadable and the too small are returned as left out (id -> why).
 */
export async function screenImages(records: readonly DatasetRecord[], groups: GroupUnion, options: ScreenOptions): Promise<Map<string, string>> {
  const { outcomes } = await analyzeFiles(
    records.map((r) => r.file),
    { native: loadNativeQuality(), workers: 1, maxPixels: options.maxPixels, onProgress: options.onProgress },
  );
  const leftOut = new Map<string, string>();
  const hashed = records.map((r, i) => {
    const o = outcomes[i];
    if (!o.ok) {
      leftOut.set(r.id, o.error.message);
      return { id: r.id };
    }
    const { width, height, pixelHash, phash } = o.value.metrics;
    if (Math.min(width, height) < options.minSide) leftOut.set(r.id, `${width}x${height}: below minSide ${options.minSide}`);
    return { id: r.id, pixelHash, phash };
  });
  const duplicates = findDuplicates(hashed, options.nearDuplicateMaxDistance);
  records.forEach((r, i) => {
    for (const link of [duplicates.duplicateOf[i], duplicates.nearDuplicateOf[i]]) {
      for (const other of (link ?? '').split(';').filter(Boolean)) groups.union(r.id, other);
    }
  });
  return leftOut;
}
