#!/usr/bin/env node
// The assertions of tools/scripts/pack-check.sh on what the release ships (exits 1 with the reasons when one fails):
//   node tools/scripts/pack-check.mjs dry-run FILE    FILE: output of `nx release publish --dry-run`: every package of
//       libs/* and apps/* is listed with files from its dist folder only (no TypeScript sources, specs, tsconfig, jest or
//       project files), with package.json, LICENSE, README.md, and quality's and runtime's prebuilt
//       native addons for this platform
//   node tools/scripts/pack-check.mjs tarballs FILE   FILE: `npm pack --json` output: each tarball's main, types, bin
//       and exports resolve to files inside it, and internal @agekit/* dependencies name the released version
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const prebuildFolder = `${process.platform}-${process.arch}`;
const ADDONS = { '@agekit/quality': 'agekit_quality.node', '@agekit/runtime': 'agekit_runtime.node' };
const FORBIDDEN = [
  [/(?<!\.d)\.ts$/, 'TypeScript source'],
  [/\.spec\.|\.testing\./, 'test file'],
  [/(^|\/)tsconfig[^/]*\.json$/, 'tsconfig'],
  [/(^|\/)jest\.(config|preset)\.[cm]?[jt]s$/, 'jest config'],
  [/(^|\/)(project\.json|eslint\.config\.[cm]?js|binding\.gyp)$/, 'workspace file'],
];

/** The publishable packages: name -> { kind, dist } from libs/<name>/package.json and apps/<name>/package.json. */
function expectedPackages() {
  const packages = new Map();
  for (const kind of ['libs', 'apps']) {
    for (const name of readdirSync(path.join(root, kind))) {
      const manifest = path.join(root, kind, name, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
      if (!pkg.private) packages.set(pkg.name, { kind, dist: path.join(root, 'dist', kind, name) });
    }
  }
  return packages;
}

function checkFiles(name, files, info, problems) {
  for (const file of files) {
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(file)) problems.push(`${name}: ships ${what} ${file}`);
  }
  const must = ['package.json', 'LICENSE', 'README.md'];
  if (ADDONS[name] && ['linux-x64'].includes(prebuildFolder)) must.push(`prebuilds/${prebuildFolder}/${ADDONS[name]}`);
  for (const file of must) if (!files.includes(file)) problems.push(`${name}: ${file} missing`);
}

function dryRun(file) {
  const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, ''); // npm's colours
  const packages = expectedPackages();
  const problems = [];
  const listed = new Map();
  // npm's dry-run listing: "📦  @agekit/x@X.X.X-dry-run", "=== Tarball Contents ===", "<size> <path>" lines, "=== Tarball Details ==="
  for (const block of text.split('=== Tarball Contents ===').slice(1)) {
    const contents = block.split('=== Tarball Details ===')[0];
    const name = /^name:\s+(\S+)/m.exec(block.split('=== Tarball Details ===')[1] ?? '')?.[1];
    if (!name) continue;
    listed.set(name, contents.split('\n').map((l) => l.trim().match(/^[\d.]+\s*[kMG]?B\s+(\S.*?)\s*$/)?.[1]).filter(Boolean));
  }
  for (const [name, info] of packages) {
    const files = listed.get(name);
    if (!files) {
      problems.push(`${name}: not in the publish dry run`);
      continue;
    }
    checkFiles(name, files, info, problems);
    for (const f of files) if (!existsSync(path.join(info.dist, f))) problems.push(`${name}: ${f} is not a file of ${path.relative(root, info.dist)}`);
  }
  for (const name of listed.keys()) if (!packages.has(name)) problems.push(`${name}: published but not a workspace package`);
  const would = (text.match(/Would publish to /g) ?? []).length;
  if (would !== packages.size) problems.push(`${would} "Would publish" lines for ${packages.size} packages`);
  finish(problems, `publish dry run: ${listed.size} packages, ${[...listed.values()].reduce((n, f) => n + f.length, 0)} files, all from dist`);
}

/** Every relative path a package.json points at (main, types, bin, exports' leaves). */
function entryPoints(pkg) {
  const out = [];
  const walk = (v) => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk([pkg.main, pkg.types, pkg.bin, pkg.exports]);
  return out.filter((p) => p.startsWith('./') || !p.includes(':')).map((p) => path.posix.normalize(p));
}

function tarballs(file) {
  const packed = JSON.parse(readFileSync(file, 'utf8'));
  const packages = expectedPackages();
  const problems = [];
  const version = packed[0]?.version;
  for (const name of packages.keys()) if (!packed.some((p) => p.name === name)) problems.push(`${name}: not packed`);
  for (const entry of packed) {
    const files = entry.files.map((f) => f.path);
    const info = packages.get(entry.name);
    if (!info) {
      problems.push(`${entry.name}: packed but not a workspace package`);
      continue;
    }
    checkFiles(entry.name, files, info, problems);
    const tgz = path.join(path.dirname(file), entry.filename);
    const pkg = JSON.parse(execFileSync('tar', ['-xOzf', tgz, 'package/package.json'], { encoding: 'utf8' }));
    if (pkg.version !== version) problems.push(`${entry.name}: version ${pkg.version}, the others ${version}`);
    for (const target of entryPoints(pkg)) if (!files.includes(target)) problems.push(`${entry.name}: package.json points at ${target}, not in the tarball`);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(pkg[field] ?? {})) {
        if (dep.startsWith('@agekit/') && range !== version) problems.push(`${entry.name}: ${field} ${dep}@${range}, not the released ${version}`);
      }
    }
  }
  finish(problems, `tarballs: ${packed.length} packages at ${version}; main, types, bin and exports resolve inside each`);
}

function finish(problems, ok) {
  if (problems.length) {
    console.error(`pack-check: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`pack-check: ${ok}`);
}

const [mode, file] = process.argv.slice(2);
if (mode === 'dry-run' && file) dryRun(file);
else if (mode === 'tarballs' && file) tarballs(file);
else {
  console.error('usage: pack-check.mjs dry-run|tarballs FILE');
  process.exit(2);
}
