// Overview: source health, the headline counters, and throughput.
import { useEffect, useMemo, useState } from "preact/hooks";
import { useLiveVersion, type Live } from "../app/live";
import { ago, count, duration } from "../app/format";
import type { SourceRow } from "../api/types";
import { Empty, Sparkline, StatusBadge, ThroughputChart } from "../components/ui";

export function Overview({ live }: { live: Live }) {
  // Figures that scan the board are recomputed at most once a second.
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(t);
  }, []);
  useLiveVersion(live);
  const st = live.store;
  const running = st.statusCounts.get("running") ?? 0;
  const queued = (st.statusCounts.get("queued") ?? 0) + (st.statusCounts.get("delayed") ?? 0) + (st.statusCounts.get("retrying") ?? 0);
  let waiting = 0;
  for (const q of st.queues.values()) waiting += q.counts?.waiting ?? 0;
  // These two scan every job on the board: once per clock tick, not once per frame.
  const failedHour = useMemo(() => st.failedSince(now), [st, now]);
  const tp = useMemo(() => st.throughput(now, 60), [st, now]);
  const sources = live.sources.value;
  const recentFailed = [];
  for (let i = st.order.length - 1; i >= 0 && recentFailed.length < 8; i--) {
    const e = st.order[i];
    if (e?.state.status === "failed") recentFailed.push(e.state);
  }

  return (
    <section class="view view-overview">
      <div class="counters">
        <a class="counter" href="#/jobs?status=running">
          <span class="counter-value" data-testid="count-running">{count(running)}</span>
          <span class="counter-label">running</span>
        </a>
        <a class={`counter${failedHour > 0 ? " counter-bad" : ""}`} href="#/jobs?status=failed">
          <span class="counter-value" data-testid="count-failed">{count(failedHour)}</span>
          <span class="counter-label">failed in the last hour</span>
        </a>
        <a class="counter" href="#/jobs?status=queued,delayed,retrying">
          <span class="counter-value" data-testid="count-queued">{count(queued)}</span>
          <span class="counter-label">queued{waiting > 0 ? ` · ${count(waiting)} waiting in queues` : ""}</span>
        </a>
        <a class="counter" href="#/jobs">
          <span class="counter-value">{count(st.jobCount)}</span>
          <span class="counter-label">jobs on the board</span>
        </a>
      </div>

      <div class="grid2">
        <div class="card">
          <h2>Sources</h2>
          {sources.length === 0 ? (
            <Empty title="No sources">
              <p>
                Add one in <a href="#/sources">Sources</a>, or start the relay with one:
                <br />
                <code>telltale serve --source 'redis://127.0.0.1:6379/0?pattern=*'</code>
                <br />
                or try the built-in demo: <code>telltale demo</code>.
              </p>
            </Empty>
          ) : (
            <ul class="source-list">
              {sources.map((s) => (
                <SourceHealthItem key={s.name} s={s} live={live} now={now} />
              ))}
            </ul>
          )}
        </div>
        <div class="card">
          <h2>Recent failures</h2>
          {recentFailed.length === 0 ? (
            <p class="muted">No failed jobs on the board.</p>
          ) : (
            <ul class="failures">
              {recentFailed.map((f) => (
                <li key={f.entity}>
                  <a href={`#/jobs/${encodeURIComponent(f.entity)}`}>{f.entity}</a>
                  <span class="error-text">{f.error ?? f.message ?? ""}</span>
                  <span class="muted">{ago(f.finished_at ?? f.last_seen, now)}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>

      <div class="card">
        <h2>Throughput</h2>
        <ThroughputChart completed={tp.completed} failed={tp.failed} start={tp.start} />
      </div>
    </section>
  );
}

function SourceHealthItem({ s, live, now }: { s: SourceRow; live: Live; now: number }) {
  const lastLive = live.store.lastEventAt.get(s.name);
  const last = Math.max(s.last_event_at ?? 0, lastLive ?? 0) || undefined;
  const series = live.store.rateSeries(s.name, now, 30);
  const perMin = series[series.length - 1] ?? 0;
  return (
    <li class={`source-item health-${s.health}`} data-source={s.name}>
      <div class="source-line">
        <strong>{s.name}</strong>
        <StatusBadge status={s.health} />
        <Sparkline values={series} label={`${s.name} events per minute`} />
        <span class="muted">{count(perMin)}/min</span>
      </div>
      <div class="source-detail muted">
        {s.health === "reconnecting" && s.next_attempt_at !== undefined ? (
          <span>next attempt {s.next_attempt_at > now ? `in ${duration(s.next_attempt_at - now)}` : "now"} · </span>
        ) : null}
        {s.reason ? <span class={s.health === "stopped" ? "error-text" : ""}>{s.reason} · </span> : null}
        {s.last_notice?.status === "gap" ? <span class="warn-text">gap {ago(s.last_notice.at, now)}: {s.last_notice.message ?? "history may be incomplete"} · </span> : null}
        <span>last event {ago(last, now)}</span> · <span>{count(s.events)} events</span>
      </div>
    </li>
  );
}
