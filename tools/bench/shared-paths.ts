import * as path from 'node:path';

/**
 * The shared folder beside the workspace (`../shared`: the real datasets and the Python/OpenCV and PyTorch reference
 * yardsticks), so benchmarks name no machine's absolute path; AGEKIT_SHARED points elsewhere.
 */
export const SHARED_DIR = process.env['AGEKIT_SHARED'] ?? path.resolve(__dirname, '..', '..', '..', 'shared');

/** A path under the shared folder. */
export function sharedPath(...parts: string[]): string {
  return path.join(SHARED_DIR, ...parts);
}
