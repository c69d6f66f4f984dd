#!/usr/bin/env bash
# Runs every compiled test (out/test/**/*.test.js) with node's own runner, inside a private D-Bus session with an
# unlocked throwaway keyring (scripts/with-keyring.sh). Node's "# pass N / # fail N" summary stays the last output;
# the exit status is non-zero when a test failed or when there is no test to run.
# Extra arguments go to `node --test`, e.g. `npm test -- --test-name-pattern=swaks`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Only compiled tests whose source still exists: tsc never deletes the output of a removed or renamed test.
files=()
while IFS= read -r compiled; do
  source=${compiled#out/}
  [[ -f "${source%.js}.ts" ]] && files+=("$compiled")
done < <(find out/test -type f -name '*.test.js' 2>/dev/null | LC_ALL=C sort)
if ((${#files[@]} == 0)); then
  echo "run-tests: no compiled tests under out/test (did 'npm run build' run?)" >&2
  exit 1
fi

# TAP by default: its summary ("# pass N", "# fail N") is the last thing printed, on a terminal too.
reporter=(--test-reporter=tap)
for arg in "$@"; do
  [[ "$arg" == --test-reporter=* ]] && reporter=()
done

# Every test sets its own timeouts; this bound only keeps a forgotten one from hanging CI.
exec bash scripts/with-keyring.sh node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout=120000 \
  "${reporter[@]}" "$@" "${files[@]}"
