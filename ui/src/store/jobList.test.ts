import { describe, expect, it } from "vitest";
import { EventStore } from "./store";
import { JobList, filterFromParams, filterToParams } from "./jobList";
import { ev } from "./testing";

describe("JobList", () => {
  it("shows newest first and follows status changes incrementally", () => {
    const st = new EventStore();
    const list = new JobList(st, { statuses: ["failed"], source: "", queue: "", text: "" });
    st.subscribe((c) => list.apply(c));
    st.ingest([ev(1, "a", "running"), ev(2, "b", "running"), ev(3, "c", "failed")]);
    expect(list.length).toBe(1);
    st.ingest([ev(4, "a", "failed")]);
    expect([list.at(0)?.state.entity, list.at(1)?.state.entity]).toEqual(["c", "a"]);
    st.ingest([ev(5, "a", "running")]); // retried: leaves the failed view
    expect(list.length).toBe(1);
    expect(list.indexOf("c")).toBe(0);
    expect(list.indexOf("a")).toBe(-1);
  });

  it("knows when it missed a change (built before the view subscribed) and catches up", () => {
    const st = new EventStore();
    st.ingest([ev(1, "a", "running")]);
    const list = new JobList(st, { statuses: [], source: "", queue: "", text: "b" });
    expect(list.stale).toBe(false);
    st.ingest([ev(2, "b", "failed")]); // nobody listening yet
    expect(list.stale).toBe(true);
    expect(list.indexOf("b")).toBe(-1);
    list.rebuild();
    expect(list.stale).toBe(false);
    expect(list.indexOf("b")).toBe(0);
  });

  it("a change set after a missed one rebuilds instead of folding on a stale list", () => {
    const st = new EventStore();
    const list = new JobList(st);
    st.ingest([ev(1, "a", "running")]); // missed
    st.subscribe((c) => list.apply(c));
    st.ingest([ev(2, "b", "running")]);
    expect([list.at(0)?.state.entity, list.at(1)?.state.entity]).toEqual(["b", "a"]);
    expect(list.stale).toBe(false);
  });

  it("matches text in id, message, error and stage, case-insensitively", () => {
    const st = new EventStore();
    st.ingest([ev(1, "Resize-42", "running"), ev(2, "x", "failed", { error: "Disk FULL" }), ev(3, "y", "running", { stage: "upload" })]);
    const ids = (q: string) => {
      const l = new JobList(st, { statuses: [], source: "", queue: "", text: q });
      return Array.from({ length: l.length }, (_, i) => l.at(i)?.state.entity);
    };
    expect(ids("resize")).toEqual(["Resize-42"]);
    expect(ids("disk full")).toEqual(["x"]);
    expect(ids("UPLOAD")).toEqual(["y"]);
  });

  it("drops evicted rows and stays consistent with the store", () => {
    const st = new EventStore({ maxJobs: 100 });
    const list = new JobList(st);
    st.subscribe((c) => list.apply(c));
    for (let i = 1; i <= 1_000; i++) st.ingest([ev(i, `j${i}`, "running")]);
    expect(list.length).toBe(st.jobCount);
    expect(list.at(0)?.state.entity).toBe("j1000");
    expect(list.at(list.length - 1)?.evicted).toBeUndefined();
  });

  it("round-trips its filter through URL parameters", () => {
    const f = filterFromParams(new URLSearchParams("status=failed,stalled&source=redis&queue=emails&q=boom"));
    expect(f).toEqual({ statuses: ["failed", "stalled"], source: "redis", queue: "emails", text: "boom" });
    expect(filterToParams(f)).toEqual({ status: "failed,stalled", source: "redis", queue: "emails", q: "boom" });
  });

  it("keeps 100,000 rows current under 1,000 events per frame without rebuilding", () => {
    const st = new EventStore({ maxJobs: 100_000 });
    let seq = 0;
    const seed = [];
    for (let i = 0; i < 100_000; i++) seed.push(ev(++seq, `j${i}`, i % 3 === 0 ? "failed" : "running"));
    st.ingest(seed);
    const list = new JobList(st, { statuses: ["failed"], source: "", queue: "", text: "" });
    st.subscribe((c) => list.apply(c));
    const t0 = performance.now();
    for (let f = 0; f < 60; f++) {
      const batch = [];
      for (let i = 0; i < 1_000; i++) {
        seq++;
        batch.push(ev(seq, `j${(seq * 7919) % 100_000}`, seq % 2 ? "failed" : "running"));
      }
      st.ingest(batch);
    }
    const perFrame = (performance.now() - t0) / 60;
    let failed = 0;
    for (const { state } of st.jobs.values()) if (state.status === "failed") failed++;
    expect(list.length).toBe(failed);
    expect(perFrame).toBeLessThan(100); // a guard against O(n) work per frame
  });
});
