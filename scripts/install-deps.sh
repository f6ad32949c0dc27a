#!/usr/bin/env bash
# Installs what Telltale needs to build, run or test on Debian/Ubuntu.
#   install-deps.sh run    build + run (headless engine, relay, demo)
#   install-deps.sh test   everything the test suite starts (redis-server, node, ...)
# Idempotent: installs only what is missing. Runs apt-get as root, or through sudo.
set -euo pipefail
mode="${1:-run}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "install-deps: need root for: $* (run as root or install sudo)" >&2; exit 1; fi
}

need=()
want_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || need+=("$1"); }

for p in build-essential pkg-config ca-certificates curl git; do want_pkg "$p"; done
if [ "$mode" = test ]; then
  for p in redis-server redis-tools openssl procps chromium; do want_pkg "$p"; done
fi
# The UI builds with Vite 8, which needs Node.js 20.19 or newer.
command -v node >/dev/null && command -v npm >/dev/null || { want_pkg nodejs; want_pkg npm; }

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

node_ok() {
  command -v node >/dev/null && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'
}
if ! node_ok; then
  echo "install-deps: Node.js $(node --version 2>/dev/null || echo missing) is too old for the UI build (Vite 8 needs 20.19+)." >&2
  echo "install-deps: install Node.js 20.19 or newer (nodejs.org or your distribution's backports) and retry." >&2
  exit 1
fi

# The test harness starts its own redis-server on free ports; the packaged service is
# not needed and would hold port 6379.
if [ "$mode" = test ] && command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  as_root systemctl stop redis-server || true
fi

if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "install-deps: no Rust toolchain; installing rustup (needs https://sh.rustup.rs)" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal ||
      { echo "install-deps: could not install Rust. Install Rust 1.95+ from https://rustup.rs and retry." >&2; exit 1; }
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

if [ "$mode" = test ] && [ -f tests/node/package-lock.json ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi
