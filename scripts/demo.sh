#!/usr/bin/env bash
# The whole exchange, end to end, on embedded defaults: SQLite databases and a local transfer folder,
# all under ./demo-run (recreated on every run). Run it with `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${CREDGAP_DEMO_DIR:-demo-run}
rm -rf "$DEMO"
mkdir -p "$DEMO/medium"
MEDIUM=$(cd "$DEMO/medium" && pwd)
INT="$DEMO/internal"
PUB="$DEMO/public"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. create the two node homes (each with its own database; the medium is the only shared path)"
internal-node --home "$INT" init --name "kunming-credit-internal" --medium "$MEDIUM"
public-node --home "$PUB" init --name "kunming-credit-public" --medium "$MEDIUM"

step "2. status of both nodes"
internal-node --home "$INT" status
public-node --home "$PUB" status

step "done: the homes are in $DEMO"
