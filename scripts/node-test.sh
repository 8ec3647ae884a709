#!/usr/bin/env bash
# End-to-end tests of `allot serve --tls` with Microsoft's JavaScript libraries (@azure/identity,
# @microsoft/microsoft-graph-client, @azure/msal-node), and of the web console in Debian's Chromium
# driven by playwright-core, all pinned in tests/node/package-lock.json and installed with `npm ci`
# into tests/node/node_modules; Chromium is installed with apt-get when missing (as root). Needs Node.js 20 or newer with npm, and
# the npm registry the first time. Extra arguments go to `node --test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "node-test: Node.js and npm are needed (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
# The console's browser test drives Debian's Chromium (never a browser npm downloads).
chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "node-test: installing Debian's chromium for the console's browser test"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    else
        echo "node-test: the console's browser test needs Chromium at $chromium (Debian: apt-get install chromium)" >&2
        exit 1
    fi
fi
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
cargo build -q -p allot-server
export ALLOT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/allot"
cd tests/node
node --test "$@"
