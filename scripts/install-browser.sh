#!/usr/bin/env bash
# Installs Debian's chromium for the browser test (test/browser/), when it is missing.
# playwright-core drives it at CHROMIUM_PATH (default /usr/bin/chromium); no browser download.
# Logs go to stderr: test-services.sh, which calls this, keeps stdout for `export` lines.
set -euo pipefail

CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
log() { echo "install-browser: $*" >&2; }

if [ -x "$CHROMIUM_PATH" ]; then
  log "chromium present at $CHROMIUM_PATH"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  log "no $CHROMIUM_PATH and no apt-get: install chromium and set CHROMIUM_PATH"; exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log "installing chromium with apt-get"
$SUDO apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
[ -x "$CHROMIUM_PATH" ] || { log "chromium installed but $CHROMIUM_PATH is missing"; exit 1; }
log "chromium installed: $("$CHROMIUM_PATH" --version 2>/dev/null || true)"
