#!/usr/bin/env node
// Bundle an app (its own code and the @agekit libraries it imports) into one CommonJS file with esbuild.
// Packages from node_modules stay external (native addons: sharp, canvas, onnxruntime-node, tfjs backends).
// Usage: node tools/scripts/bundle-app.mjs apps/cli/src/main.ts dist/apps/cli/main.js
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) {
  console.error('usage: bundle-app.mjs ENTRY OUTFILE');
  process.exit(2);
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.devDependencies });
await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  tsconfig: 'tsconfig.base.json',
  external: [...external, ...external.map((name) => `${name}/*`)],
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
console.log(`bundled ${entry} -> ${outfile}`);
