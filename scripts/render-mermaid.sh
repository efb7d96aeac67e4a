#!/usr/bin/env bash
# Draw the diagrams of docs/sequence.md and docs/sequence.ja.md into
# docs/img/sequence-N.svg and docs/img/sequence.ja-N.svg with the real
# renderer (@mermaid-js/mermaid-cli in the system's chromium), for rooms
# without internet and for viewers that do not render Mermaid. Run it after
# editing a diagram and commit the SVGs: scripts/check-mermaid.sh (CI) fails
# while they are not drawn from the current source.
#
#   scripts/render-mermaid.sh
#
# Needs node, npm and chromium (Debian: apt-get install chromium), and a
# Japanese font for the .ja boxes' sizes (Debian: fonts-ipafont-gothic).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/mermaid/install.sh
if ! fc-list :lang=ja 2>/dev/null | grep -q .; then
	echo "note: no Japanese font (fc-list :lang=ja is empty): the .ja diagrams' boxes are sized with a fallback font" >&2
fi
rm -f docs/img/sequence-[0-9]*.svg docs/img/sequence.ja-[0-9]*.svg
node "$dir/render.mjs" write docs/img docs/sequence.md docs/sequence.ja.md
