#!/usr/bin/env bash
# Install scslab with its test dependencies (and Debian's Chromium for the browser
# tests, where it can be installed), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
      >/dev/null) || echo "note: Chromium could not be installed; browser tests will be skipped"
  else
    echo "note: Chromium is not installed and cannot be installed here; browser tests will be skipped"
  fi
fi
exec python -m pytest -q -p no:cacheprovider "$@"
