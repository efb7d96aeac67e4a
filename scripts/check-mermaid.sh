#!/usr/bin/env bash
# Parse every Mermaid diagram in the docs with the real parser (the npm
# package "mermaid", pinned in scripts/mermaid/package.json), and prove the
# check can fail: scripts/mermaid/bad.md must be rejected.
#
#   scripts/check-mermaid.sh            # all tracked *.md files
#
# Needs node and npm. The package is installed once into
# ${HOTDEPLOY_MERMAID_DIR:-$HOME/.cache/hotdeploy-mermaid} (no browser: only
# the parser runs). Prints one line per diagram; exit status 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${HOTDEPLOY_MERMAID_DIR:-$HOME/.cache/hotdeploy-mermaid}
mkdir -p "$dir"
cp scripts/mermaid/package.json scripts/mermaid/check.mjs "$dir/"
if ! cmp -s scripts/mermaid/package.json "$dir/node_modules/.hotdeploy-package.json" 2>/dev/null; then
	echo "installing mermaid (npm) into $dir"
	(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
	cp scripts/mermaid/package.json "$dir/node_modules/.hotdeploy-package.json"
fi
if node "$dir/check.mjs" scripts/mermaid/bad.md >/dev/null; then
	echo "check-mermaid: scripts/mermaid/bad.md parsed, but it must not: the check cannot fail" >&2
	exit 1
fi
mapfile -t docs < <(git ls-files '*.md' | grep -v '^scripts/mermaid/bad.md$')
node "$dir/check.mjs" "${docs[@]}"
