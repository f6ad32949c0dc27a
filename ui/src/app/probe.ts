// A read-only window into the live state for tests and operators' devtools:
// `window.__telltale.stats()` (store counters) and `window.__telltale.frames` (frame
// times measured with requestAnimationFrame, used by the browser performance test).
import type { FlushTime, Live } from "./live";

export interface FrameStats {
  count: number;
  max: number;
  p50: number;
  p99: number;
  over50: number;
  /** Frames over 50 ms: when each started (performance.now()) and how long it took. */
  long: { at: number; ms: number }[];
  /** performance.now() when the measurement started. */
  started: number;
}

declare global {
  interface Window {
    __telltale?: {
      stats: () => { lastSeq: number; jobs: number; applied: number; duplicates: number; evicted: number; invalid: number; link: string };
      startFrames: () => void;
      stopFrames: () => FrameStats;
      /** The store flushes timed since `startFrames` (at, ms, events). */
      flushTimes: () => FlushTime[];
      jobStatus: (id: string) => string | undefined;
      job: (id: string) => { status: string; events: number; last_seq: number } | undefined;
    };
  }
}

/** Frame-time figures from the gaps between animation frames (`at[i]`: when gap `i` began). */
export function frameStats(deltas: number[], at: number[] = []): FrameStats {
  const s = [...deltas].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
  const long: { at: number; ms: number }[] = [];
  deltas.forEach((ms, i) => {
    if (ms > 50) long.push({ at: at[i] ?? 0, ms });
  });
  return { count: s.length, max: s[s.length - 1] ?? 0, p50: q(0.5), p99: q(0.99), over50: long.length, long, started: at[0] ?? 0 };
}

export function installFrameProbe(live: Live): void {
  let deltas: number[] = [];
  let starts: number[] = [];
  let running = false;
  let last = 0;
  const tick = (t: number) => {
    if (!running) return;
    if (last > 0) {
      deltas.push(t - last);
      starts.push(last);
    }
    last = t;
    requestAnimationFrame(tick);
  };
  window.__telltale = {
    stats: () => ({
      lastSeq: live.store.lastSeq,
      jobs: live.store.jobCount,
      ...live.store.stats,
      link: live.banner.value.kind,
    }),
    startFrames: () => {
      deltas = [];
      starts = [];
      last = 0;
      live.flushTimes.length = 0;
      live.timing = true;
      running = true;
      requestAnimationFrame(tick);
    },
    stopFrames: () => {
      running = false;
      live.timing = false;
      return frameStats(deltas, starts);
    },
    flushTimes: () => [...live.flushTimes],
    jobStatus: (id) => live.store.jobs.get(id)?.state.status,
    job: (id) => {
      const s = live.store.jobs.get(id)?.state;
      return s ? { status: s.status, events: s.events, last_seq: s.last_seq } : undefined;
    },
  };
}
