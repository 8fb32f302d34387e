#!/usr/bin/env node
// Builds agekit's native addons with node-gyp (the workspace's devDependency; offline: the system's Node headers,
// --nodedir=/usr, when /usr/include/node/node_api.h exists):
//   quality -> libs/quality/native/build/Release/agekit_quality.node (explore engine: C11, libjpeg-turbo linked statically)
//   runtime -> libs/runtime/native/build/Release/agekit_runtime.node (tfjs training kernels: oneDNN, linked against libdnnl)
// and copies each into libs/<lib>/native/prebuilds/<platform>-<arch>/, which the library's build puts in its package
// (dist/libs/<lib>/prebuilds/...), so npm users get the engine without a compiler. The Nx target `<lib>:build-native`
// runs this with declared inputs and outputs.
// Exits non-zero when a build fails. Each library still works without its addon (a slower path).
// Usage: node tools/scripts/build-native.mjs [quality|runtime ...] [--stale] [--debug]
//   --stale  build only addons that are missing or older than their sources (test-all.sh uses it)
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The addons: where they live, what they are called, and the system headers they need (Debian package). */
const ADDONS = {
  quality: { dir: 'libs/quality/native', target: 'agekit_quality', header: '/usr/include/jpeglib.h', pkg: 'libjpeg-dev', cflags: '-O3 -ffp-contract=off' },
  runtime: { dir: 'libs/runtime/native', target: 'agekit_runtime', header: '/usr/include/oneapi/dnnl/dnnl.h', pkg: 'libdnnl-dev', cflags: '-O3' },
};
const require = createRequire(import.meta.url);

/** node-gyp's CLI: the workspace's devDependency, else npm's bundled copy (next to the npm running us, or next to node). */
function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed in the workspace: fall back to npm's copy
  }
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
  return candidates.find((c) => existsSync(c));
}

/** Newest modification time under a path (files only). */
function newest(p) {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(p).reduce((m, name) => (name === 'build' || name === 'prebuilds' ? m : Math.max(m, newest(path.join(p, name)))), 0);
}

const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const names = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of names) {
  if (!ADDONS[name]) {
    console.error(`build-native: unknown addon '${name}' (known: ${Object.keys(ADDONS).join(', ')})`);
    process.exit(2);
  }
}
const selected = (names.length ? names : Object.keys(ADDONS)).filter((name) => existsSync(path.join(root, ADDONS[name].dir, 'binding.gyp')));
const gyp = findNodeGyp();
if (!gyp) {
  console.error('build-native: node-gyp not found (a devDependency: run npm ci; or set npm_config_node_gyp)');
  process.exit(1);
}
let failed = 0;
for (const name of selected) {
  const addon = ADDONS[name];
  const dir = path.join(root, addon.dir);
  const out = path.join(dir, 'build', flags.includes('--debug') ? 'Debug' : 'Release', `${addon.target}.node`);
  const prebuilt = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, `${addon.target}.node`);
  if (flags.includes('--stale') && existsSync(out) && existsSync(prebuilt) && statSync(out).mtimeMs >= newest(dir)) {
    console.log(`build-native: ${name}: up to date (${path.relative(root, out)})`);
    continue;
  }
  if (!existsSync(addon.header)) console.warn(`build-native: ${name}: ${addon.header} not found (Debian: apt-get install ${addon.pkg}); trying anyway`);
  const args = [gyp, 'rebuild', `--directory=${dir}`];
  if (flags.includes('--debug')) args.push('--debug');
  // the system's headers (Debian's nodejs package ships them): no header download, works offline
  if (existsSync('/usr/include/node/node_api.h') && existsSync('/usr/include/node/common.gypi')) args.push('--nodedir=/usr');
  console.log(`build-native: ${name}: node ${args.map((a) => path.relative(root, a) || a).join(' ')}`);
  const env = { ...process.env, CFLAGS: `${process.env.CFLAGS ?? ''} ${addon.cflags}`.trim(), CXXFLAGS: `${process.env.CXXFLAGS ?? ''} ${addon.cflags}`.trim() };
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: dir, env });
  if (result.status !== 0 || !existsSync(out)) {
    console.error(`build-native: ${name}: failed (${result.status ?? result.signal}); the library's slower path still works without it`);
    failed++;
    continue;
  }
  console.log(`build-native: ${name}: built ${path.relative(root, out)}`);
  if (!flags.includes('--debug')) publishPrebuild(dir, out);
}

/** Copy a release build to native/prebuilds/<platform>-<arch>/ (temporary name, then rename), where packaging finds it. */
function publishPrebuild(dir, built) {
  const target = path.join(dir, 'prebuilds', `${process.platform}-${process.arch}`, path.basename(built));
  mkdirSync(path.dirname(target), { recursive: true });
  copyFileSync(built, `${target}.tmp`);
  renameSync(`${target}.tmp`, target);
  console.log(`build-native: prebuilt ${path.relative(root, target)}`);
}
process.exit(failed ? 1 : 0);
