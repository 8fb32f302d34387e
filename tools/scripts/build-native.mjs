#!/usr/bin/env node
// Builds the native engine of @agekit/quality (libs/quality/native: C11, node_api.h, libjpeg) with npm's
// bundled node-gyp -> libs/quality/native/build/Release/agekit_quality.node. Offline: uses the system's
// Node headers (--nodedir=/usr) when /usr/include/node/node_api.h exists. Exits non-zero when the build fails.
// Usage: node tools/scripts/build-native.mjs [--debug]
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = path.join(root, 'libs', 'quality', 'native');
const require = createRequire(import.meta.url);

/** node-gyp's CLI: npm's bundled copy (next to the npm running us, or next to node), else a local install. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const nodeBin = path.dirname(process.execPath);
  candidates.push(path.join(nodeBin, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) {
    const npmCli = realpathSync(which.stdout.trim());
    // /usr/bin/npm -> /usr/lib/node_modules/npm/bin/npm-cli.js
    candidates.push(path.join(path.dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    candidates.push(path.join(path.dirname(npmCli), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  return candidates.find((c) => existsSync(c));
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error('build-native: node-gyp not found (it ships with npm); install npm or set npm_config_node_gyp');
  process.exit(1);
}
if (!existsSync('/usr/include/jpeglib.h')) console.warn('build-native: /usr/include/jpeglib.h not found (Debian: apt-get install libjpeg-dev); trying anyway');
const args = [gyp, 'rebuild', `--directory=${dir}`];
if (process.argv.includes('--debug')) args.push('--debug');
// the system's headers (Debian's nodejs package ships them): no header download, works offline
if (existsSync('/usr/include/node/node_api.h') && existsSync('/usr/include/node/common.gypi')) args.push('--nodedir=/usr');
console.log(`build-native: node ${args.map((a) => path.relative(root, a) || a).join(' ')}`);
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: dir, env: { ...process.env, CFLAGS: `${process.env.CFLAGS ?? ''} -O3 -ffp-contract=off`.trim() } });
const out = path.join(dir, 'build', 'Release', 'agekit_quality.node');
if (result.status !== 0 || !existsSync(out)) {
  console.error(`build-native: failed (${result.status ?? result.signal}); the JS path still works without it`);
  process.exit(1);
}
console.log(`build-native: built ${path.relative(root, out)}`);
