#!/usr/bin/env bash
# Idle memory of the desktop app (issue 8): starts the release desktop binary with no
# arguments (so the built-in demo source runs) on a private Xvfb display and session bus,
# with a throwaway HOME/XDG dirs (fresh config, history and WebKit caches; never the
# user's), waits, then prints RSS and PSS of telltale and every process it started
# (WebKitWebProcess, WebKitNetworkProcess, ...) and the total, and stops all of it.
#   scripts/measure-desktop-memory.sh [SECONDS]      default 30
# Env: TELLTALE_BIN (default target/release/telltale), MEASURE_DISPLAY (default :93).
# Build first the way scripts/run.sh does:
#   cargo build --release --locked --features custom-protocol --bin telltale
# PSS splits shared pages between the processes sharing them, so the PSS column adds
# up to what the app costs the machine; RSS counts shared libraries in every process.
set -euo pipefail
cd "$(dirname "$0")/.."
wait_s="${1:-30}"
bin="${TELLTALE_BIN:-target/release/telltale}"
disp="${MEASURE_DISPLAY:-:93}"
[ -x "$bin" ] || { echo "measure: no $bin; build it first (see the header of $0)" >&2; exit 1; }

tmp="$(mktemp -d)"
xvfb_pid="" app_pid="" DBUS_SESSION_BUS_PID=""
cleanup() {
  # Only what this script started, by pid: the app first (SIGTERM is its clean quit),
  # then the session bus and the display.
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then
    kill -TERM "$app_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$app_pid" 2>/dev/null || true
  fi
  [ -n "$DBUS_SESSION_BUS_PID" ] && kill "$DBUS_SESSION_BUS_PID" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
sleep 1
kill -0 "$xvfb_pid" 2>/dev/null || { echo "measure: Xvfb $disp did not start (display in use?)" >&2; cat "$tmp/xvfb.log" >&2; exit 1; }
export DISPLAY="$disp"
eval "$(dbus-launch --sh-syntax)"
mkdir -p "$tmp/home" "$tmp/config" "$tmp/data" "$tmp/cache" "$tmp/state"
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" \
  XDG_CACHE_HOME="$tmp/cache" XDG_STATE_HOME="$tmp/state"
unset TELLTALE_CONFIG TELLTALE_DB

"$bin" >"$tmp/app.log" 2>&1 &
app_pid=$!
sleep "$wait_s"
kill -0 "$app_pid" 2>/dev/null || { echo "measure: telltale exited early:" >&2; cat "$tmp/app.log" >&2; exit 1; }

# telltale and all its descendants (WebKit's helpers are children of the UI process).
descendants() {
  local p
  for p in $(ps -o pid= --ppid "$1"); do echo "$p"; descendants "$p"; done
}
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/smaps_rollup"; }
printf '%-8s %-24s %10s %10s\n' pid process "RSS MB" "PSS MB"
total_rss=0 total_pss=0
for p in "$app_pid" $(descendants "$app_pid"); do
  [ -r "/proc/$p/smaps_rollup" ] || continue
  rss=$(kb Rss "$p") pss=$(kb Pss "$p")
  total_rss=$((total_rss + rss)) total_pss=$((total_pss + pss))
  awk -v p="$p" -v n="$(cat "/proc/$p/comm")" -v r="$rss" -v s="$pss" \
    'BEGIN { printf "%-8s %-24s %10.1f %10.1f\n", p, n, r / 1024, s / 1024 }'
done
awk -v r="$total_rss" -v s="$total_pss" \
  'BEGIN { printf "%-8s %-24s %10.1f %10.1f\n", "", "whole app", r / 1024, s / 1024 }'
echo "(the whole app's figure is its PSS; summed RSS counts shared libraries once per process)"
