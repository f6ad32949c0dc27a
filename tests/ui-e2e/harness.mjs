// Real parts for the UI's browser tests: a private redis-server, `telltale serve`,
// Debian's chromium through playwright-core. Every wait has a deadline; a missing
// binary or feature fails with a message naming it (never a silent skip).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
export const artifacts = path.join(root, "tests/artifacts/ui");
export const CHROMIUM = process.env.TELLTALE_CHROMIUM ?? "/usr/bin/chromium";
export const TOKEN = "ui-e2e-token-0123456789abcdef";

export function telltaleBin() {
  const bin = process.env.TELLTALE_BIN ?? path.join(root, "target/debug/telltale");
  if (!existsSync(bin)) {
    throw new Error(`no telltale binary at ${bin}: build it first (cargo build -p telltale --bin telltale) or set TELLTALE_BIN`);
  }
  return bin;
}

export function requireBinary(name, hint) {
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${name} is not installed (${hint})`);
  return r.stdout.trim();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it returns a truthy value or the deadline passes. */
export async function waitFor(what, f, timeoutMs = 10_000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      if (e instanceof FatalError) throw e;
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
}

export function tempDir(prefix) {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { path: d, cleanup: () => rmSync(d, { recursive: true, force: true }) };
}

function waitPort(port, timeoutMs) {
  return waitFor(
    `127.0.0.1:${port} to accept connections`,
    () =>
      new Promise((resolve) => {
        const c = net.connect(port, "127.0.0.1");
        c.on("connect", () => {
          c.destroy();
          resolve(true);
        });
        c.on("error", () => resolve(false));
      }),
    timeoutMs,
  );
}

/** A private redis-server on a free port, no persistence; `password` turns on AUTH. */
export async function startRedis({ password } = {}) {
  const bin = requireBinary("redis-server", "apt-get install redis-server");
  const port = await freePort();
  const argv = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  if (password) argv.push("--requirepass", password);
  const proc = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  await waitPort(port, 5_000).catch((e) => {
    throw new Error(`redis-server did not start: ${e.message}\n${log}`);
  });
  const client = await RespClient.connect(port);
  if (password) await client.command("AUTH", password);
  return {
    port,
    client,
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      client.close();
      proc.kill("SIGTERM");
      await exited(proc, 5_000);
    },
  };
}

/** Just enough RESP to PUBLISH (no dependency, exact bytes). */
export class RespClient {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, "127.0.0.1");
      sock.once("connect", () => resolve(new RespClient(sock)));
      sock.once("error", reject);
    });
  }
  constructor(sock) {
    this.sock = sock;
    this.buf = "";
    this.waiters = [];
    sock.setNoDelay(true);
    sock.on("data", (d) => {
      this.buf += d.toString("utf8");
      let i;
      while ((i = this.buf.indexOf("\r\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        const w = this.waiters.shift();
        if (w) line.startsWith("-") ? w.reject(new Error(line)) : w.resolve(line);
      }
    });
  }
  encode(args) {
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return out;
  }
  /** Sends a command; resolves with its one-line reply (`:N` for PUBLISH). */
  command(...args) {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.sock.write(this.encode(args));
    });
  }
  async publish(channel, payload) {
    const r = await this.command("PUBLISH", channel, typeof payload === "string" ? payload : JSON.stringify(payload));
    return Number(r.slice(1));
  }
  /** Many PUBLISHes in one write; resolves when all are answered. */
  publishMany(items) {
    const ps = [];
    let out = "";
    for (const [ch, p] of items) {
      ps.push(new Promise((resolve, reject) => this.waiters.push({ resolve, reject })));
      out += this.encode(["PUBLISH", ch, typeof p === "string" ? p : JSON.stringify(p)]);
    }
    this.sock.write(out);
    return Promise.all(ps);
  }
  close() {
    this.sock.destroy();
  }
}

function exited(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      proc.kill("SIGKILL");
      resolve();
    }, timeoutMs);
    proc.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * `telltale serve` on a fixed port with a fixed token. Resolves once the relay
 * answers /api/health; rejects with serve's own words if it exits first.
 */
export async function startServe({ db, port, sources = [], args = [], env = {}, home }) {
  const bin = telltaleBin();
  const argv = ["serve", "--db", db, "--listen", `127.0.0.1:${port}`, "--token", TOKEN, ...sources.flatMap((s) => ["--source", s]), ...args];
  const proc = spawn(bin, argv, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TELLTALE_LOG: "info", XDG_CONFIG_HOME: path.join(home, "config"), XDG_DATA_HOME: path.join(home, "data"), HOME: home, ...env },
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d) => (out += d));
  proc.stderr.on("data", (d) => (err += d));
  const base = `http://127.0.0.1:${port}`;
  let exit = null;
  proc.once("exit", (code, sig) => (exit = { code, sig }));
  await waitFor(
    `telltale serve to answer on ${base}`,
    async () => {
      if (exit) {
        const why = err.trim().split("\n").slice(-5).join("\n");
        const missing = /not (yet )?supported|unrecognized|unexpected argument|unknown/i.test(err);
        throw new FatalError(
          missing && sources.some((s) => s.startsWith("redis://"))
            ? `telltale serve does not accept --source redis:// yet (it exited with ${exit.code}): ${why}`
            : `telltale serve exited with ${exit.code ?? exit.sig} before answering: ${why}`,
        );
      }
      const r = await fetch(`${base}/api/health`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      return r.ok;
    },
    20_000,
    100,
  );
  return {
    proc,
    base,
    port,
    url: `${base}/?token=${TOKEN}`,
    logs: () => ({ out, err }),
    async api(p) {
      const r = await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      if (!r.ok) throw new Error(`GET ${p}: HTTP ${r.status} ${await r.text()}`);
      return r.json();
    },
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      await exited(proc, 10_000);
    },
  };
}

/** An error that no retry can fix (serve exited): `waitFor` rethrows it at once. */
export class FatalError extends Error {}

/** Debian's chromium, headless, with a fresh profile. Never downloads a browser. */
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (the tests never download one)`);
  }
  const { chromium } = await import("playwright-core");
  const profile = tempDir("telltale-chromium-");
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    /** The profile directory: it names this browser's processes (see `browserCpu`). */
    profile: profile.path,
    async close() {
      await context.close();
      profile.cleanup();
    },
  };
}

/**
 * CPU seconds used so far by the processes of the browser started with `profile`
 * (from /proc; Linux), in total and by the renderers (the page's main thread lives there).
 */
export function browserCpu(profile) {
  const hz = 100; // USER_HZ on Linux
  let total = 0;
  let renderer = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let cmd, stat;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.includes(profile)) continue;
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const s = (Number(f[11]) + Number(f[12])) / hz; // utime + stime
    total += s;
    if (cmd.includes("--type=renderer") && !cmd.includes("--top-chrome-webui")) renderer += s;
  }
  return { total, renderer };
}

export function ensureArtifacts() {
  mkdirSync(artifacts, { recursive: true });
  return artifacts;
}
