import { describe, expect, it } from "vitest";
import type { EntityState } from "../api/types";
import { EventStore, type ChangeSet } from "./store";
import { ev } from "./testing";

describe("EventStore ordering and dedupe", () => {
  it("applies a batch in seq order whatever order it arrives in", () => {
    const st = new EventStore();
    st.ingest([ev(3, "j", "completed"), ev(1, "j", "queued"), ev(2, "j", "running")]);
    const j = st.jobs.get("j")?.state;
    expect(j?.status).toBe("completed");
    expect(j?.started_at).toBe(2_000);
    expect(j?.events).toBe(3);
    expect(st.lastSeq).toBe(3);
  });

  it("drops events at or below the last seq, and duplicates inside a batch", () => {
    const st = new EventStore();
    st.ingest([ev(1, "j", "running"), ev(2, "j", "failed")]);
    const c = st.ingest([ev(2, "j", "failed"), ev(2, "j", "failed"), ev(1, "j", "running"), ev(3, "k", "queued"), ev(3, "k", "queued")]);
    expect(c.events.map((e) => e.seq)).toEqual([3]);
    expect(st.jobs.get("j")?.state.events).toBe(2);
    expect(st.jobs.get("j")?.state.status).toBe("failed");
    expect(st.stats.duplicates).toBe(4);
    expect(st.jobCount).toBe(2);
  });

  it("does not fold an event a snapshot already covers", () => {
    const st = new EventStore();
    const snap: EntityState = {
      kind: "job",
      entity: "j",
      source: "s",
      status: "running",
      first_seen: 1_000,
      started_at: 1_000,
      last_seen: 5_000,
      last_seq: 5,
      events: 3,
    };
    st.loadSnapshot([snap], 4); // read at seq 4, but this job was already at 5
    st.ingest([ev(5, "j", "running"), ev(6, "j", "completed")]);
    const j = st.jobs.get("j")?.state;
    expect(j?.events).toBe(4);
    expect(j?.status).toBe("completed");
    expect(st.lastSeq).toBe(6);
  });

  it("a newer snapshot state replaces an older one, never the reverse", () => {
    const st = new EventStore();
    st.ingest([ev(1, "j", "running"), ev(7, "j", "failed")]);
    const older: EntityState = { kind: "job", entity: "j", source: "s", status: "running", first_seen: 1, last_seen: 1, last_seq: 3, events: 1 };
    st.loadSnapshot([older], 3);
    expect(st.jobs.get("j")?.state.status).toBe("failed");
    expect(st.lastSeq).toBe(7);
  });

  it("counts jobs by status as they move", () => {
    const st = new EventStore();
    st.ingest([ev(1, "a", "running"), ev(2, "b", "running"), ev(3, "a", "failed")]);
    expect(st.statusCounts.get("running")).toBe(1);
    expect(st.statusCounts.get("failed")).toBe(1);
  });

  it("keeps queues, workers and source notices apart from jobs", () => {
    const st = new EventStore();
    st.ingest([
      ev(1, "emails", "info", { kind: "queue", counts: { waiting: 4 } }),
      ev(2, "w1", "busy", { kind: "worker" }),
      ev(3, "redis", "gap", { kind: "source", message: "pub/sub dropped" }),
    ]);
    expect(st.jobCount).toBe(0);
    expect(st.queues.get("emails")?.counts?.waiting).toBe(4);
    expect(st.workers.get("w1")?.status).toBe("busy");
    expect(st.sourceNotices.get("redis")?.status).toBe("gap");
  });
});

describe("EventStore resume after reconnect", () => {
  it("a replay overlapping what was seen neither loses nor doubles events", () => {
    const st = new EventStore();
    // First connection: 1..50, then the link drops.
    st.ingest(Array.from({ length: 50 }, (_, i) => ev(i + 1, `j${i % 7}`, i % 2 ? "running" : "info")));
    const resumeAt = st.lastSeq;
    expect(resumeAt).toBe(50);
    // The relay replays from a little earlier than asked (say Last-Event-ID was stale),
    // then continues with new events.
    const replay = Array.from({ length: 40 }, (_, i) => ev(31 + i, `j${(30 + i) % 7}`, (30 + i) % 2 ? "running" : "info"));
    const c = st.ingest(replay);
    expect(c.events.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 51 + i));
    let total = 0;
    for (const { state } of st.jobs.values()) total += state.events;
    expect(total).toBe(70);
  });

  it("reset forgets everything so a replaced history can be reloaded", () => {
    const st = new EventStore();
    st.ingest([ev(10, "j", "running")]);
    st.reset();
    expect(st.lastSeq).toBe(0);
    st.ingest([ev(1, "k", "queued")]);
    expect(st.jobCount).toBe(1);
  });
});

describe("EventStore bounded memory", () => {
  it("evicts the oldest jobs in blocks once past the cap", () => {
    const st = new EventStore({ maxJobs: 1_000 });
    const changes: ChangeSet[] = [];
    st.subscribe((c) => changes.push(c));
    for (let i = 1; i <= 5_000; i++) st.ingest([ev(i, `j${i}`, "running")]);
    expect(st.jobCount).toBeLessThanOrEqual(1_000 + 10);
    expect(st.jobCount).toBeGreaterThanOrEqual(1_000);
    expect(st.jobs.has("j1")).toBe(false);
    expect(st.jobs.has("j5000")).toBe(true);
    expect(st.order.length).toBe(st.jobCount);
    expect(st.statusCounts.get("running")).toBe(st.jobCount);
    expect(changes.filter((c) => c.evicted > 0).length).toBeLessThan(500);
  });

  it("holds 100,000 jobs with 1,000 events per batch quickly", () => {
    const st = new EventStore({ maxJobs: 100_000 });
    const t0 = performance.now();
    let seq = 0;
    for (let b = 0; b < 150; b++) {
      const batch = [];
      for (let i = 0; i < 1_000; i++) {
        seq++;
        batch.push(ev(seq, `j${seq % 120_000}`, seq % 10 === 0 ? "failed" : "running", { progress: seq % 100 }));
      }
      st.ingest(batch);
    }
    const ms = performance.now() - t0;
    expect(st.jobCount).toBeLessThanOrEqual(101_000);
    // Not a timing assertion of the product: a guard against an accidental O(n²).
    expect(ms).toBeLessThan(5_000);
  });
});

describe("derived figures", () => {
  it("throughput buckets completed and failed per minute; failed in the last hour", () => {
    const st = new EventStore();
    const now = 10 * 60_000 + 59_000;
    st.ingest([
      ev(1, "a", "completed", { received_at: now - 30_000 }),
      ev(2, "b", "failed", { received_at: now - 90_000 }),
      ev(3, "c", "failed", { received_at: now - 2 * 3_600_000 }),
    ]);
    const t = st.throughput(now, 5);
    expect(t.completed).toEqual([0, 0, 0, 0, 1]);
    expect(t.failed).toEqual([0, 0, 0, 1, 0]);
    expect(st.failedSince(now)).toBe(1);
  });

  it("events per minute per source", () => {
    const st = new EventStore();
    st.ingest([ev(1, "a", "running", { received_at: 60_000 }), ev(2, "a", "running", { received_at: 61_000 }), ev(3, "a", "running", { received_at: 120_000 })]);
    expect(st.rateSeries("s", 120_000, 3)).toEqual([0, 2, 1]);
    expect(st.lastEventAt.get("s")).toBe(120_000);
  });
});
