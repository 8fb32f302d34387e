import { promises as fs } from 'node:fs';
import * as path from 'node:path';

let counter = 0;

/** A temporary sibling of `file` (same folder, so a rename is atomic). */
export function temporaryPathFor(file: string): string {
  const abs = path.resolve(file);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}-${counter++}`);
}

/** Write a file atomically: write to a temporary sibling, then rename over the destination. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const temp = temporaryPathFor(file);
  try {
    await fs.writeFile(temp, data);
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** True when `inner` is `outer` or inside it (after resolving both). */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(path.resolve(outer), path.resolve(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
