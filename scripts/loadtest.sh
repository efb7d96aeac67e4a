#!/usr/bin/env bash
# Load a stage during its restart and print what the clients saw.
#
#   scripts/loadtest.sh 01                 # or 02, 03, 04, 05
#   scripts/loadtest.sh -keepalive both 04 # flags go before the stage
#   scripts/loadtest.sh table              # every stage, one Markdown table
#
# It builds the stage, starts it on a free port on 127.0.0.1, runs 50 clients,
# restarts the stage the way it restarts (01: stop + start, 02: SIGHUP =
# re-exec, 03-05: SIGHUP to the master), and stops everything it started.
# Only Go and this repository are needed; see -h for the knobs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/cmd/loadtest "$@"
