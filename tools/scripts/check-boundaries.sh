#!/usr/bin/env bash
# Proves that lint enforces DESIGN.md's arrows: plants forbidden imports in a library, expects
# @nx/enforce-module-boundaries to reject each one, and removes the probes whatever happens.
set -uo pipefail
cd "$(dirname "$0")/../.."
probe_dir=libs/dataset/src/lib
probes=()
cleanup() { rm -f "${probes[@]}"; }
trap cleanup EXIT

plant() { # name, import line [, folder]
  local file="${3:-$probe_dir}/__boundary_probe_$1.ts"
  printf '%s\nexport const probe = x;\n' "$2" > "$file"
  probes+=("$file")
}
plant app_import "import { runCli as x } from '../../../../apps/cli/src/main';"
# dataset may import no other agekit library: probe with any other library that exists
other=$(ls libs | grep -v '^dataset$' | head -n 1)
[ -n "$other" ] || { echo "check-boundaries: no second library to probe with" >&2; exit 1; }
plant lib_arrow "import * as x from '@agekit/$other';"
# the synthetic face generator is for specs only, even in a library whose tags allow it in tests
# plot draws the stage CSVs: it may depend on dataset (DESIGN.md), not on quality
plant plot_arrow "import * as x from '@agekit/quality';" libs/plot/src/lib
# transfer builds on model: model may not import it back
plant model_arrow "import * as x from '@agekit/transfer';" libs/model/src/lib
# the runtime is below model: it may not import model back, and face (detection) needs the runtime, not training
plant runtime_arrow "import * as x from '@agekit/model';" libs/runtime/src/lib
plant face_arrow "import * as x from '@agekit/model';" libs/face/src/lib
plant test_tooling "import * as x from '@agekit/synth';" "libs/$other/src/lib"
status=0
for file in "${probes[@]}"; do
  out=$(npx eslint --no-warn-ignored "$file" 2>&1)
  if grep -qE '@nx/enforce-module-boundaries|no-restricted-imports' <<<"$out"; then
    echo "ok: lint rejects $(sed -n 1p "$file")"
  else
    echo "FAIL: lint accepted a forbidden import in $file:"; echo "$out"; status=1
  fi
done
[ $status -eq 0 ] && echo "boundaries: every forbidden arrow is rejected"
exit $status
