#!/usr/bin/env bash
# A rolling deploy across a fleet behind HAProxy, for real, on this machine.
#
#   sudo scripts/fleet.sh                     # rollout A, rollout B, a failing release, rollback
#   sudo scripts/fleet.sh a                   # or any of the steps: a b fail rollback
#   sudo scripts/fleet.sh fail                # the failing release alone: exits 1, the fleet left mixed
#   sudo scripts/fleet.sh fail rollback       # ... then host 1 back on v2: exits 0
#   sudo scripts/fleet.sh -hosts 5 -c 32 a    # flags go before the steps; -h lists them
#   sudo scripts/fleet.sh up                  # keep a fleet up until Ctrl-C; then, in another terminal:
#   sudo scripts/fleet.sh fail                #   sent to that fleet: exits 1, h1 on v3, h2 and h3 on v2
#   sudo scripts/fleet.sh rollback            #   h1 back on v2: exits 0
#
# Each host is a network namespace on a bridge in a private subnet
# (default 10.213.77.0/24; refused if anything on the machine uses it) running
# start_server with the example worker; HAProxy balances over them. Load goes
# through HAProxy during each step. Everything the run creates (namespaces,
# links, processes, files) is removed when it ends, on error and on Ctrl-C.
# Needs root, "ip netns" (iproute2) and haproxy.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "fleet.sh: needs root (it creates network namespaces, a bridge and veth links): sudo $0 $*" >&2
  exit 1
fi
if ! ip netns list >/dev/null 2>&1; then
  echo "fleet.sh: \"ip netns\" does not work here (install iproute2; network namespaces must be available)" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  echo "fleet.sh: go is not in PATH (sudo resets PATH: try sudo env \"PATH=\$PATH\" $0 $*)" >&2
  exit 1
fi
if ! command -v haproxy >/dev/null 2>&1; then
  echo "fleet.sh: needs haproxy (apt-get install haproxy)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/hotdeploy-fleet-XXXXXX)
driver=""
finish() {
  # The driver cleans up after itself; this catches what it could not
  # (killed, crashed): the journal in $work lists exactly what it created.
  if [ -n "$driver" ] && [ -x "$driver" ]; then
    "$driver" cleanup -work "$work" || true
  fi
  rm -rf "$work"
}
trap finish EXIT
# Ctrl-C reaches the driver too: it stops, cleans up and exits with its own
# status, which becomes the script's.
trap ':' INT TERM

go build -o "$work/fleet" ./internal/cmd/fleet
driver="$work/fleet"
"$driver" -work "$work" "$@"
