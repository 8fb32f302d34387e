#!/usr/bin/env node
// Bundle an app (its own code and the @agekit libraries it imports) into one CommonJS file with esbuild.
// Packages from node_modules stay external (native addons: sharp, canvas, onnxruntime-node, tfjs backends).
// When the app has a package.json (apps/<app>/package.json: name, version, bin), the output folder becomes an npm
// package: its package.json gains `main` and the external packages the bundle imports as `dependencies` (versions
// from the workspace's package.json), with the workspace LICENSE, the app's README and the prebuilt native addons of
// the bundled libraries (libs/<lib>/native/prebuilds, made by the `build-native` targets).
// Usage: node tools/scripts/bundle-app.mjs apps/cli/src/main.ts dist/apps/cli/main.js
import { build } from 'esbuild';
import { chmodSync, cpSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error('usage: bundle-app.mjs ENTRY OUTFILE');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.devDependencies });
const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  metafile: true,
  tsconfig: 'tsconfig.base.json',
  external: [...external, ...external.map((name) => `${name}/*`)],
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
console.log(`bundled ${entry} -> ${outfile}`);

const appRoot = path.dirname(path.dirname(entry)); // apps/<app>/src/main.ts -> apps/<app>
if (existsSync(path.join(appRoot, 'package.json'))) writePackage(appRoot, path.dirname(outfile));

/** The npm package name of an import specifier ('@scope/name/sub' -> '@scope/name'), undefined for Node built-ins. */
function packageOf(specifier) {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0])) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function writePackage(appRoot, outDir) {
  const manifest = JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8'));
  const imported = new Set();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const { path: specifier, kind, external: isExternal } of output.imports) {
      // require.resolve finds a file at run time: a runtime dependency's files (face-api's model weights) are needed,
      // a development tool's (the tsx hook, used only when running from the sources) are not
      const name = isExternal ? packageOf(specifier) : undefined;
      if (name && (kind !== 'require-resolve' || pkg.dependencies?.[name] || pkg.optionalDependencies?.[name])) imported.add(name);
    }
  }
  const dependencies = {};
  const optionalDependencies = {};
  for (const name of [...imported].sort()) {
    if (pkg.dependencies?.[name]) dependencies[name] = pkg.dependencies[name];
    else if (pkg.optionalDependencies?.[name]) optionalDependencies[name] = pkg.optionalDependencies[name];
    else throw new Error(`bundle-app: ${entry} imports ${name} at run time, which the workspace package.json lists only as a devDependency`);
  }
  const out = { ...manifest, main: `./${path.basename(outfile)}`, dependencies };
  if (Object.keys(optionalDependencies).length) out.optionalDependencies = optionalDependencies;
  const target = path.join(outDir, 'package.json');
  writeFileSync(`${target}.tmp`, `${JSON.stringify(out, null, 2)}\n`);
  renameSync(`${target}.tmp`, target);
  if (existsSync('LICENSE')) cpSync('LICENSE', path.join(outDir, 'LICENSE'));
  if (existsSync(path.join(appRoot, 'README.md'))) cpSync(path.join(appRoot, 'README.md'), path.join(outDir, 'README.md'));
  // the native engines of the libraries the bundle contains: the shared addon loader looks in <bundle dir>/prebuilds
  const libs = new Set(Object.keys(result.metafile.inputs).map((input) => /^libs\/([^/]+)\//.exec(input)?.[1]).filter(Boolean));
  for (const lib of [...libs].sort()) {
    const prebuilds = path.join('libs', lib, 'native', 'prebuilds');
    if (existsSync(prebuilds)) cpSync(prebuilds, path.join(outDir, 'prebuilds'), { recursive: true });
  }
  console.log(`package ${out.name}@${out.version} in ${outDir}: ${Object.keys(dependencies).length} dependencies (${Object.keys(dependencies).join(', ')})`);
}
