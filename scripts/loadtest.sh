#!/usr/bin/env bash
# Load a stage during its restarts and show what the clients saw: a live
# timeline (one line per 250 ms, an event line for each SIGHUP, new
# generation and old worker's exit), then a summary.
#
#   scripts/loadtest.sh 01                    # or 02, 03, 04, 05; about 10 s
#   scripts/loadtest.sh -keepalive both 04    # flags go before the stage
#   scripts/loadtest.sh -dir /tmp/ex/04-graceful-shutdown 04   # a patched copy
#   scripts/loadtest.sh -addr 127.0.0.1:8080 -pid PID          # a running server
#   scripts/loadtest.sh -chart run.png 04     # also draw the run (.png or .svg)
#   scripts/loadtest.sh table                 # every stage, one Markdown table, fast
#   scripts/loadtest.sh -keepalive on -chart docs/img table  # and one chart per row
#   scripts/loadtest.sh -proto mixed -c 200 05  # long-lived: 100 WebSocket + 100 SSE clients
#   scripts/loadtest.sh -proto mixed -c 10000 -interval 2s -jitter 10s -spread 10s -chart storm.png storm
#                                             # the reconnect storm, four ways; about 3 minutes
#
# It builds the stage, starts it on a free port on 127.0.0.1, runs 50 clients,
# restarts the stage the way it restarts (01: stop + start, 02: SIGHUP =
# re-exec, 03-05: SIGHUP to the master), waits for each restart to finish
# (new generation serving, old worker gone), and stops everything it started.
# Only Go and this repository are needed; see -h for the knobs.
set -euo pipefail
cd "$(dirname "$0")/.."
# Built, not "go run": go run adds its own "exit status N" line to an error
# and turns every failure into exit status 1.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# On a cold build cache this build takes about a minute (the chart library):
# say so on a terminal, so that a projector does not show a blank screen.
# Not in a pipe or a log, where the docs' transcripts show the output as is.
if [ -t 2 ]; then
	echo "building the load generator (internal/cmd/loadtest; a minute the first time)..." >&2
fi
go build -o "$tmp/loadtest" ./internal/cmd/loadtest
"$tmp/loadtest" "$@"
