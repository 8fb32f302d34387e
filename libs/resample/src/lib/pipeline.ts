import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  assertImageBytes,
  describeError,
  ImageDecodeError,
  readImageBytes,
  encodeFormatOf,
  formatForPath,
  hashString,
  holdOutMatcher,
  mapSettled,
  splitGrouped,
  type DatasetRecord,
  type HoldOutSpec,
  type ProgressCallback,
  type SplitName,
  type SplitRatios,
} from '@agekit/dataset';
import { augmentImage, formatTransform, type AugmentationOptions, type AugmentParams } from './augment';
import { countByLabel, planResampling, type PlanOptions, type ResamplingPlan, type SamplingStrategy } from './plan';
import { applyPlan } from './select';

export interface PlanDatasetResamplingOptions extends PlanOptions {
  seed: number;
  /** Split ratios (default 0.7 / 0.15 / 0.15). */
  ratios?: SplitRatios;
  strategy: SamplingStrategy;
  /** The class (age or bin label) of a record; undefined leaves the record out (outside the age range, no label). */
  classOf: (record: DatasetRecord) => string | undefined;
  augmentation?: AugmentationOptions;
  /** Records held out of train/val/test, with their groups, into the `heldout` split (copied like val and test). */
  holdOut?: HoldOutSpec;
}

/** One file of the resampled dataset. */
export interface OutputItem {
  /** Path relative to the resampled dataset root: `<split>/<age>/<name>`. */
  output: string;
  split: SplitName;
  record: DatasetRecord;
  /** Class label used for planning (the age, or a bin such as "20-24"). */
  label: string;
  /** 0 = the source image copied unchanged; 1.. = augmented copies of it. */
  copy: number;
  augmentation?: AugmentParams;
}

export interface DatasetResamplingPlan {
  plan: ResamplingPlan;
  /** Records per split before resampling (after leaving out records without a class). */
  splitSizes: Record<SplitName, number>;
  /** Records left out because classOf gave no class. */
  excluded: DatasetRecord[];
  /** Every output, in a stable order (split, then plan order, then output path). */
  items: OutputItem[];
}

/**
 * Split first, resample the training split only: records are split train/val/test (seeded,
 * stratified by class, grouped by `record.group` so copies and near-duplicates of one source never
 * span two splits); the plan is made on the training split; val and test are plain copies. With `holdOut`, the
 * matching records and their groups go to the `heldout` split instead (plain copies, never trained on).
 * Nothing is read or written here; see writeResampledDataset.
 */
export function planDatasetResampling(records: readonly DatasetRecord[], options: PlanDatasetResamplingOptions): DatasetResamplingPlan {
  const labelled: Array<{ record: DatasetRecord; label: string }> = [];
  const excluded: DatasetRecord[] = [];
  for (const record of records) {
    const label = options.classOf(record);
    if (label === undefined) excluded.push(record);
    else labelled.push({ record, label });
  }
  const heldOut = options.holdOut ? holdOutMatcher(options.holdOut) : undefined;
  const splits = splitGrouped(labelled, {
    seed: options.seed,
    ratios: options.ratios,
    groupOf: (x) => x.record.group,
    stratumOf: (x) => x.label,
    heldOutOf: heldOut && ((x) => heldOut(x.record)),
  });
  const plan = planResampling(
    countByLabel(splits.train, (x) => x.label),
    options.strategy,
    { total: options.total },
  );
  const chosen = applyPlan(splits.train, plan, {
    seed: options.seed,
    labelOf: (x) => x.label,
    idOf: (x) => x.record.id,
    augmentation: options.augmentation,
  });
  const names = new OutputNames();
  const items: OutputItem[] = [];
  for (const c of chosen) {
    items.push({
      output: names.name('train', c.source.record, c.label, c.copy),
      split: 'train',
      record: c.source.record,
      label: c.label,
      copy: c.copy,
      augmentation: c.augmentation,
    });
  }
  for (const split of ['val', 'test', 'heldout'] as const) {
    const sorted = [...splits[split]].sort((a, b) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0));
    for (const x of sorted) items.push({ output: names.name(split, x.record, x.label, 0), split, record: x.record, label: x.label, copy: 0 });
  }
  return {
    plan,
    splitSizes: { train: splits.train.length, val: splits.val.length, test: splits.test.length, heldout: splits.heldout.length },
    excluded,
    items,
  };
}

/** Copy an image byte for byte after checking it is one (format signature and a readable header). */
async function copyImage(source: string, target: string): Promise<void> {
  const bytes = await readImageBytes(source);
  assertImageBytes(bytes, source);
  try {
    await sharp(bytes).metadata();
  } catch (error) {
    throw new ImageDecodeError(source, 'corrupt', (error as Error).message);
  }
  await fs.writeFile(target, bytes);
}

/** Unique output paths: `<split>/<age>/<file name>`; augmented copies `<stem>__aug<k><ext>`; clashes get a hash of the source id. */
class OutputNames {
  private readonly taken = new Set<string>();

  name(split: SplitName, record: DatasetRecord, label: string, copy: number): string {
    const folder = record.age !== undefined ? String(record.age) : (record.ageGroup ?? label);
    const base = path.posix.basename(record.id);
    let ext = path.posix.extname(base);
    let stem = base.slice(0, base.length - ext.length);
    if (copy > 0) {
      if (!encodeFormatOf(ext)) ext = '.png';
      stem = `${stem}__aug${copy}`;
    }
    let candidate = `${split}/${folder}/${stem}${ext}`;
    if (this.taken.has(candidate)) candidate = `${split}/${folder}/${stem}__${hashString(record.id).toString(16).padStart(8, '0')}${ext}`;
    for (let n = 2; this.taken.has(candidate); n++) candidate = `${split}/${folder}/${stem}__${n}${ext}`;
    this.taken.add(candidate);
    return candidate;
  }
}

export interface WriteResampledOptions {
  /** The folder to write the resampled dataset into (see writeResampledDataset on staging it). */
  outDir: string;
  /** Files in flight at once (default 4). */
  concurrency?: number;
  /** JPEG/WebP quality of augmented copies (default 95). */
  quality?: number;
  /** Any failed item aborts the write: nothing is moved into place (default false). */
  strict?: boolean;
  onCopyProgress?: ProgressCallback;
  onAugmentProgress?: ProgressCallback;
  /** Stops the write (the error is the signal's reason). */
  signal?: AbortSignal;
}

export interface WrittenItem extends OutputItem {
  /** Text of the transform: 'copy' for a plain copy, else formatTransform of the parameters. */
  transform: string;
  /** Why this output could not be made (empty when it was written). */
  error: string;
}

export interface WriteResampledResult {
  items: WrittenItem[];
  copied: number;
  augmented: number;
  failed: number;
  copySeconds: number;
  augmentSeconds: number;
}

/**
 * Write the outputs into `outDir` (created if absent). The caller stages it: @agekit/dataset's StageOutputs gives a
 * temporary folder renamed into place whole, so a reader never sees half a dataset. Plain copies are byte copies of
 * files checked to be images (signature and header); augmented copies are made with sharp, `concurrency` at a time. A failed item becomes an `error` (or, with `strict`, aborts the write).
 */
export async function writeResampledDataset(items: readonly OutputItem[], options: WriteResampledOptions): Promise<WriteResampledResult> {
  const outDir = path.resolve(options.outDir);
  await fs.mkdir(outDir, { recursive: true });
  const written: WrittenItem[] = items.map((item) => ({
    ...item,
    transform: item.augmentation ? formatTransform(item.augmentation) : 'copy',
    error: '',
  }));
  const folders = new Set(items.map((i) => path.posix.dirname(i.output)));
  for (const folder of folders) await fs.mkdir(path.join(outDir, folder), { recursive: true });
  const copies = written.filter((i) => !i.augmentation);
  const augments = written.filter((i) => i.augmentation);
  const concurrency = options.concurrency ?? 4;
  let start = performance.now();
  const copyResults = await mapSettled(copies, (item) => copyImage(item.record.file, path.join(outDir, item.output)), {
    concurrency,
    onProgress: options.onCopyProgress,
    signal: options.signal,
  });
  const copySeconds = (performance.now() - start) / 1000;
  start = performance.now();
  const augmentResults = await mapSettled(
    augments,
    async (item) => {
      const target = path.join(outDir, item.output);
      const image = await augmentImage(item.record.file, item.augmentation as AugmentParams, { format: formatForPath(target), quality: options.quality });
      await fs.writeFile(target, image.data);
    },
    { concurrency, onProgress: options.onAugmentProgress, signal: options.signal },
  );
  const augmentSeconds = (performance.now() - start) / 1000;
  let failed = 0;
  const note = (list: WrittenItem[], results: Awaited<ReturnType<typeof mapSettled>>): void => {
    results.forEach((r, i) => {
      if (!r.ok) {
        list[i].error = describeError(r.error);
        failed++;
      }
    });
  };
  note(copies, copyResults);
  note(augments, augmentResults);
  if (failed > 0 && options.strict) {
    const first = written.find((i) => i.error);
    throw new Error(`${failed} output(s) failed (strict), first: ${first?.record.file}: ${first?.error}`);
  }
  return { items: written, copied: copies.length - copyResults.filter((r) => !r.ok).length, augmented: augments.length - augmentResults.filter((r) => !r.ok).length, failed, copySeconds, augmentSeconds };
}
