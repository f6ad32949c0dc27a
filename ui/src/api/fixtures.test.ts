// The TS types checked against JSON the Rust side really wrote (see
// scripts/make-fixtures.sh). The guards are exact for Event and EntityState: a field
// added or renamed in Rust fails here until types.ts and guards.ts follow.
import { describe, expect, it } from "vitest";
import * as g from "./guards";
import events from "./fixtures/events.json";
import entities from "./fixtures/entities.json";

const relayFixtures = import.meta.glob<unknown>("./fixtures/relay-*.json", { eager: true, import: "default" });

const checkerFor: Record<string, g.CheckerName> = {
  "relay-jobs.json": "jobsPage",
  "relay-timeline.json": "timeline",
  "relay-queues.json": "queues",
  "relay-workers.json": "workers",
  "relay-sources.json": "sources",
  "relay-history.json": "history",
  "relay-health.json": "health",
  "relay-event.json": "event",
  "relay-error.json": "apiErrorBody",
};

describe("fixtures produced by the Rust binary", () => {
  it("every event matches the Event type", () => {
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(g.event(e, "event")).toBeNull();
  });

  it("the samples exercise every optional Event field", () => {
    const seen = new Set(events.flatMap((e) => Object.keys(e)));
    for (const f of ["occurred_at", "parent", "progress", "stage", "message", "error", "counts", "channel", "remote_id"]) {
      expect(seen, f).toContain(f);
    }
  });

  it("every latest state matches the JobRow type (EntityState + duration_ms)", () => {
    expect(entities.length).toBeGreaterThan(0);
    for (const s of entities) expect(g.jobRow(s, "entity")).toBeNull();
    // Without the CLI's duration_ms it is a bare EntityState.
    for (const row of entities as { duration_ms?: number }[]) {
      const s = { ...row };
      delete s.duration_ms;
      expect(g.entityState(s, "entity")).toBeNull();
    }
  });

  it("an unknown status keeps its text", () => {
    expect(events.some((e) => e.status === "half-baked")).toBe(true);
  });

  it("the guards catch a renamed field", () => {
    const first = events[0];
    if (!first) throw new Error("no events");
    const { seq, ...rest } = first;
    expect(g.event({ ...rest, sequence: seq }, "event")).toMatch(/seq: missing/);
  });

  for (const [path, value] of Object.entries(relayFixtures)) {
    const name = path.replace("./fixtures/", "");
    it(`relay sample ${name} matches its type`, () => {
      const c = checkerFor[name];
      expect(c, `no checker mapped for ${name}`).toBeDefined();
      if (c) expect(g.checkers[c](value, name)).toBeNull();
    });
  }
});
