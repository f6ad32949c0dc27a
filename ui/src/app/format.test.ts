import { afterEach, describe, expect, it, vi } from "vitest";
import { clock, count, hourMinute, timeOfDay } from "./format";
import { JobRow } from "../views/Jobs";
import { LineChart, ThroughputChart } from "../components/ui";
import type { EntityState } from "../api/types";

const times = [0, 1_700_000_000_000, 1_764_000_123_456, Date.UTC(2026, 11, 7, 23, 59, 59)];

describe("format: times and counts through shared formatters", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("reads the same as the per-call forms it replaces", () => {
    for (const t of times) {
      /* eslint-disable no-restricted-syntax -- the per-call forms are the reference here */
      expect(clock(t)).toBe(new Date(t).toLocaleTimeString(undefined, { hour12: false }));
      expect(timeOfDay(t)).toBe(new Date(t).toLocaleTimeString());
      expect(hourMinute(t)).toBe(new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    }
    expect(count(1234567)).toBe((1234567).toLocaleString("en-US"));
    /* eslint-enable no-restricted-syntax */
    expect(clock(undefined)).toBe("");
  });

  it("charts and job rows build no formatter per render", () => {
    const madeDates = vi.spyOn(Intl, "DateTimeFormat");
    const madeNumbers = vi.spyOn(Intl, "NumberFormat");
    const timeStrings = vi.spyOn(Date.prototype, "toLocaleTimeString");
    const dateStrings = vi.spyOn(Date.prototype, "toLocaleString");
    const numberStrings = vi.spyOn(Number.prototype, "toLocaleString");
    const perMinute = Array.from({ length: 60 }, (_, i) => i % 7);
    const job: EntityState = { kind: "job", entity: "j", source: "s", status: "running", progress: 40, first_seen: times[1] ?? 0, started_at: times[1] ?? 0, last_seen: times[1] ?? 0, last_seq: 5, events: 2 };
    const row = new JobRow({ s: job, seq: 5, events: 2, selected: false, now: 0 });
    for (let i = 0; i < 50; i++) {
      ThroughputChart({ completed: perMinute, failed: perMinute, start: times[2] ?? 0 });
      LineChart({ points: perMinute.map((v, j) => [(times[2] ?? 0) + j * 1_000, v * 10]), label: "progress" });
      row.props = { s: job, seq: 5, events: 2, selected: false, now: (times[1] ?? 0) + i * 1_000 };
      row.render();
      clock(times[3]);
      count(i * 1_000);
    }
    expect(madeDates).not.toHaveBeenCalled();
    expect(madeNumbers).not.toHaveBeenCalled();
    expect(timeStrings).not.toHaveBeenCalled();
    expect(dateStrings).not.toHaveBeenCalled();
    expect(numberStrings).not.toHaveBeenCalled();
  });
});
