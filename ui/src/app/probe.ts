// A read-only window into the live state for tests and operators' devtools:
// `window.__telltale.stats()` (store counters) and `window.__telltale.frames` (frame
// times measured with requestAnimationFrame, used by the browser performance test).
import type { Live } from "./live";

export interface FrameStats {
  count: number;
  max: number;
  p50: number;
  p99: number;
  over50: number;
}

declare global {
  interface Window {
    __telltale?: {
      stats: () => { lastSeq: number; jobs: number; applied: number; duplicates: number; evicted: number; invalid: number; link: string };
      startFrames: () => void;
      stopFrames: () => FrameStats;
      jobStatus: (id: string) => string | undefined;
      job: (id: string) => { status: string; events: number; last_seq: number } | undefined;
    };
  }
}

export function frameStats(deltas: number[]): FrameStats {
  const s = [...deltas].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
  return { count: s.length, max: s[s.length - 1] ?? 0, p50: q(0.5), p99: q(0.99), over50: s.filter((d) => d > 50).length };
}

export function installFrameProbe(live: Live): void {
  let deltas: number[] = [];
  let running = false;
  let last = 0;
  const tick = (t: number) => {
    if (!running) return;
    if (last > 0) deltas.push(t - last);
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
      last = 0;
      running = true;
      requestAnimationFrame(tick);
    },
    stopFrames: () => {
      running = false;
      return frameStats(deltas);
    },
    jobStatus: (id) => live.store.jobs.get(id)?.state.status,
    job: (id) => {
      const s = live.store.jobs.get(id)?.state;
      return s ? { status: s.status, events: s.events, last_seq: s.last_seq } : undefined;
    },
  };
}
