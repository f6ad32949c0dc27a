#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs (apt packages, npm packages, the
# Rust build), then runs every Rust test (unit, integration, end-to-end against real
# redis-server and HTTP servers on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh test
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --workspace --locked --no-fail-fast
