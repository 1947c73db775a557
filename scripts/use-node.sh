#!/usr/bin/env bash
# Prints the environment that puts the project's Node.js (24 LTS, package.json's engines) first on
# PATH, as `export` lines for `eval "$(bash scripts/use-node.sh)"`. The Node binary and its C headers
# come from the npm registry's node-linux-<arch> package, fetched once with `npm pack` and cached, so
# any npm can bring it. npm_config_nodedir points node-gyp at those headers: native modules
# (better-sqlite3) build or install without downloading anything. The package carries no npm: the
# machine's npm runs on the Node this puts first on PATH.
set -euo pipefail

NODE_VERSION=${CTP_ETL_NODE_VERSION:-24.22.3}
# As root the cache is outside /root: tests run the CLI as another user (nobody), who must be able
# to run this Node too, and /root is closed to other users.
if [ "$(id -u)" = 0 ]; then default_cache=/usr/local/lib/ctp-etl; else default_cache=$HOME/.cache/ctp-etl; fi
CACHE_DIR=${CTP_ETL_NODE_CACHE_DIR:-$default_cache}

log() { echo "use-node: $*" >&2; }

[ "$(uname -s)" = Linux ] || { log "this script fetches Linux builds only; install Node $NODE_VERSION yourself"; exit 1; }
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) log "no node-linux package for $(uname -m); install Node $NODE_VERSION yourself"; exit 1 ;;
esac
command -v npm >/dev/null || { log "npm is needed to fetch node-linux-$arch@$NODE_VERSION"; exit 1; }

node_dir="$CACHE_DIR/node-v$NODE_VERSION-linux-$arch"
if [ ! -x "$node_dir/bin/node" ] || [ ! -f "$node_dir/include/node/node.h" ]; then
  log "fetching node-linux-$arch@$NODE_VERSION from the npm registry (once; cached in $CACHE_DIR)"
  mkdir -p "$CACHE_DIR"
  work=$(mktemp -d "$CACHE_DIR/node-fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  tarball=$(cd "$work" && npm pack --loglevel=error --ignore-scripts "node-linux-$arch@$NODE_VERSION" | tail -n 1) || true
  [ -n "$tarball" ] && [ -f "$work/$tarball" ] || {
    log "npm pack node-linux-$arch@$NODE_VERSION failed (npm's message above)"
    exit 1
  }
  tar -xzf "$work/$tarball" -C "$work"
  [ -x "$work/package/bin/node" ] || { log "node-linux-$arch@$NODE_VERSION has no bin/node"; exit 1; }
  rm -rf "$node_dir"
  # Another run may have put it in place meanwhile: theirs is as good.
  mv -T "$work/package" "$node_dir" 2>/dev/null || [ -x "$node_dir/bin/node" ]
fi

got=$("$node_dir/bin/node" --version)
[ "$got" = "v$NODE_VERSION" ] || { log "$node_dir/bin/node is $got, not v$NODE_VERSION"; exit 1; }

echo "export PATH=\"$node_dir/bin:\$PATH\""
echo "export npm_config_nodedir=\"$node_dir\""
