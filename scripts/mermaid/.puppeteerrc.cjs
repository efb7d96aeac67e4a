// Never download a browser: the diagrams are drawn by the system's chromium
// (Debian package "chromium"; scripts/check-mermaid.sh finds it).
module.exports = { skipDownload: true };
