import type { DatasetRecord, ProgressCallback } from '@agekit/dataset';
import type { LabelledImages } from './evaluate';
import { loadImageSet, type ImageSet } from './images';
import { targetOf, trueAgeOf, type Task } from './tasks';

export interface PrepareOptions {
  size: number;
  channels: 1 | 3;
  cacheDir?: string;
  /** Cache file prefix, e.g. 'train' or 'val'. */
  name?: string;
  concurrency?: number;
  onProgress?: ProgressCallback;
}

export interface PreparedSplit {
  data: LabelledImages;
  /** Ids of the images in `data`, in order. */
  ids: string[];
  /** Records left out because the task has no target for them (no label, or outside the age range). */
  outsideTask: string[];
  /** Records whose image failed to decode (with the reason). */
  failed: ImageSet['failed'];
  fromCache: boolean;
}

/** Keep the records the task can use, decode them (through the cache) and attach targets and true ages. */
export async function prepareSplit(records: DatasetRecord[], task: Task, options: PrepareOptions): Promise<PreparedSplit> {
  const usable: DatasetRecord[] = [];
  const outsideTask: DatasetRecord[] = [];
  for (const r of records) (targetOf(task, r) === undefined ? outsideTask : usable).push(r);
  const byId = new Map(usable.map((r) => [r.id, r]));
  const set = await loadImageSet(
    usable.map((r) => ({ id: r.id, file: r.file })),
    { size: options.size, channels: options.channels, cacheDir: options.cacheDir, name: options.name, concurrency: options.concurrency, onProgress: options.onProgress },
  );
  const kept = set.ids.map((id) => byId.get(id) as DatasetRecord);
  return {
    data: {
      images: set,
      targets: kept.map((r) => targetOf(task, r) as number),
      ages: kept.map((r) => trueAgeOf(task, r)),
    },
    ids: set.ids,
    outsideTask: outsideTask.map((r) => r.id),
    failed: set.failed,
    fromCache: set.fromCache,
  };
}
