#!/usr/bin/env bash
# A real client: node-postgres and pg-copy-streams (installed here from the
# npm registry) ingest by COPY and multi-row INSERT and read traces back.
set -euo pipefail
here=$(cd "$(dirname "$0")/../node" && pwd)
work=$TA_DIR/node
mkdir -p "$work"
cp "$here/package.json" "$here/client.js" "$work/"
(cd "$work" && npm install --no-audit --no-fund --loglevel=error >npm.log 2>&1) || { cat "$work/npm.log"; exit 1; }
PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE node "$work/client.js"
