#!/usr/bin/env bash
# Installs what Telltale needs to build, run or test on Debian/Ubuntu.
#   install-deps.sh run    build + run (desktop app with its web UI, headless engine, relay, demo)
#   install-deps.sh test   everything the test suite starts (redis-server, node, a virtual
#                          display with a notification server and tray host, WebDriver, ...)
# Idempotent: installs only what is missing. Runs apt-get as root, or through sudo.
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "install-deps: need root for: $* (run as root or install sudo)" >&2; exit 1; fi
}

need=()
want_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" || need+=("$1"); }

for p in build-essential pkg-config ca-certificates curl git; do want_pkg "$p"; done
# The desktop app (Tauri v2: WebKitGTK 4.1, a tray through Ayatana AppIndicator).
# libappindicator3-dev has no candidate on Debian 12; the Ayatana one is the same API.
for p in libwebkit2gtk-4.1-dev wget file libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev; do
  want_pkg "$p"
done
# The web UI is built with Vite (Node 20.19+) and embedded in the desktop binary.
command -v node >/dev/null && command -v npm >/dev/null || { want_pkg nodejs; want_pkg npm; }
if [ "$mode" = test ]; then
  for p in redis-server redis-tools openssl procps chromium sqlite3; do want_pkg "$p"; done
  # The desktop end-to-end test: a virtual display, a private session bus and a
  # notification server to observe, a tray host, screenshots, and WebKit's WebDriver.
  for p in xvfb webkit2gtk-driver dunst trayer xdotool x11-utils dbus dbus-x11 libnotify-bin imagemagick; do
    want_pkg "$p"
  done
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# Vite 8 needs Node.js 20.19 or newer; Debian 12's own nodejs is 18.
node_ok() {
  command -v node >/dev/null &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'
}
if ! node_ok; then
  echo "install-deps: Node.js $(node --version 2>/dev/null || echo missing) is too old for the UI build (Vite 8 needs 20.19+)." >&2
  echo "install-deps: install Node.js 20.19 or newer (nodejs.org, or NodeSource's Debian packages) and retry." >&2
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

if [ "$mode" = test ]; then
  # tauri-driver bridges WebDriver clients to WebKitWebDriver for Tauri apps.
  if ! command -v tauri-driver >/dev/null; then
    echo "install-deps: installing tauri-driver (cargo install, about a minute)" >&2
    cargo install tauri-driver --locked
  fi
  if [ -f tests/node/package-lock.json ]; then
    # `npm install`, not `npm ci`: this registry has no macOS/Windows builds of
    # msgpackr-extract's optional packages, so the lock cannot list them and `npm ci`
    # refuses it; `npm install` still installs exactly the locked versions it lists.
    (cd tests/node && npm install --no-audit --no-fund --loglevel=error)
  fi
fi

# The desktop crate embeds ui/dist at compile time (tauri::generate_context!), so every
# cargo build or test of the default features needs the UI built first.
if [ -f ui/package-lock.json ]; then
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
