#!/usr/bin/env bash
# The project's test command (README, CI): type-check everything, lint + test + build every project,
# prove the architecture rules bite, prove every package installs from its tarball (tools/scripts/pack-check.sh), and close with
# one line "tests: N passed, N failed, N skipped" summed over every project's Jest run.
set -uo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_TUI=false
status=0
step() { echo; echo "== $*"; }

step "native addons (the cached Nx target build-native of quality and runtime: rebuilt when their sources change)"
npx nx run-many -t build-native --output-style=static || status=1

step "type-check (tsc over libs, apps, tools and their tests)"
npx tsc -p tsconfig.json || status=1

step "lint, test, build (nx run-many)"
rm -f coverage/*/test-counts.json coverage/*/*/test-counts.json
npx nx run-many -t lint test build --output-style=static || status=1

step "architecture: forbidden imports fail the lint"
bash tools/scripts/check-boundaries.sh || status=1

step "publishable: the release publishes from dist; every package installs from its tarball and works outside the workspace"
bash tools/scripts/pack-check.sh || status=1

node -e '
  const fs = require("fs"), path = require("path");
  const files = [];
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (e.name === "test-counts.json") files.push(p); } };
  if (fs.existsSync("coverage")) walk("coverage");
  const t = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8"))).reduce((a, c) => ({ passed: a.passed + c.passed, failed: a.failed + c.failed, skipped: a.skipped + c.skipped }), { passed: 0, failed: 0, skipped: 0 });
  console.log(`\n(${files.length} projects)`);
  console.log(`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
  if (t.passed === 0) { console.error("no test ran"); process.exit(1); }
' || status=1
exit $status
