#!/usr/bin/env bash
# What a user's CI runs on each push: lint, test and build only the projects affected since the previous
# commit (nx affected), falling back to every project on a first commit. BASE=<rev> overrides the base.
# (This repository's own .ci/run runs `npm test`, everything, because one submission may carry several commits.)
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_TUI=false
base=${BASE:-$(git rev-parse --verify --quiet HEAD~1 || true)}
if [ -n "$base" ]; then
  echo "affected since $(git rev-parse --short "$base"):"
  npx nx show projects --affected --base="$base" --head=HEAD | sed 's/^/  /'
  npx nx affected --base="$base" --head=HEAD -t lint test build --output-style=static
else
  echo "first commit: running every project"
  npx nx run-many -t lint test build --output-style=static
fi
