#!/usr/bin/env node
// Runs the UI's browser tests with node:test's spec reporter, then prints the plain
// closing line "N passed, N failed" (the suite's verdict in one line). Needs: `npm ci`
// here, the UI built (`npm ci && npm run build` in ui/), a telltale binary
// (TELLTALE_BIN, default target/debug/telltale), redis-server and Debian's chromium.
import { run } from "node:test";
import { spec } from "node:test/reporters";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
let passed = 0;
let failed = 0;
const stream = run({ files: [path.join(here, "ui.test.mjs")], concurrency: 1, timeout: 15 * 60_000 });
// Leaf tests only: a suite's own pass/fail is the sum of its tests.
stream.on("test:pass", (d) => {
  if (d.details?.type !== "suite" && !d.skip && !d.todo) passed++;
});
stream.on("test:fail", (d) => {
  if (d.details?.type !== "suite") failed++;
  else if (d.details?.error?.failureType === "hookFailed" && failed === 0) failed++;
});
const out = stream.compose(spec);
out.pipe(process.stdout, { end: false });
out.on("end", () => {
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
});
