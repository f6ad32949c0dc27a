// Captures the relay's JSON as fixtures: runs `telltale demo` (the relay with the
// built-in simulated source) on a free port and a scratch database, lets it produce a few
// seconds of jobs, and saves one answer per endpoint (arrays trimmed to a few items).
// Usage: node scripts/relay-fixtures.mjs path/to/telltale path/to/fixtures
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const [bin, out] = process.argv.slice(2);
const token = "fixtures-token-0123456789abcdef";
const dir = mkdtempSync(path.join(os.tmpdir(), "telltale-fixtures-"));
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const proc = spawn(bin, ["demo", "--speed", "20", "--db", path.join(dir, "f.db"), "--listen", `127.0.0.1:${port}`, "--token", token], {
  stdio: ["ignore", "ignore", "pipe"],
  env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, "config"), XDG_DATA_HOME: path.join(dir, "data"), HOME: dir },
});
let err = "";
proc.stderr.on("data", (d) => (err += d));
const base = `http://127.0.0.1:${port}`;
const get = async (p) => {
  const r = await fetch(base + p, { headers: { Authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json() };
};
const trim = (v, n = 3) => (Array.isArray(v) ? v.slice(0, n) : v);
try {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const h = await get("/api/health");
      if (h.status === 200 && h.body.hub.last_seq > 150) break;
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`telltale demo did not come up: ${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const jobs = (await get("/api/jobs?limit=3")).body;
  const failed = (await get("/api/jobs?status=failed&limit=1")).body.items[0] ?? jobs.items[0];
  const timeline = (await get(`/api/jobs/${encodeURIComponent(failed.entity)}/timeline`)).body;
  const queues = (await get("/api/queues")).body;
  queues.items = trim(queues.items, 2).map((q) => ({ ...q, history: trim(q.history) }));
  const history = (await get("/api/history?limit=5")).body;
  const save = (name, v) => writeFileSync(path.join(out, `relay-${name}.json`), JSON.stringify(v, null, 2) + "\n");
  save("jobs", jobs);
  save("timeline", timeline);
  save("queues", queues);
  save("workers", { items: trim((await get("/api/workers")).body.items) });
  save("sources", (await get("/api/sources")).body);
  save("history", history);
  save("health", (await get("/api/health")).body);
  save("event", history.items[0]);
  save("error", (await get("/api/jobs/no-such-job/timeline")).body);
  console.log(`relay-fixtures: wrote relay-*.json from telltale demo (last seq ${jobs.last_seq})`);
} finally {
  proc.kill("SIGTERM");
  await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
  rmSync(dir, { recursive: true, force: true });
}
