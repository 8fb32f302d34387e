import { promises as fs } from 'node:fs';
import { labelOf, readDataset, resampledSplitFolder, splitGrouped, type DatasetRecord, type SplitName, type SplitRatios } from '@agekit/dataset';

export interface ResolvedSplits {
  /** 'folders': <data>/{train,val[,test]}; 'split': one dataset split here with splitGrouped. */
  source: 'folders' | 'split';
  train: DatasetRecord[];
  val: DatasetRecord[];
  test: DatasetRecord[];
  problems: { path: string; reason: string }[];
}

async function isDir(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/**
 * The train/val/test records of a dataset: its split folders when `train/` and `val/` exist (the resample stage's
 * `resampled_dataset/`), else a seeded split grouped by source and stratified by label.
 */
export async function resolveSplits(root: string, seed: number, ratios: SplitRatios): Promise<ResolvedSplits> {
  if (!(await isDir(root))) throw new Error(`${root}: dataset folder not found`);
  if ((await isDir(resampledSplitFolder(root, 'train'))) && (await isDir(resampledSplitFolder(root, 'val')))) {
    const read = async (name: SplitName): Promise<{ records: DatasetRecord[]; problems: ResolvedSplits['problems'] }> =>
      (await isDir(resampledSplitFolder(root, name))) ? readDataset(resampledSplitFolder(root, name)) : { records: [], problems: [] };
    const [train, val, test] = await Promise.all([read('train'), read('val'), read('test')]);
    return { source: 'folders', train: train.records, val: val.records, test: test.records, problems: [...train.problems, ...val.problems, ...test.problems] };
  }
  const dataset = await readDataset(root);
  const splits = splitGrouped(dataset.records, { seed, ratios, groupOf: (r) => r.group, stratumOf: (r) => labelOf(r) });
  return { source: 'split', ...splits, problems: dataset.problems };
}
