import { describe, expect, it, vi } from "vitest";
import { FrameBatcher, type FrameClock } from "./frames";

function manualClock(): FrameClock & { tick(): void } {
  let cbs = new Map<number, () => void>();
  let n = 0;
  return {
    request(cb) {
      cbs.set(++n, cb);
      return n;
    },
    cancel(h) {
      cbs.delete(h);
    },
    tick() {
      const run = cbs;
      cbs = new Map();
      for (const cb of run.values()) cb();
    },
  };
}

describe("FrameBatcher", () => {
  it("coalesces everything pushed between two frames into one flush", () => {
    const clock = manualClock();
    const flushes: number[][] = [];
    const b = new FrameBatcher<number>((x) => flushes.push(x), clock, 0);
    for (let i = 0; i < 500; i++) b.push(i);
    expect(flushes).toHaveLength(0);
    clock.tick();
    expect(flushes).toHaveLength(1);
    expect(flushes[0]).toHaveLength(500);
    b.pushAll([1, 2]);
    clock.tick();
    clock.tick();
    expect(flushes).toHaveLength(2);
  });

  it("flushes on a timer when no frame comes (hidden tab)", () => {
    vi.useFakeTimers();
    const clock = manualClock();
    const flushes: number[][] = [];
    const b = new FrameBatcher<number>((x) => flushes.push(x), clock, 250);
    b.push(1);
    vi.advanceTimersByTime(249);
    expect(flushes).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(flushes).toEqual([[1]]);
    clock.tick(); // the frame arriving late does not flush twice
    expect(flushes).toHaveLength(1);
    vi.useRealTimers();
  });

  it("an explicit flush empties the buffer (used before resuming)", () => {
    const clock = manualClock();
    const got: number[] = [];
    const b = new FrameBatcher<number>((x) => got.push(...x), clock, 0);
    b.push(7);
    b.flush();
    expect(got).toEqual([7]);
    expect(b.size).toBe(0);
  });
});
