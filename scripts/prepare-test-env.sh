#!/usr/bin/env bash
# npm's pretest: system programs, node_modules, compiled output. A fresh clone goes green with `npm test` alone.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/install-system-deps.sh

# The Electron binary cannot (and need not) be downloaded for the tests; the package is there for its types.
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
# npm records what it installed in node_modules/.package-lock.json; a lock file newer than that means stale deps.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "prepare-test-env: installing node modules (npm ci)" >&2
  npm ci --no-audit --no-fund
fi

npm run build --silent
