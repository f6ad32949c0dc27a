// Queues (counts with trends) and workers (current job, last seen).
import { useEffect, useState } from "preact/hooks";
import { useLiveVersion, type Live } from "../app/live";
import { parse } from "../api/guards";
import { COUNT_KEYS, type QueueRow, type EntityState } from "../api/types";
import { ago, count } from "../app/format";
import { Callout, Empty, Sparkline, StatusBadge } from "../components/ui";

export function Queues({ live }: { live: Live }) {
  const [queues, setQueues] = useState<QueueRow[] | null>(null);
  const [workers, setWorkers] = useState<EntityState[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const [q, w] = await Promise.all([live.client.get("/api/queues", parse.queues), live.client.get("/api/workers", parse.workers)]);
        if (stop) return;
        setQueues(q.items);
        setWorkers(w.items);
        setError(null);
      } catch (e) {
        if (!stop) setError(e instanceof Error ? e.message : String(e));
      }
      setNow(Date.now());
    };
    void load();
    const t = setInterval(() => void load(), 5_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [live]);
  useLiveVersion(live);

  // Live worker states override the polled ones between polls.
  const ws = new Map<string, EntityState>();
  for (const w of workers ?? []) ws.set(w.entity, w);
  for (const w of live.store.workers.values()) {
    const cur = ws.get(w.entity);
    if (!cur || w.last_seq > cur.last_seq) ws.set(w.entity, w);
  }
  const workerList = [...ws.values()].sort((a, b) => a.entity.localeCompare(b.entity));

  return (
    <section class="view view-queues">
      {error ? <Callout kind="error">Could not load queues and workers: {error}</Callout> : null}
      <div class="card">
        <h2>Queues</h2>
        {queues === null ? (
          <p class="muted">Loading…</p>
        ) : queues.length === 0 ? (
          <Empty title="No queues reported">
            <p>Queues appear when a source reports queue counts (a BullMQ source, or an SSE source sending queue updates). Add one in <a href="#/sources">Sources</a>.</p>
          </Empty>
        ) : (
          <table class="table">
            <thead>
              <tr>
                <th>Queue</th>
                {COUNT_KEYS.map((k) => (
                  <th key={k} class="num">{k}</th>
                ))}
                <th>Jobs on the board</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {queues.map((q) => {
                const live_ = live.store.queues.get(q.queue);
                const counts = (live_ && (!q.state || live_.last_seq > q.state.last_seq) ? live_.counts : q.state?.counts) ?? {};
                return (
                  <tr key={q.queue} class={(counts.failed ?? 0) > 0 ? "has-failed" : ""}>
                    <td><a href={`#/jobs?queue=${encodeURIComponent(q.queue)}`}>{q.queue}</a></td>
                    {COUNT_KEYS.map((k) => {
                      const series = q.history.map((h) => h.counts[k] ?? 0);
                      const v = counts[k];
                      return (
                        <td key={k} class={`num${k === "failed" && (v ?? 0) > 0 ? " error-text" : ""}`}>
                          {v === undefined ? "—" : count(v)}
                          {series.length > 1 ? <Sparkline values={series} width={56} height={16} label={`${q.queue} ${k} trend`} /> : null}
                        </td>
                      );
                    })}
                    <td>
                      {Object.entries(q.jobs).map(([s, n]) => (
                        <span key={s} class="tally"><StatusBadge status={s} /> {count(n)}</span>
                      ))}
                    </td>
                    <td class="muted">{ago(q.state?.last_seen, now)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </div>
      <div class="card">
        <h2>Workers</h2>
        {workers === null ? (
          <p class="muted">Loading…</p>
        ) : workerList.length === 0 ? (
          <Empty title="No workers reported">
            <p>Workers appear when a source reports them (BullMQ workers, or events of kind worker).</p>
          </Empty>
        ) : (
          <table class="table">
            <thead>
              <tr><th>Worker</th><th>Status</th><th>Current job / note</th><th>Queue</th><th>Source</th><th>Last seen</th></tr>
            </thead>
            <tbody>
              {workerList.map((w) => (
                <tr key={w.entity} class={w.status === "gone" ? "muted" : ""}>
                  <td>{w.entity}</td>
                  <td><StatusBadge status={w.status} /></td>
                  <td>{w.message ? (live.store.jobs.has(w.message) ? <a href={`#/jobs/${encodeURIComponent(w.message)}`}>{w.message}</a> : w.message) : (w.stage ?? "—")}</td>
                  <td>{w.parent ?? ""}</td>
                  <td>{w.source}</td>
                  <td class="muted">{ago(w.last_seen, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
