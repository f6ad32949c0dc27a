#!/usr/bin/env bash
# Regenerates src/api/fixtures/*.json from the real Rust binary, so the UI's types are
# checked against what serde actually writes (src/api/fixtures.test.ts).
#
# - events.json / entities.json: `telltale history --json` (Event) and
#   `--latest --json` (EntityState) on a database holding sample rows.
# - relay-*.json: the relay's endpoints, answered by `telltale demo` (the real relay
#   and engine with the built-in simulated source) on a free port and a scratch db.
#
# Usage: ui/scripts/make-fixtures.sh [path/to/telltale]   (default: target/debug/telltale)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
bin="${1:-$root/target/debug/telltale}"
out="$here/src/api/fixtures"
[ -x "$bin" ] || { echo "make-fixtures: no telltale binary at $bin (cargo build -p telltale first)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "make-fixtures: sqlite3 is needed (apt-get install sqlite3)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="$tmp/fixtures.db"

# The schema exactly as the store creates it, then sample rows.
n=0
# Debian's sqlite3 predates FTS5's contentless_delete; the fixtures never search.
for m in "$root"/src-tauri/core/migrations/*.sql; do
  sed 's/contentless_delete *= *1 *,//' "$m" | sqlite3 "$db"
  n=$((n + 1))
done
sqlite3 "$db" "PRAGMA user_version = $n;"
now=$(( $(date +%s) * 1000 ))
sqlite3 "$db" <<SQL
INSERT INTO events(seq, source, received_at, occurred_at, kind, entity, parent, status, progress, stage, message, error, counts, channel, remote_id, raw) VALUES
 (1, 'redis', $now - 9000, NULL, 'source', 'redis', NULL, 'connected', NULL, NULL, 'subscribed to 1 pattern', NULL, NULL, NULL, NULL, ''),
 (2, 'redis', $now - 8000, $now - 8100, 'job', 'resize-1', 'images', 'queued', NULL, NULL, NULL, NULL, NULL, 'job:resize-1', NULL, '{"jobId":"resize-1","status":"queued"}'),
 (3, 'redis', $now - 7000, NULL, 'job', 'resize-1', 'images', 'running', 12.5, 'download', 'fetching', NULL, NULL, 'job:resize-1', NULL, '{"jobId":"resize-1","status":"running","progress":12.5}'),
 (4, 'api', $now - 6000, NULL, 'job', 'resize-1', NULL, 'failed', NULL, NULL, NULL, 'disk full', NULL, 'job_failed', '41', '{"type":"job_failed","jobId":"resize-1","error":"disk full"}'),
 (5, 'bull', $now - 5000, NULL, 'queue', 'images', NULL, 'info', NULL, NULL, NULL, NULL, '{"waiting":3,"active":1,"completed":10,"failed":2,"delayed":0}', NULL, NULL, '{"waiting":3}'),
 (6, 'bull', $now - 4000, NULL, 'worker', 'w-1', 'images', 'busy', NULL, NULL, 'resize-2', NULL, NULL, NULL, '1700000000000-0', '{}'),
 (7, 'redis', $now - 3000, NULL, 'source', 'redis', NULL, 'gap', NULL, NULL, 'pub/sub connection dropped; events may be missing', NULL, NULL, NULL, NULL, ''),
 (8, 'redis', $now - 2000, NULL, 'job', 'odd-1', NULL, 'half-baked', NULL, NULL, NULL, NULL, NULL, 'misc', NULL, 'not json at all');
INSERT INTO entities(kind, entity, source, parent, status, progress, stage, message, error, counts, first_seen, started_at, finished_at, last_seen, last_seq, events) VALUES
 ('job', 'resize-1', 'api', 'images', 'failed', 12.5, 'download', 'fetching', 'disk full', NULL, $now - 8100, $now - 7000, $now - 6000, $now - 6000, 4, 3),
 ('queue', 'images', 'bull', NULL, 'info', NULL, NULL, NULL, NULL, '{"waiting":3,"active":1,"completed":10,"failed":2,"delayed":0}', $now - 5000, NULL, NULL, $now - 5000, 5, 1),
 ('worker', 'w-1', 'bull', 'images', 'busy', NULL, NULL, 'resize-2', NULL, NULL, $now - 4000, NULL, NULL, $now - 4000, 6, 1);
UPDATE meta SET value = 8 WHERE key = 'entities_seq';
SQL

# JSON lines -> one JSON array, without the CLI's own human-readable `time` field
# (not part of the model: the relay never sends it).
to_array() { node -e 'const l=require("fs").readFileSync(0,"utf8").split("\n").filter(Boolean).map(JSON.parse).map(({time, ...e}) => e);process.stdout.write(JSON.stringify(l,null,2)+"\n")'; }
"$bin" history --db "$db" --json -n 1000 | to_array > "$out/events.json"
"$bin" history --db "$db" --json --latest -n 1000 | to_array > "$out/entities.json"
echo "make-fixtures: wrote events.json ($(grep -c '"seq"' "$out/events.json") events), entities.json"

if "$bin" demo --help >/dev/null 2>&1; then
  node "$here/scripts/relay-fixtures.mjs" "$bin" "$out"
else
  echo "make-fixtures: this telltale has no \`demo\` (the relay with its demo source) yet: relay-*.json not regenerated" >&2
fi
