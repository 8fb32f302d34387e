#!/usr/bin/env bash
# Proves a built library is a usable npm package: builds it, `npm pack`s dist/libs/NAME, installs the
# tarball into a scratch TypeScript project outside the workspace, type-checks an import and runs it.
# Usage: tools/scripts/pack-check.sh [NAME=dataset]
set -euo pipefail
name=${1:-dataset}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
npx nx build "$name" --output-style=static >/dev/null
scratch=$(mktemp -d /tmp/agekit-pack-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
tarball=$(cd "dist/libs/$name" && npm pack --silent --pack-destination "$scratch" 2>/dev/null | tail -n 1)
echo "packed $tarball ($(du -h "$scratch/$tarball" | cut -f1))"
cd "$scratch"
cat > package.json <<JSON
{ "name": "agekit-pack-check", "version": "1.0.0", "private": true }
JSON
ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund --prefer-offline "./$tarball" @types/node@20 >/dev/null
cat > tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "module": "commonjs", "target": "ES2022", "esModuleInterop": true, "outDir": "out", "types": ["node"] } }
JSON
cat > check.ts <<'TS'
import { createRng, splitGrouped, rgbToGray, encodeImage, decodeImage } from '@agekit/dataset';
async function main(): Promise<void> {
  const rng = createRng(1);
  const items = Array.from({ length: 20 }, (_, i) => ({ id: i, group: `g${i % 10}` }));
  const split = splitGrouped(items, { seed: 1, groupOf: (x) => x.group });
  const png = await encodeImage({ width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 0, 0, 255]) }, 'png');
  const back = await decodeImage(png);
  const gray = rgbToGray(back.data, 2, 1);
  console.log(JSON.stringify({ r: rng.int(100), train: split.train.length, gray: Array.from(gray) }));
}
main();
TS
"$root/node_modules/.bin/tsc" -p tsconfig.json
out=$(node out/check.js)
echo "scratch project ran: $out"
grep -q '"gray":\[76,29\]' <<<"$out" || { echo "pack-check: unexpected output" >&2; exit 1; }
echo "pack-check: @agekit/$name installs from its packed tarball and works outside the workspace"
