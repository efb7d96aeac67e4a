#!/usr/bin/env bash
# Check every Mermaid diagram in the docs: parse it with the real parser (the
# npm package "mermaid", pinned in scripts/mermaid/package.json), prove the
# parse check can fail (scripts/mermaid/bad.md must be rejected), and draw
# docs/sequence.md's and docs/sequence.ja.md's diagrams again with the real
# renderer (@mermaid-js/mermaid-cli in the system's chromium) to check that
# docs/img/sequence*-N.svg are drawn from the current source (see
# scripts/mermaid/render.mjs; scripts/render-mermaid.sh redraws them), and
# that this check fails on a drawing edited by hand (scripts/mermaid/drift.md).
#
#   scripts/check-mermaid.sh            # all tracked *.md files
#
# Needs node, npm and chromium. The packages are installed once into
# ${HOTDEPLOY_MERMAID_DIR:-$HOME/.cache/hotdeploy-mermaid}; no browser is
# downloaded. Prints one line per diagram; exit status 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/mermaid/install.sh
if node "$dir/check.mjs" scripts/mermaid/bad.md >/dev/null; then
	echo "check-mermaid: scripts/mermaid/bad.md parsed, but it must not: the check cannot fail" >&2
	exit 1
fi
mapfile -t docs < <(git ls-files '*.md' | grep -v '^scripts/mermaid/bad.md$')
node "$dir/check.mjs" "${docs[@]}"
# The drawing check must be able to fail too: scripts/mermaid/drift-1.svg
# records its source's hash but has one label changed by hand.
if out=$(node "$dir/render.mjs" check scripts/mermaid scripts/mermaid/drift.md) ||
	! grep -q 'drift-1.svg differs from what the renderer draws' <<<"$out"; then
	echo "check-mermaid: scripts/mermaid/drift-1.svg passed the drawing check, but it must not: the check cannot fail" >&2
	echo "$out" >&2
	exit 1
fi
node "$dir/render.mjs" check docs/img docs/sequence.md docs/sequence.ja.md
