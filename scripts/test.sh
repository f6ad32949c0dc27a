#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs (apt packages, npm packages, the
# Rust build), then runs every Rust test (unit, integration, end-to-end against real
# redis-server and HTTP servers on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh test
export PATH="$HOME/.cargo/bin:$PATH"

# The UI first: lint, unit tests, and the build the binary embeds.
(cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run lint && npm test && npm run build)

status=0
cargo test --workspace --locked --no-fail-fast || status=$?

cargo build --locked -p telltale --bin telltale

# The UI's types against what this Rust build really writes: regenerate the JSON
# samples from the binary and run the UI's runtime type guards on them (the committed
# samples are put back afterwards).
fixtures=ui/src/api/fixtures
saved=$(mktemp -d)
cp -r "$fixtures/." "$saved/"
{ bash ui/scripts/make-fixtures.sh && (cd ui && npx vitest run src/api); } || status=$?
cp -r "$saved/." "$fixtures/"
rm -rf "$saved"

# Browser end-to-end: the real `telltale serve` (built above) in Debian's chromium.
(cd tests/ui-e2e && npm ci --no-audit --no-fund --loglevel=error && node run.mjs) || status=$?
exit $status
