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

  describe("per-frame budget", () => {
    it("folds at most maxPerFrame items per frame and carries the rest over, in order", () => {
      const clock = manualClock();
      const flushes: number[][] = [];
      const b = new FrameBatcher<number>((x) => flushes.push(x), clock, 0, 100);
      for (let i = 0; i < 250; i++) b.push(i);
      clock.tick();
      expect(flushes.map((f) => f.length)).toEqual([100]);
      expect(b.size).toBe(150);
      clock.tick();
      clock.tick();
      expect(flushes.map((f) => f.length)).toEqual([100, 100, 50]);
      expect(flushes.flat()).toEqual(Array.from({ length: 250 }, (_, i) => i));
      expect(b.size).toBe(0);
      clock.tick(); // nothing left: no empty flush
      expect(flushes).toHaveLength(3);
    });

    it("items arriving during a carry-over queue behind the carried ones", () => {
      const clock = manualClock();
      const got: number[][] = [];
      const b = new FrameBatcher<number>((x) => got.push(x), clock, 0, 3);
      b.pushAll([1, 2, 3, 4, 5]);
      clock.tick();
      b.pushAll([6, 7]);
      clock.tick();
      clock.tick();
      expect(got).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    });

    it("a batch within the budget is handed over whole (no copy, one flush)", () => {
      const clock = manualClock();
      const got: number[][] = [];
      const b = new FrameBatcher<number>((x) => got.push(x), clock, 0, 1_000);
      for (let i = 0; i < 1_000; i++) b.push(i);
      clock.tick();
      expect(got).toHaveLength(1);
      expect(got[0]).toHaveLength(1_000);
    });

    it("an explicit flush takes everything, budget or not (before resuming the stream)", () => {
      const clock = manualClock();
      const got: number[][] = [];
      const b = new FrameBatcher<number>((x) => got.push(x), clock, 0, 2);
      b.pushAll([1, 2, 3, 4, 5]);
      clock.tick();
      b.flush();
      expect(got).toEqual([[1, 2], [3, 4, 5]]);
      expect(b.size).toBe(0);
      clock.tick();
      expect(got).toHaveLength(2);
    });

    it("the hidden-tab timer flushes the whole backlog when no frame comes", () => {
      vi.useFakeTimers();
      try {
        const clock = manualClock();
        const got: number[][] = [];
        const b = new FrameBatcher<number>((x) => got.push(x), clock, 250, 2);
        b.pushAll([1, 2, 3, 4, 5]);
        clock.tick(); // one frame, then the tab is hidden
        vi.advanceTimersByTime(249);
        expect(got).toEqual([[1, 2]]);
        vi.advanceTimersByTime(1);
        expect(got).toEqual([[1, 2], [3, 4, 5]]);
      } finally {
        vi.useRealTimers();
      }
    });

    it("while frames keep coming the timer does not cut the budget short", () => {
      vi.useFakeTimers();
      try {
        const clock = manualClock();
        const got: number[][] = [];
        const b = new FrameBatcher<number>((x) => got.push(x), clock, 250, 10);
        b.pushAll(Array.from({ length: 100 }, (_, i) => i));
        for (let f = 0; f < 10; f++) {
          vi.advanceTimersByTime(200); // a slow frame, still under the timer
          clock.tick();
        }
        expect(got.map((x) => x.length)).toEqual(new Array(10).fill(10));
        expect(got.flat()).toEqual(Array.from({ length: 100 }, (_, i) => i));
      } finally {
        vi.useRealTimers();
      }
    });

    it("keeps order over many carried frames (the consumed prefix is dropped)", () => {
      const clock = manualClock();
      const got: number[] = [];
      const b = new FrameBatcher<number>((x) => got.push(...x), clock, 0, 1_000);
      let next = 0;
      for (let f = 0; f < 50; f++) {
        for (let i = 0; i < 1_100; i++) b.push(next++);
        clock.tick();
      }
      while (b.size > 0) clock.tick();
      expect(got).toEqual(Array.from({ length: next }, (_, i) => i));
    });

    it("refuses a budget below one", () => {
      expect(() => new FrameBatcher<number>(() => undefined, manualClock(), 0, 0)).toThrow(RangeError);
    });
  });
});
