# Sourced by scripts/check-mermaid.sh and scripts/render-mermaid.sh: install
# the pinned npm packages (scripts/mermaid/package.json) once into $dir, and
# find the system's chromium for the renderer. Puppeteer never downloads a
# browser (PUPPETEER_SKIP_DOWNLOAD and .puppeteerrc.cjs).
dir=${HOTDEPLOY_MERMAID_DIR:-$HOME/.cache/hotdeploy-mermaid}
mkdir -p "$dir"
cp scripts/mermaid/package.json scripts/mermaid/.puppeteerrc.cjs scripts/mermaid/check.mjs scripts/mermaid/render.mjs "$dir/"
if ! cmp -s scripts/mermaid/package.json "$dir/node_modules/.hotdeploy-package.json" 2>/dev/null; then
	echo "installing mermaid and mermaid-cli (npm, no browser) into $dir"
	(cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >/dev/null)
	cp scripts/mermaid/package.json "$dir/node_modules/.hotdeploy-package.json"
fi
if [ -z "${HOTDEPLOY_CHROMIUM:-}" ]; then
	for c in chromium chromium-browser google-chrome; do
		if command -v "$c" >/dev/null 2>&1; then HOTDEPLOY_CHROMIUM=$(command -v "$c"); break; fi
	done
fi
if [ -z "${HOTDEPLOY_CHROMIUM:-}" ]; then
	echo "$0: no chromium to draw the diagrams with (Debian: apt-get install chromium; or set HOTDEPLOY_CHROMIUM)" >&2
	exit 1
fi
export HOTDEPLOY_CHROMIUM
