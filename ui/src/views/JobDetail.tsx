// One job: its state, its whole timeline across sources (raw payloads pretty-printed),
// progress over time, and the gaps the history knows of around it.
import { useEffect, useState } from "preact/hooks";
import type { Live } from "../app/live";
import { ApiError } from "../api/client";
import { parse } from "../api/guards";
import type { TelltaleEvent, Timeline } from "../api/types";
import { clock, count, dateTime, duration, prettyRaw } from "../app/format";
import { Callout, Empty, LineChart, Progress, StatusBadge } from "../components/ui";
import { durationMs } from "../store/reduce";

export function JobDetail({ live, id }: { live: Live; id: string }) {
  const [data, setData] = useState<Timeline | null>(null);
  const [gaps, setGaps] = useState<TelltaleEvent[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [liveEvents, setLiveEvents] = useState<TelltaleEvent[]>([]);
  const [openAll, setOpenAll] = useState(false);

  useEffect(() => {
    const req = { cancelled: false };
    const live_ = () => !req.cancelled;
    setData(null);
    setError(null);
    setLiveEvents([]);
    live.client
      .get(`/api/jobs/${encodeURIComponent(id)}/timeline`, parse.timeline, { limit: 10_000 })
      .then(async (t) => {
        if (req.cancelled) return;
        setData(t);
        const times = t.events.map((e) => e.received_at);
        if (times.length > 0) {
          const from = Math.min(...times) - 60_000;
          const until = Math.max(...times) + 60_000;
          const g = await live.client.get("/api/history", parse.history, { kind: "source", status: "gap", from, until, limit: 100 });
          if (live_()) setGaps(g.items);
        }
      })
      .catch((e: unknown) => {
        if (req.cancelled) return;
        setError(e instanceof ApiError && e.code === "job_not_found" ? "not_found" : e instanceof Error ? e.message : String(e));
      });
    return () => {
      req.cancelled = true;
    };
  }, [id, live]);

  // Events for this job that arrive while the page is open.
  useEffect(() => {
    return live.store.subscribe((c) => {
      const mine = c.events.filter((e) => e.kind === "job" && e.entity === id);
      if (mine.length > 0) setLiveEvents((prev) => [...prev, ...mine]);
    });
  }, [id, live]);

  if (error === "not_found") {
    return (
      <section class="view">
        <Empty title={`No job “${id}”`}>
          <p>The history has no events for this id. It may have been removed by retention, or the id is mistyped. <a href="#/jobs">Back to jobs</a></p>
        </Empty>
      </section>
    );
  }
  if (error !== null) return <section class="view"><Callout kind="error">Could not load the timeline: {error}</Callout></section>;
  if (data === null) return <section class="view"><p class="muted">Loading the timeline of {id}…</p></section>;

  // Stored timeline plus live arrivals, by seq, without duplicates.
  const bySeq = new Map<number, TelltaleEvent>();
  for (const e of data.events) bySeq.set(e.seq, e);
  for (const e of liveEvents) bySeq.set(e.seq, e);
  for (const g of gaps) bySeq.set(g.seq, g);
  const events = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const jobEvents = events.filter((e) => e.kind === "job");
  const state = live.store.jobs.get(id)?.state ?? data.state;
  const now = Date.now();
  const progress: [number, number][] = jobEvents.filter((e) => e.progress !== undefined).map((e) => [e.occurred_at ?? e.received_at, e.progress ?? 0]);
  const sources = [...new Set(jobEvents.map((e) => e.source))];

  return (
    <section class="view view-job">
      <header class="view-head">
        <h2>
          <a href="#/jobs" class="muted">Jobs</a> / <span data-testid="job-id">{id}</span>
        </h2>
        {state ? <StatusBadge status={state.status} /> : null}
      </header>
      {state ? (
        <dl class={`facts${state.status === "failed" ? " failed" : ""}`}>
          <div><dt>Status</dt><dd data-testid="job-status">{state.status}</dd></div>
          <div><dt>Progress</dt><dd><Progress value={state.progress} status={state.status} /></dd></div>
          <div><dt>Stage</dt><dd>{state.stage ?? "—"}</dd></div>
          <div><dt>Queue / parent</dt><dd>{state.parent ?? "—"}</dd></div>
          <div><dt>Sources</dt><dd>{sources.join(", ") || state.source}</dd></div>
          <div><dt>First seen</dt><dd>{dateTime(state.first_seen)}</dd></div>
          <div><dt>Started</dt><dd>{dateTime(state.started_at) || "—"}</dd></div>
          <div><dt>Duration</dt><dd>{duration(durationMs(state, now)) || "—"}</dd></div>
          <div><dt>Events</dt><dd>{count(jobEvents.length)}</dd></div>
          {state.error ? <div class="wide"><dt>Error</dt><dd class="error-text">{state.error}</dd></div> : null}
          {state.message ? <div class="wide"><dt>Message</dt><dd>{state.message}</dd></div> : null}
        </dl>
      ) : null}
      {data.truncated ? <Callout kind="warn">This job has more than {count(data.events.length)} events; the oldest are shown.</Callout> : null}

      <div class="card">
        <h3>Progress over time</h3>
        <LineChart points={progress} label={`progress of ${id} over time`} />
      </div>

      <div class="card">
        <div class="card-head">
          <h3>Timeline</h3>
          <button type="button" onClick={() => setOpenAll(!openAll)}>{openAll ? "Collapse payloads" : "Expand payloads"}</button>
        </div>
        <ol class="timeline" data-testid="timeline">
          {events.map((e) =>
            e.kind === "source" ? (
              <li key={e.seq} class="tl-gap" data-seq={e.seq}>
                <span class="tl-time">{clock(e.received_at)}</span>
                <span class="warn-text">gap in {e.source}: {e.message ?? "history may be incomplete here"}</span>
              </li>
            ) : (
              <li key={e.seq} class={`tl-event${e.status === "failed" ? " failed" : ""}`} data-seq={e.seq} data-testid="timeline-event">
                <span class="tl-time" title={dateTime(e.occurred_at ?? e.received_at)}>{clock(e.occurred_at ?? e.received_at)}</span>
                <StatusBadge status={e.status} />
                <span class="tl-source muted">{e.source}{e.channel ? ` · ${e.channel}` : ""}</span>
                {e.progress !== undefined ? <span>{e.progress}%</span> : null}
                {e.stage ? <span class="muted">{e.stage}</span> : null}
                {e.message ? <span>{e.message}</span> : null}
                {e.error ? <span class="error-text">{e.error}</span> : null}
                <details open={openAll} class="tl-raw">
                  <summary>raw · seq {e.seq}{e.remote_id ? ` · id ${e.remote_id}` : ""}</summary>
                  <pre>{prettyRaw(e.raw)}</pre>
                </details>
              </li>
            ),
          )}
        </ol>
        {gaps.length === 0 ? <p class="muted">The history knows of no gaps around this job.</p> : null}
      </div>
    </section>
  );
}
