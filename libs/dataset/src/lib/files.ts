import { promises as fs, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';

let counter = 0;

/** A temporary sibling of `file` (same folder, so a rename is atomic). */
export function temporaryPathFor(file: string): string {
  const abs = path.resolve(file);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}-${counter++}`);
}

/** Create `file` atomically: `produce` fills a temporary sibling, which is then renamed over the destination. */
async function atomically(file: string, produce: (temp: string) => Promise<void>): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const temp = temporaryPathFor(file);
  try {
    await produce(temp);
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Write a file atomically: write to a temporary sibling, then rename over the destination. */
export function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  return atomically(file, (temp) => fs.writeFile(temp, data));
}

/** Copy a file atomically (byte copy to a temporary sibling of `to`, then rename). */
export function copyFileAtomic(from: string, to: string): Promise<void> {
  return atomically(to, (temp) => fs.copyFile(from, temp));
}

/** True when `inner` is `outer` or inside it (after resolving both). */
export function isInside(inner: string, outer: string): boolean {
  // the common case without path.resolve/relative (most of the cost of checking a big labels CSV): a normalised
  // absolute inner path (no '.', '..' or empty segment) that starts with outer and a separator
  if (path.sep === '/' && outer.startsWith('/') && inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`) && !inner.includes('//') && !/\/\.\.?(\/|$)/.test(inner)) {
    return true;
  }
  const rel = path.relative(path.resolve(outer), path.resolve(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Destroy a file stream and remove its file. The stream opens its file asynchronously: waiting for 'close' first
 * means the removal cannot come before the open (which would leave the file behind).
 */
export async function discardWriteStream(out: WriteStream, file: string): Promise<void> {
  if (!out.closed) {
    const closed = once(out, 'close');
    out.destroy();
    await closed;
  }
  await fs.rm(file, { force: true });
}
