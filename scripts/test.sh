#!/usr/bin/env bash
# The README's test command (CI runs it through .ci/run), in two steps:
#
# 1. A new virtual environment with scslab alone, no extras, as a new user gets it
#    from the README's first command: `scslab --help` and a small `scslab run national`
#    from a folder outside the checkout. An undeclared runtime dependency fails here,
#    before the test extras could hide it.
# 2. The `dev` extra in the same environment (and Debian's Chromium for the browser
#    tests, where it can be installed), then the whole test suite.
#
# The environment is made afresh each time in .venv (SCSLAB_TEST_VENV to put it
# elsewhere); extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-python3}
venv=${SCSLAB_TEST_VENV:-$root/.venv}
pip_quiet=(--quiet --disable-pip-version-check)

echo "== scslab alone, in a new virtual environment ($venv)"
"$python" -m venv --clear "$venv"
"$venv/bin/python" -m pip install "${pip_quiet[@]}" -e "$root"
outside=$(mktemp -d)
trap 'rm -rf "$outside"' EXIT
(
  cd "$outside"
  "$venv/bin/scslab" --help >/dev/null
  "$venv/bin/scslab" run national --agents 2000 --days 5 --out smoke --no-catalog >/dev/null
  test -f smoke/report.html
  "$venv/bin/python" - <<'EOF'
import json
s = json.load(open("smoke/summary.json"))
assert s["completed"] is True and s["days"] == 5 and s["agents"] == 2000, s
EOF
)
echo "   scslab --help and scslab run national: ok"

echo "== the dev extra and the whole suite"
"$venv/bin/python" -m pip install "${pip_quiet[@]}" -e "$root[dev]"
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
      >/dev/null) || echo "note: Chromium could not be installed; browser tests will be skipped"
  else
    echo "note: Chromium is not installed and cannot be installed here; browser tests will be skipped"
  fi
fi
# one worker per core (pytest-xdist, in the dev extra); a test file stays on one worker, so
# its module fixtures (the hostile-input corpus, the sample runs) are built once
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider -n auto --dist loadfile "$@"
