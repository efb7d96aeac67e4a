#!/usr/bin/env bash
# Check that this machine can run the workshop: one line per item, then a
# verdict. Send it to the participants before the session:
#
#   scripts/check-setup.sh
#
# OK       found and good enough
# MISSING  needed for the session; the line says how to get it
# optional not needed; the line says what it is for
# note     something to know (e.g. the demo's port is taken)
#
# Last, it builds stage 01, starts it on a free loopback port, sends it one
# request and SIGTERM: that is the whole workshop in miniature. Exit status 0
# when nothing is MISSING. Bounded: every wait has a deadline. Runs with the
# bash 3.2 of macOS too.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

missing=0
ok() { printf 'OK       %s\n' "$*"; }
miss() { printf 'MISSING  %s\n' "$*"; missing=$((missing + 1)); }
opt() { printf 'optional %s\n' "$*"; }
note() { printf 'note     %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

os=$(uname -s)
case $os in
Linux | Darwin) ok "system: $os" ;;
*) miss "system: $os (the workshop needs Linux or macOS; on Windows use WSL 2)" ;;
esac

# Go: go.mod's floor.
need_minor=24
if have go; then
	v=$(go env GOVERSION 2>/dev/null) # go1.24.3, go1.26rc1
	minor=$(printf '%s\n' "$v" | sed -n 's/^go1\.\([0-9][0-9]*\).*/\1/p')
	if [ -n "$minor" ] && [ "$minor" -ge "$need_minor" ]; then
		ok "go: $v (1.$need_minor or newer)"
	else
		miss "go: $v is too old; install Go 1.$need_minor or newer from https://go.dev/dl/"
	fi
else
	miss "go: not found; install Go 1.$need_minor or newer from https://go.dev/dl/"
fi

if have curl; then ok "curl"; else miss "curl: to send requests by hand (apt-get install curl)"; fi

if [ "$os" = Linux ]; then
	if have ss; then ok "ss: to see listening sockets and accept queues"; else miss "ss: apt-get install iproute2"; fi
	if [ -d /proc/self/fd ]; then ok "/proc: to look at a process's fds (ls -l /proc/PID/fd)"; else miss "/proc is not mounted"; fi
else
	if have lsof; then ok "lsof: stands in for /proc and ss on macOS"; else miss "lsof: it ships with macOS; is PATH cut down?"; fi
fi

if have start_server; then
	ok "start_server (Perl): stage 05's comparison and interop test"
else
	opt "start_server (Perl): only for stage 05's comparison with the original (apt-get install libserver-starter-perl)"
fi
if [ "$os" = Linux ]; then
	if have systemd-socket-activate; then
		ok "systemd-socket-activate: stage 05's socket activation tests"
	else
		opt "systemd-socket-activate: stage 05's socket activation tests skip without it (apt-get install systemd)"
	fi
fi
if have tmux; then ok "tmux: two terminals side by side"; else opt "tmux: handy for two terminals side by side"; fi

# The address the 05 demo listens on when started without arguments
# (START_SERVER_DEMO_ADDR overrides it, as for the demo). Only a connect to
# loopback: is someone listening there?
demo=${START_SERVER_DEMO_ADDR:-127.0.0.1:8080}
if (exec 3<>"/dev/tcp/${demo%:*}/${demo##*:}") 2>/dev/null; then
	note "port $demo is in use: 'go run ./05-full-starter' will fail until it is free (docs/facilitator.md, troubleshooting)"
else
	ok "port $demo is free (the 05 demo's default)"
fi

# The workshop in miniature: build stage 01, serve one request, stop it.
if have go; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	if ! go build -o "$tmp/s01" ./01-signals >"$tmp/build.log" 2>&1; then
		miss "build: go build ./01-signals failed (module download blocked? try 'go mod download'):"
		sed 's/^/         /' "$tmp/build.log"
	else
		"$tmp/s01" -addr 127.0.0.1:0 >"$tmp/out" 2>&1 &
		pid=$!
		addr=""
		for _ in $(seq 1 100); do # up to 10 s
			addr=$(sed -n 's/^listening on \([^ ]*\) .*/\1/p' "$tmp/out")
			[ -n "$addr" ] && break
			sleep 0.1
		done
		body=""
		if [ -n "$addr" ] && have curl; then
			body=$(curl -sS -m 5 "http://$addr/" 2>&1)
		fi
		kill -TERM "$pid" 2>/dev/null
		wait "$pid"
		code=$?
		case $body in
		"hello from pid $pid") body_ok=1 ;;
		*) body_ok=0 ;;
		esac
		if [ -n "$addr" ] && [ "$body_ok" = 1 ] && [ "$code" = 0 ]; then
			ok "stage 01: built, served a request on loopback, stopped by SIGTERM with exit status 0"
		else
			miss "stage 01 did not run as expected (address '$addr', response '$body', exit status $code):"
			sed 's/^/         /' "$tmp/out"
		fi
	fi
fi

if [ "$missing" -eq 0 ]; then
	echo "ready for the workshop"
	exit 0
fi
echo "$missing missing: fix the MISSING lines before the session"
exit 1
