import { promises as fs } from 'node:fs';
import { holdOutMatcher, labelOf, readDataset, resampledSplitFolder, splitGrouped, type DatasetRecord, type HoldOutSpec, type SplitName, type SplitRatios } from '@agekit/dataset';

export interface ResolvedSplits {
  /** 'folders': <data>/{train,val[,test]}; 'split': one dataset split here with splitGrouped. */
  source: 'folders' | 'split';
  train: DatasetRecord[];
  val: DatasetRecord[];
  test: DatasetRecord[];
  /** The held-out evaluation set: the `heldout/` folder, or the records `holdOut` matched (with their groups). */
  heldout: DatasetRecord[];
  problems: { path: string; reason: string }[];
}

async function isDir(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export interface ResolveSplitsOptions {
  /**
   * Split here only (split folders already are): hold these records out of train/val/test as the `heldout` set,
   * each with every record of its group (e.g. { field: 'race', values: ['2'] } on UTKFace: the Asian faces).
   */
  holdOut?: HoldOutSpec;
}

/**
 * The train/val/test (and held-out) records of a dataset: its split folders when `train/` and `val/` exist (the
 * resample stage's `resampled_dataset/`, with `heldout/` when it made one), else a seeded split grouped by source and
 * stratified by label.
 */
export async function resolveSplits(root: string, seed: number, ratios: SplitRatios, options: ResolveSplitsOptions = {}): Promise<ResolvedSplits> {
  if (!(await isDir(root))) throw new Error(`${root}: dataset folder not found`);
  if ((await isDir(resampledSplitFolder(root, 'train'))) && (await isDir(resampledSplitFolder(root, 'val')))) {
    const read = async (name: SplitName): Promise<{ records: DatasetRecord[]; problems: ResolvedSplits['problems'] }> =>
      (await isDir(resampledSplitFolder(root, name))) ? readDataset(resampledSplitFolder(root, name)) : { records: [], problems: [] };
    const [train, val, test, heldout] = await Promise.all([read('train'), read('val'), read('test'), read('heldout')]);
    return {
      source: 'folders',
      train: train.records,
      val: val.records,
      test: test.records,
      heldout: heldout.records,
      problems: [...train.problems, ...val.problems, ...test.problems, ...heldout.problems],
    };
  }
  const dataset = await readDataset(root);
  const heldOutOf = options.holdOut ? holdOutMatcher(options.holdOut) : undefined;
  const splits = splitGrouped(dataset.records, { seed, ratios, groupOf: (r) => r.group, stratumOf: (r) => labelOf(r), heldOutOf });
  return { source: 'split', ...splits, problems: dataset.problems };
}
