#!/usr/bin/env bash
# Builds Telltale and runs it on its embedded defaults: SQLite in the OS data dir and
# the built-in demo source. Prints the UI's URL (with its token) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh run
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked --bin telltale
exec ./target/release/telltale serve "$@"
