import { describe, expect, it } from "vitest";
import type { EntityState } from "../api/types";
import { applyEvent, durationMs, firstState } from "./reduce";
import { ev } from "./testing";

function fold(...events: ReturnType<typeof ev>[]): EntityState {
  const first = events[0];
  if (!first) throw new Error("no events");
  const s = firstState(first);
  for (const e of events) applyEvent(s, e);
  return s;
}

describe("applyEvent (mirror of board.rs)", () => {
  it("job lifecycle gives start, finish and duration", () => {
    const s = fold(
      ev(1, "j1", "queued", { received_at: 1_000 }),
      ev(2, "j1", "running", { received_at: 2_000 }),
      ev(3, "j1", "info", { received_at: 2_500, progress: 40 }),
      ev(4, "j1", "completed", { received_at: 5_000 }),
    );
    expect(s.status).toBe("completed");
    expect(s.first_seen).toBe(1_000);
    expect(s.started_at).toBe(2_000);
    expect(s.finished_at).toBe(5_000);
    expect(durationMs(s, 9_999)).toBe(3_000);
    expect(s.progress).toBe(100);
    expect(s.events).toBe(4);
    expect(s.last_seq).toBe(4);
  });

  it("retry restarts the clock and clears the error", () => {
    const s = fold(
      ev(1, "j1", "running", { received_at: 1_000 }),
      ev(2, "j1", "failed", { received_at: 2_000, error: "boom" }),
      ev(3, "j1", "running", { received_at: 3_000 }),
    );
    expect(s.status).toBe("running");
    expect(s.started_at).toBe(3_000);
    expect(s.finished_at).toBeUndefined();
    expect(s.error).toBeUndefined();
  });

  it("a progress tick first makes the job running; info keeps the status", () => {
    const s = fold(ev(1, "j", "info", { progress: 10 }));
    expect(s.status).toBe("running");
    applyEvent(s, ev(2, "j", "info", { message: "half" }));
    expect(s.status).toBe("running");
    expect(s.message).toBe("half");
  });

  it("occurred_at wins over received_at for timing; parent sticks", () => {
    const s = fold(
      ev(1, "j", "running", { occurred_at: 500, parent: "q1" }),
      ev(2, "j", "failed", { occurred_at: 800 }),
    );
    expect(s.started_at).toBe(500);
    expect(s.finished_at).toBe(800);
    expect(s.parent).toBe("q1");
  });
});
