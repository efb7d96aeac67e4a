#!/usr/bin/env bash
# Compare Perl's start_server (Server::Starter 0.35) with ours, like with like:
# the same Perl-protocol worker (05-full-starter/internal/perlworker, silent)
# under both; ours with its default options (plain fork+exec, no LISTEN_*),
# with the socket on fd 4 (a control) and with --listen-fds (through the exec
# shim), each also with the example worker (READY=1); the bare workers as the
# floor; same load (internal/load), loopback, OS-chosen ports. Prints a
# Markdown table (see internal/cmd/comparebench/main.go for what each column
# and row measures); progress goes to stderr.
#
#   scripts/compare-perl.sh                 # defaults: 15 HUPs per latency row
#   scripts/compare-perl.sh -hups 30        # flags go to comparebench (-h)
#
# Needs /usr/bin/start_server (Debian: apt-get install libserver-starter-perl).
# Bounded: every wait has a deadline, and the whole run is stopped after 40
# minutes (`-hups 30` took 21 min 57 s at 63cf130 on an idle 2-core VM,
# 24 min 20 s at load average 22-32). Not part of go test: it
# measures, it does not assert.
set -euo pipefail
cd "$(dirname "$0")/.."
perl_starter=${PERL_START_SERVER:-/usr/bin/start_server}
if [[ ! -x $perl_starter ]]; then
	echo "compare-perl.sh: $perl_starter not found (apt-get install libserver-starter-perl)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/start_server" ./05-full-starter
go build -o "$tmp/example" ./05-full-starter/example
go build -o "$tmp/perlworker" ./05-full-starter/internal/perlworker
go build -o "$tmp/comparebench" ./internal/cmd/comparebench
timeout 2400 "$tmp/comparebench" -perl "$perl_starter" -ours "$tmp/start_server" \
	-perlworker "$tmp/perlworker" -example "$tmp/example" "$@"
