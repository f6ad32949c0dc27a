// Small shared pieces: status badges, progress bars, empty states, charts.
import type { ComponentChildren } from "preact";
import { hourMinute, timeOfDay } from "../app/format";

const FAILURE = new Set(["failed", "stalled", "stopped", "gap", "gone"]);
const WARN = new Set(["retrying", "reconnecting", "delayed", "paused", "connecting"]);
const GOOD = new Set(["completed", "connected", "live", "idle"]);
const ACTIVE = new Set(["running", "busy", "active"]);

export function tone(status: string): "bad" | "warn" | "good" | "active" | "plain" {
  if (FAILURE.has(status)) return "bad";
  if (WARN.has(status)) return "warn";
  if (GOOD.has(status)) return "good";
  if (ACTIVE.has(status)) return "active";
  return "plain";
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge tone-${tone(status)}`}>{status === "" ? "unknown" : status}</span>;
}

export function Progress({ value, status }: { value: number | undefined; status?: string }) {
  if (value === undefined) return <span class="muted">—</span>;
  const v = Math.max(0, Math.min(100, value));
  return (
    <span class="progress" title={`${v.toFixed(0)}%`} role="progressbar" aria-valuenow={v} aria-valuemin={0} aria-valuemax={100}>
      <span class={`progress-fill tone-${tone(status ?? "")}`} style={{ width: `${v}%` }} />
      <span class="progress-text">{v.toFixed(0)}%</span>
    </span>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h3>{title}</h3>
      {children}
    </div>
  );
}

export function Callout({ kind, children }: { kind: "info" | "warn" | "error"; children: ComponentChildren }) {
  return (
    <div class={`callout callout-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function Sparkline({ values, width = 120, height = 28, label }: { values: number[]; width?: number; height?: number; label?: string }) {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
  return (
    <svg class="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label ?? "trend"}>
      <polyline points={pts} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

/** Completed (up) and failed (down) per minute, one pair of bars per minute. */
export function ThroughputChart({ completed, failed, start }: { completed: number[]; failed: number[]; start: number }) {
  const width = 720;
  const height = 160;
  const mid = height * 0.62;
  const n = completed.length;
  const bw = width / Math.max(1, n);
  const maxUp = Math.max(1, ...completed);
  const maxDown = Math.max(1, ...failed);
  const total = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" height="160" preserveAspectRatio="none" role="img" aria-label="completed and failed jobs per minute">
        <line x1="0" x2={width} y1={mid} y2={mid} class="axis" vector-effect="non-scaling-stroke" />
        {completed.map((c, i) =>
          c > 0 ? <rect key={`c${i}`} class="bar-good" x={i * bw + 1} width={Math.max(1, bw - 2)} y={mid - (c / maxUp) * (mid - 4)} height={(c / maxUp) * (mid - 4)}><title>{`${timeOfDay(start + i * 60_000)}: ${c} completed`}</title></rect> : null,
        )}
        {failed.map((f, i) =>
          f > 0 ? <rect key={`f${i}`} class="bar-bad" x={i * bw + 1} width={Math.max(1, bw - 2)} y={mid} height={(f / maxDown) * (height - mid - 2)}><title>{`${timeOfDay(start + i * 60_000)}: ${f} failed`}</title></rect> : null,
        )}
      </svg>
      <div class="chart-times">
        <span>{hourMinute(start)}</span>
        <span>now</span>
      </div>
      <figcaption>
        <span class="legend legend-good">completed {total(completed)}</span> <span class="legend legend-bad">failed {total(failed)}</span> per minute, last {n} minutes
      </figcaption>
    </figure>
  );
}

/** A value over time (progress of a job): points of [time, value 0..100]. */
export function LineChart({ points, label }: { points: [number, number][]; label: string }) {
  const width = 720;
  const height = 120;
  if (points.length === 0) return <p class="muted">No progress was reported.</p>;
  const t0 = points[0]?.[0] ?? 0;
  const t1 = Math.max(t0 + 1, points[points.length - 1]?.[0] ?? t0 + 1);
  const x = (t: number) => ((t - t0) / (t1 - t0)) * (width - 8) + 4;
  const y = (v: number) => height - 4 - (Math.max(0, Math.min(100, v)) / 100) * (height - 8);
  const d = points.map(([t, v], i) => `${i === 0 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  return (
    <svg class="linechart" viewBox={`0 0 ${width} ${height}`} width="100%" height="120" preserveAspectRatio="none" role="img" aria-label={label}>
      <line x1="0" x2={width} y1={y(100)} y2={y(100)} class="axis faint" />
      <line x1="0" x2={width} y1={y(0)} y2={y(0)} class="axis" />
      <path d={d} fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke">
        <title>{points.map(([t, v]) => `${timeOfDay(t)}: ${v}%`).join("\n")}</title>
      </path>
    </svg>
  );
}
