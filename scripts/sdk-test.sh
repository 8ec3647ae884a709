#!/usr/bin/env bash
# End-to-end tests of the allot server with Microsoft's Python Graph SDKs (msgraph-sdk for
# v1.0, msgraph-beta-sdk for beta cloudLicensing), both pinned in tests/sdk/requirements.txt.
#
# Creates (or reuses) a virtualenv in .venv-sdk, installs tests/sdk/requirements.txt,
# builds the server binary and runs pytest on tests/sdk. Exits with pytest's status.
# Extra arguments go to pytest, e.g. `scripts/sdk-test.sh -k exhaust -x`.
#
# Needs: python3 (3.11 or newer) with the venv module (Debian: package python3-venv),
# cargo, and network access to PyPI the first time.
#
# Environment:
#   PYTHON                  interpreter that creates the venv (default: python3)
#   ALLOT_SDK_DATABASE_URL  run the server on this database (e.g. postgres://...) instead
#                           of SQLite in a fresh temporary data directory
#   CARGO_TARGET_DIR        honoured when locating the built binary
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=.venv-sdk
python=${PYTHON:-python3}

if [[ ! -x $venv/bin/python ]]; then
    if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
        echo "sdk-test: $python cannot create virtualenvs; on Debian: apt-get install python3-venv" >&2
        exit 1
    fi
    rm -rf "$venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt

cargo build -q -p allot-server
export ALLOT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/allot"

status=0
"$venv/bin/python" -m pytest -q tests/sdk "$@" || status=$?
exit "$status"
