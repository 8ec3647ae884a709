#!/usr/bin/env bash
# End-to-end tests of `allot serve --tls` with Microsoft's JavaScript libraries (@azure/identity,
# @microsoft/microsoft-graph-client, @azure/msal-node), pinned in tests/node/package-lock.json and
# installed with `npm ci` into tests/node/node_modules. Needs Node.js 20 or newer with npm, and
# the npm registry the first time. Extra arguments go to `node --test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node-test: Node.js and npm are needed (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
cargo build -q -p allot-server
export ALLOT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/allot"
cd tests/node
node --test "$@"
