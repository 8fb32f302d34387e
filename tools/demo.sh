#!/usr/bin/env bash
# The main job on the embedded default: Nx runs every stale stage of the pipeline in order
# (explore -> process -> visualize -> resample -> train -> export) on the dataset named by
# configs/pipeline.json (default: synthetic faces written to data/demo if absent), then prints a summary.
# A second run with nothing changed is all cache hits. AGEKIT_DATA=DIR points it at another dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_TUI=false
start=$(date +%s)
node node_modules/tsx/dist/cli.mjs tools/pipeline/stage.ts prepare # the demo dataset first, so Nx fingerprints what the stages read
npx nx run pipeline:export --output-style=stream
node node_modules/tsx/dist/cli.mjs tools/pipeline/summary.ts
echo "demo: finished in $(( $(date +%s) - start ))s"
