#!/usr/bin/env bash
# Proves what a user installs works, from the files the release ships:
# 1. `nx release publish --dry-run` (offline, registry unreachable: it cannot publish) lists every library and app
#    with files from dist only (tools/scripts/pack-check.mjs dry-run);
# 2. every package is packed from dist; main/types/bin/exports resolve inside each tarball and internal @agekit/*
#    ranges name the released version (pack-check.mjs tarballs);
# 3. one `npm install` of all library tarballs into a scratch TypeScript project outside the workspace, which
#    type-checks imports of every library and runs them: @agekit/quality and @agekit/runtime load their prebuilt native
#    addons from the installed packages; with quality's prebuilt removed it reports the JS fallback and the reason;
# 4. the cli tarball installs globally into a scratch prefix, and `agekit --version` and `agekit explore` run on
#    synthetic faces with the native engine.
# Usage: tools/scripts/pack-check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export NX_DAEMON=false NX_TUI=false
# onnxruntime-node's documented switch: no CUDA download at install (its CPU binaries ship in the package)
export ONNXRUNTIME_NODE_INSTALL=skip
scratch=$(mktemp -d /tmp/agekit-pack-XXXXXX)
# removing the scratch trees (two installs, ~1 GB) runs in the background: it needs no waiting for
trap '(rm -rf "$scratch" >/dev/null 2>&1 &)' EXIT
fail() { echo "pack-check: $*" >&2; exit 1; }
phases=()
phase() { phases+=("$1 $((SECONDS - phase_start))s"); phase_start=$SECONDS; }
phase_start=$SECONDS

npx nx run-many -t build --projects=tag:type:lib,tag:type:app --output-style=static >"$scratch/build.log" 2>&1 ||
  { cat "$scratch/build.log"; fail "build failed"; }

# npm publish --dry-run asks the registry about the version unless offline
npm_config_offline=true npx nx release publish --dry-run --registry=http://127.0.0.1:9 --output-style=static >"$scratch/publish.txt" 2>&1 ||
  { cat "$scratch/publish.txt"; fail "nx release publish --dry-run failed"; }
node tools/scripts/pack-check.mjs dry-run "$scratch/publish.txt"
phase "build + publish dry run"

npm pack --json --pack-destination "$scratch" dist/libs/* dist/apps/* >"$scratch/pack.json" 2>"$scratch/pack.log" ||
  { cat "$scratch/pack.log"; fail "npm pack failed"; }
node tools/scripts/pack-check.mjs tarballs "$scratch/pack.json"
version=$(node -p 'require("./dist/libs/dataset/package.json").version')
ls "$scratch"/agekit-*-"$version".tgz | sed 's|.*/|  packed |'
phase "pack"

install=(--prefer-offline --no-audit --no-fund --loglevel=error)
# the global cli install runs while the scratch project installs (both mostly wait on the disk)
npm install -g --prefix "$scratch/global" "${install[@]}" "$scratch/agekit-cli-$version.tgz" >"$scratch/global.log" 2>&1 &
global_pid=$!

mkdir "$scratch/project"
cd "$scratch/project"
echo '{ "name": "agekit-pack-check", "version": "1.0.0", "private": true }' >package.json
libs=()
for tgz in "$scratch"/agekit-*-"$version".tgz; do
  case "$tgz" in */agekit-cli-* | */agekit-trainer-* | */agekit-exporter-*) ;; *) libs+=("$tgz") ;; esac
done
npm install "${install[@]}" "${libs[@]}" @types/node@20 >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log"; fail "npm install of the library tarballs failed"; }
# skipLibCheck as in the workspace: tfjs's and onnx-proto's own .d.ts do not compile strictly (Long, PyJsonValue)
cat >tsconfig.json <<'JSON'
{
  "compilerOptions": { "strict": true, "module": "commonjs", "target": "ES2022", "esModuleInterop": true, "skipLibCheck": true, "outDir": "out",
                       "types": ["node"] }
}
JSON
cp "$root/tools/scripts/pack-check-pipeline.ts" pipeline.ts
cat >check.ts <<'TS'
import { createRng, splitGrouped, rgbToGray, encodeImage, decodeImage } from '@agekit/dataset';
import { loadNativeQuality, nativeQualityUnavailableReason } from '@agekit/quality';
import { loadNativeKernels, nativeKernelsUnavailableReason } from '@agekit/runtime';
import * as enhance from '@agekit/enhance';
import * as face from '@agekit/face';
import * as onnx from '@agekit/onnx';
import * as plot from '@agekit/plot';
import * as resample from '@agekit/resample';
import * as transfer from '@agekit/transfer';

async function main(): Promise<void> {
  const rng = createRng(1);
  const items = Array.from({ length: 20 }, (_, i) => ({ id: i, group: `g${i % 10}` }));
  const split = splitGrouped(items, { seed: 1, groupOf: (x) => x.group });
  const png = await encodeImage({ width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 0, 0, 255]) }, 'png');
  const back = await decodeImage(png);
  const gray = rgbToGray(back.data, 2, 1);
  const quality = loadNativeQuality();
  const kernels = loadNativeKernels();
  const functions = (ns: object): number => Object.values(ns).filter((v) => typeof v === 'function').length;
  console.log(JSON.stringify({
    r: rng.int(100), train: split.train.length, gray: Array.from(gray),
    quality: quality ? { native: quality.file } : { fallback: nativeQualityUnavailableReason() },
    runtime: kernels ? { native: kernels.file } : { fallback: nativeKernelsUnavailableReason() },
    functions: { enhance: functions(enhance), face: functions(face), onnx: functions(onnx), plot: functions(plot), resample: functions(resample), transfer: functions(transfer) },
  }));
}
main();
TS
phase "install of the library tarballs"
"$root/node_modules/.bin/tsc" -p tsconfig.json || fail "the scratch project does not type-check against the installed packages"
out=$(node out/check.js)
echo "  scratch project: $out"
node -e '
  const r = JSON.parse(process.argv[1]), prebuilt = (lib, file) => `node_modules/@agekit/${lib}/prebuilds/${process.platform}-${process.arch}/${file}`;
  const bad = [];
  if (JSON.stringify(r.gray) !== "[76,29]") bad.push("dataset: gray " + JSON.stringify(r.gray));
  if (!r.quality.native?.endsWith(prebuilt("quality", "agekit_quality.node"))) bad.push("quality: engine not from its package: " + JSON.stringify(r.quality));
  if (!r.runtime.native?.endsWith(prebuilt("runtime", "agekit_runtime.node"))) bad.push("runtime: native kernels not from its package: " + JSON.stringify(r.runtime));
  for (const [lib, n] of Object.entries(r.functions)) if (n === 0) bad.push(lib + ": no functions imported");
  if (bad.length) { console.error("pack-check: " + bad.join("\n  ")); process.exit(1); }
' "$out"
rm -rf node_modules/@agekit/quality/prebuilds
out=$(node out/check.js)
reason=$(node -e 'console.log(JSON.parse(process.argv[1]).quality.fallback ?? "")' "$out")
grep -q "no prebuilt for $(node -p 'process.platform + "-" + process.arch') in @agekit/quality" <<<"$reason" ||
  fail "without its prebuilt, @agekit/quality should report the fallback and why: $out"
echo "  without the prebuilt: @agekit/quality falls back: $reason"

phase "type-check + run"
# the whole pipeline through imports alone (explore -> process -> visualize -> resample -> train -> export -> predict)
(cd "$root" && npx tsx tools/synth/main.ts --out "$scratch/faces-20-29" --count 120 --seed 3 --min-age 20 --max-age 29 >/dev/null)
out=$(node out/pipeline.js "$scratch/faces-20-29" "$scratch/pipeline") || fail "the pipeline through imports failed"
echo "  pipeline through imports: $out"
node -e '
  const r = JSON.parse(process.argv[1]);
  const ok = r.explored === 120 && r.processed === 120 && r.figures > 0 && r.resampled.train > 0 && r.trainedEpochs === 1 && r.verified && Number.isFinite(r.predictedAge);
  if (!ok) { console.error("pack-check: the pipeline through imports gave " + process.argv[1]); process.exit(1); }
' "$out"
phase "pipeline through imports"
wait "$global_pid" || { cat "$scratch/global.log"; fail "npm install -g of the cli tarball failed"; }
phase "global cli install (waited for)"
agekit="$scratch/global/bin/agekit"
[ "$("$agekit" --version)" = "$version" ] || fail "agekit --version: $("$agekit" --version), expected $version"
(cd "$root" && npx tsx tools/synth/main.ts --out "$scratch/faces" --count 40 --seed 3 >/dev/null)
explore=$(cd "$scratch" && "$agekit" explore --data "$scratch/faces" --out "$scratch/explore" 2>&1) || { echo "$explore"; fail "agekit explore failed"; }
rows=$(($(wc -l <"$scratch/explore/csv/metadata.csv") - 1))
[ "$rows" = 40 ] || fail "agekit explore wrote $rows rows for 40 images"
grep -q "native engine" <<<"$explore" || fail "the installed cli did not use the native engine: $explore"
echo "  global cli: agekit --version $version; agekit explore: $rows rows, $(grep -o 'native engine[^;]*' <<<"$explore" | head -1)"
phase "cli run"
echo "  time: ${phases[*]/%/;} total ${SECONDS}s"
echo "pack-check: every package installs from its packed tarball and works outside the workspace"
