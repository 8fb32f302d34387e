import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The version of the @agekit/cli package this code runs from: the nearest package.json above the code named
 * @agekit/cli (the installed or bundled package's, or apps/cli/package.json when run from the sources).
 */
export function cliVersion(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === '@agekit/cli' && manifest.version) return manifest.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}
