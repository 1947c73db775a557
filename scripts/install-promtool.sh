#!/usr/bin/env bash
# Installs Debian's prometheus package for its promtool (checks and unit-tests deploy/prometheus/),
# when promtool is missing. Only the binary is wanted: the package's service is not started.
set -euo pipefail

log() { echo "install-promtool: $*" >&2; }

if command -v promtool >/dev/null; then
  log "promtool present: $(promtool --version 2>&1 | head -n 1)"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  log "no promtool and no apt-get: install Prometheus's promtool"; exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
log "installing prometheus (for promtool) with apt-get"
$SUDO apt-get update -qq >&2
# policy-rc.d 101: the package's postinst must not start a Prometheus server on this machine.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >&2
command -v promtool >/dev/null || { log "prometheus installed but promtool is missing"; exit 1; }
log "promtool installed: $(promtool --version 2>&1 | head -n 1)"
