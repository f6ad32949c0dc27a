#!/usr/bin/env bash
# Builds Telltale and runs it on its embedded defaults: SQLite in the OS data dir and
# the built-in demo source. With a display (DISPLAY or WAYLAND_DISPLAY) it opens the
# desktop app: window, tray icon, notifications. Without one it runs `telltale serve`,
# which prints the UI's URL (with its token) on loopback. Arguments go to telltale.
set -euo pipefail
cd "$(dirname "$0")/.."
# Also builds the web UI into ui/dist, which the desktop binary embeds.
bash scripts/install-deps.sh run
export PATH="$HOME/.cargo/bin:$PATH"
# custom-protocol: the window serves the embedded UI itself. Without it a Tauri build
# is a development build, and would look for a dev server.
cargo build --release --locked --features custom-protocol --bin telltale
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec ./target/release/telltale "$@"
else
  exec ./target/release/telltale serve "$@"
fi
