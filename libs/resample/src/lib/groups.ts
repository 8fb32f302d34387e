import { readMetadataCsv, readProcessingCsv } from '@agekit/dataset';

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

/** From `csv/metadata.csv` (read through the contract's readMetadataCsv): its failed images, and its group and duplicate links joined into `groups`. */
export async function linkMetadataGroups(file: string, groups: GroupUnion): Promise<MetadataInfo> {
  const rows = await readMetadataCsv(file);
  const failed = new Map<string, string>();
  for (const row of rows) {
    const id = row.id;
    if (!id) continue;
    if (row.error) failed.set(id, row.error);
    if (row.group && row.group !== id) groups.union(id, `group:${row.group}`);
    for (const link of [row.duplicateOf, row.nearDuplicateOf]) {
      for (const other of link.split(';').map((s) => s.trim()).filter(Boolean)) groups.union(id, other);
    }
  }
  return { failed, rows: rows.length };
}

/** Ids of `csv/processing.csv` (the process stage's, through its contract's reader) that resample leaves out: failed, or smaller than minSide before. */
export async function readProcessingExclusions(file: string, minSide: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const row of await readProcessingCsv(file)) {
    if (!row.id) continue;
    if (row.status === 'error') out.set(row.id, `processing failed: ${row.error ?? ''}`);
    // an unknown size cannot be shown to reach minSide: left out too
    else if (!(Math.min(row.before?.width ?? NaN, row.before?.height ?? NaN) >= minSide)) {
      out.set(row.id, `${row.before?.width ?? '?'}x${row.before?.height ?? '?'} before processing: below minSide ${minSide}`);
    }
  }
  return out;
}
