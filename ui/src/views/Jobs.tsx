// The live jobs table: virtualised (only the visible rows exist in the DOM), fed by
// the store's per-frame change sets, filters in the URL, keyboard navigation.
import { Component } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { EntityState } from "../api/types";
import type { Live } from "../app/live";
import { navigate, replaceParams, route } from "../app/router";
import { ago, clock, count, duration } from "../app/format";
import { JOB_STATUSES } from "../api/types";
import { filterFromParams, filterToParams, JobList, type JobFilter } from "../store/jobList";
import { durationMs } from "../store/reduce";
import { Empty, Progress, StatusBadge } from "../components/ui";

const ROW = 34;
const OVERSCAN = 8;
/** How often a running job's duration is redrawn while events keep the table busy. */
const DURATION_STEP = 250;

interface JobRowProps {
  s: EntityState;
  /** The job's last seq and event count: its state object is updated in place, so
   * these tell a changed job from an unchanged one. */
  seq: number;
  events: number;
  selected: boolean;
  /** The clock for a running job's duration; 0 for jobs whose duration is fixed. */
  now: number;
}

/** One row; re-renders only when its job, selection or (running) clock changed. */
export class JobRow extends Component<JobRowProps> {
  override shouldComponentUpdate(n: JobRowProps): boolean {
    const p = this.props;
    return n.s !== p.s || n.seq !== p.seq || n.events !== p.events || n.selected !== p.selected || n.now !== p.now;
  }

  override render() {
    const { s, selected, now } = this.props;
    const failed = s.status === "failed";
    return (
      <div
        role="row"
        aria-selected={selected}
        data-job={s.entity}
        data-status={s.status}
        class={`jrow${failed ? " failed" : ""}${selected ? " selected" : ""}`}
      >
        <span role="cell" class="c-id">
          <a href={`#/jobs/${encodeURIComponent(s.entity)}`} tabIndex={-1}>{s.entity}</a>
        </span>
        <span role="cell" class="c-status"><StatusBadge status={s.status} /></span>
        <span role="cell" class="c-progress"><Progress value={s.progress} status={s.status} /></span>
        <span role="cell" class="c-stage">{s.stage ?? ""}</span>
        <span role="cell" class={`c-message${s.error ? " error-text" : ""}`} title={s.error ?? s.message ?? ""}>{s.error ?? s.message ?? ""}</span>
        <span role="cell" class="c-source">{s.source}</span>
        <span role="cell" class="c-queue">{s.parent ?? ""}</span>
        <span role="cell" class="c-started" title={s.started_at ? new Date(s.started_at).toISOString() : ""}>{clock(s.started_at ?? s.first_seen)}</span>
        <span role="cell" class="c-duration">{duration(durationMs(s, now))}</span>
      </div>
    );
  }
}

export function Jobs({ live }: { live: Live }) {
  const params = route.value.params;
  const filter = useMemo(() => filterFromParams(params), [params.toString()]);
  const list = useMemo(() => new JobList(live.store, filter), [live]);
  const [, setTick] = useState(0);
  const [selected, setSelected] = useState<string | null>(params.get("sel"));
  const scroller = useRef<HTMLDivElement>(null);
  const [viewport, setViewport] = useState({ top: 0, height: 600 });
  const anchor = useRef<{ entity: string; offset: number } | null>(null);

  // Filter changes rebuild the list once (the list was built with the first filter:
  // rebuilding it again when the view opens would scan the whole board twice).
  useEffect(() => {
    if (list.currentFilter === filter) return;
    list.setFilter(filter);
    setTick((t) => t + 1);
  }, [filter, list]);

  // Each frame's changes are folded in incrementally. Changes made after the list was
  // built and before this effect runs were not seen: the list rebuilds once for them.
  useEffect(() => {
    if (list.stale) {
      list.rebuild();
      setTick((t) => t + 1);
    }
    return live.store.subscribe((c) => {
      const el = scroller.current;
      // Keep the rows the operator is looking at in place while new jobs arrive on top.
      if (el && el.scrollTop > 0) {
        const first = Math.floor(el.scrollTop / ROW);
        const e = list.at(first);
        anchor.current = e ? { entity: e.state.entity, offset: el.scrollTop - first * ROW } : null;
      } else anchor.current = null;
      if (list.apply(c) || c.jobs.size > 0) setTick((t) => t + 1);
    });
  }, [live, list]);

  // Durations of running jobs tick.
  useEffect(() => {
    const t = setInterval(() => setTick((x) => x + 1), 1_000);
    return () => clearInterval(t);
  }, []);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const a = anchor.current;
    if (a) {
      const i = list.indexOf(a.entity);
      if (i >= 0) {
        const want = i * ROW + a.offset;
        if (Math.abs(el.scrollTop - want) > 1) el.scrollTop = want;
      }
      anchor.current = null;
    }
  });

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const setFilter = (f: JobFilter) => {
    const p = filterToParams(f);
    replaceParams(p);
  };

  const total = list.length;
  const first = Math.max(0, Math.floor(viewport.top / ROW) - OVERSCAN);
  const last = Math.min(total, Math.ceil((viewport.top + viewport.height) / ROW) + OVERSCAN);
  const now = Date.now();
  // Running jobs' durations move with the clock: their rows re-render at most every
  // DURATION_STEP ms; other rows only when their job changed (see JobRow).
  const rowNow = now - (now % DURATION_STEP);
  const rows = [];
  for (let i = first; i < last; i++) {
    const e = list.at(i);
    if (!e) continue;
    const s = e.state;
    const ticking = s.started_at !== undefined && s.finished_at === undefined;
    rows.push(<JobRow key={s.entity} s={s} seq={s.last_seq} events={s.events} selected={selected === s.entity} now={ticking ? rowNow : 0} />);
  }
  // One handler for every row (event delegation): no closures per row and frame.
  const rowOf = (ev: MouseEvent): string | null => {
    const t = ev.target instanceof Element ? ev.target.closest<HTMLElement>("[data-job]") : null;
    return t?.dataset.job ?? null;
  };

  const moveTo = (i: number) => {
    const n = list.length;
    if (n === 0) return;
    const idx = Math.max(0, Math.min(n - 1, i));
    const e = list.at(idx);
    if (!e) return;
    setSelected(e.state.entity);
    const el = scroller.current;
    if (el) {
      if (idx * ROW < el.scrollTop) el.scrollTop = idx * ROW;
      else if ((idx + 1) * ROW > el.scrollTop + el.clientHeight) el.scrollTop = (idx + 1) * ROW - el.clientHeight;
    }
  };
  const onKey = (ev: KeyboardEvent) => {
    const cur = selected === null ? -1 : list.indexOf(selected);
    const page = Math.max(1, Math.floor(viewport.height / ROW) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => moveTo(cur + 1),
      j: () => moveTo(cur + 1),
      ArrowUp: () => moveTo(cur - 1),
      k: () => moveTo(cur - 1),
      PageDown: () => moveTo(cur + page),
      PageUp: () => moveTo(cur - page),
      Home: () => moveTo(0),
      End: () => moveTo(list.length - 1),
      Enter: () => {
        if (selected !== null) navigate(["jobs", selected]);
      },
    };
    const f = keys[ev.key];
    if (f) {
      ev.preventDefault();
      f();
    }
  };

  const sources = [...new Set([...live.sources.value.map((s) => s.name), ...live.store.rates.keys()])].sort();
  const queues = [...live.store.queues.keys()].sort();
  const failedCount = live.store.statusCounts.get("failed") ?? 0;

  return (
    <section class="view view-jobs">
      <header class="view-head">
        <h2>Jobs</h2>
        <span class="muted" data-testid="job-count">
          {count(total)} shown · {count(live.store.jobCount)} on the board · {count(failedCount)} failed
        </span>
      </header>
      <FilterBar filter={filter} setFilter={setFilter} sources={sources} queues={queues} sourcesKey={sources.join("\n")} queuesKey={queues.join("\n")} />
      {total === 0 ? (
        live.store.jobCount === 0 ? (
          <Empty title="No jobs yet">
            <p>Jobs appear here as soon as a source reports one. Check the <a href="#/sources">Sources</a> view: is a source live?</p>
          </Empty>
        ) : (
          <Empty title="No job matches these filters">
            <p>
              <button type="button" onClick={() => replaceParams({})}>Clear filters</button>
            </p>
          </Empty>
        )
      ) : null}
      <div class="jtable" role="table" aria-label="jobs" aria-rowcount={total}>
        <div class="jrow jhead" role="row">
          <span role="columnheader">Job</span>
          <span role="columnheader">Status</span>
          <span role="columnheader">Progress</span>
          <span role="columnheader">Stage</span>
          <span role="columnheader">Message / error</span>
          <span role="columnheader">Source</span>
          <span role="columnheader">Queue / parent</span>
          <span role="columnheader">Started</span>
          <span role="columnheader">Duration</span>
        </div>
        <div
          class="jbody"
          ref={scroller}
          tabIndex={0}
          onKeyDown={onKey}
          onScroll={(e) => {
            const el = e.currentTarget;
            setViewport({ top: el.scrollTop, height: el.clientHeight });
          }}
          data-testid="jobs-body"
        >
          {/* The spacer gives the scroll height; the rows sit in one window moved to the
              first visible row, in normal flow. A new job on top or a change of the total
              then touches the spacer and a row or two, never every row's layout. */}
          <div class="jspacer" style={{ height: `${total * ROW}px` }} />
          <div
            class="jwindow"
            style={{ transform: `translateY(${first * ROW}px)` }}
            onClick={(ev) => {
              const id = rowOf(ev);
              if (id !== null) setSelected(id);
            }}
            onDblClick={(ev) => {
              const id = rowOf(ev);
              if (id !== null) navigate(["jobs", id]);
            }}
          >
            {rows}
          </div>
        </div>
      </div>
      <p class="hint muted">
        ↑/↓ or j/k move · PgUp/PgDn · Home/End · Enter opens the job · newest first · last update {ago(lastSeen(live), now)}
      </p>
    </section>
  );
}

function lastSeen(live: Live): number | undefined {
  let m: number | undefined;
  for (const v of live.store.lastEventAt.values()) m = Math.max(m ?? 0, v);
  return m;
}

interface FilterBarProps {
  filter: JobFilter;
  setFilter: (f: JobFilter) => void;
  sources: string[];
  queues: string[];
  /** The lists joined: the bar re-renders only when the filter or a list changed. */
  sourcesKey: string;
  queuesKey: string;
}

class FilterBar extends Component<FilterBarProps> {
  override shouldComponentUpdate(n: FilterBarProps): boolean {
    const p = this.props;
    return n.filter !== p.filter || n.sourcesKey !== p.sourcesKey || n.queuesKey !== p.queuesKey;
  }

  override render() {
    return <FilterBarInner {...this.props} />;
  }
}

function FilterBarInner({ filter, setFilter, sources, queues }: FilterBarProps) {
  const [text, setText] = useState(filter.text);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => setText(filter.text), [filter.text]);
  const toggle = (s: string) => {
    const has = filter.statuses.includes(s);
    setFilter({ ...filter, statuses: has ? filter.statuses.filter((x) => x !== s) : [...filter.statuses, s] });
  };
  return (
    <div class="filters" role="search">
      <input
        type="search"
        placeholder="Filter by id, message, error, stage  ( / )"
        aria-label="text filter"
        value={text}
        data-testid="jobs-text"
        onInput={(e) => {
          const v = e.currentTarget.value;
          setText(v);
          if (timer.current) clearTimeout(timer.current);
          timer.current = setTimeout(() => setFilter({ ...filter, text: v }), 150);
        }}
      />
      <div class="chips" aria-label="status filter">
        {JOB_STATUSES.map((s) => (
          <button type="button" key={s} class={`chip${filter.statuses.includes(s) ? " on" : ""} tone-${s === "failed" ? "bad" : "plain"}`} aria-pressed={filter.statuses.includes(s)} onClick={() => toggle(s)}>
            {s}
          </button>
        ))}
      </div>
      <select aria-label="source" value={filter.source} onChange={(e) => setFilter({ ...filter, source: e.currentTarget.value })}>
        <option value="">all sources</option>
        {sources.map((s) => (
          <option key={s} value={s}>{s}</option>
        ))}
      </select>
      <input list="queue-names" aria-label="queue" placeholder="queue / parent" value={filter.queue} onChange={(e) => setFilter({ ...filter, queue: e.currentTarget.value.trim() })} />
      <datalist id="queue-names">
        {queues.map((q) => (
          <option key={q} value={q} />
        ))}
      </datalist>
    </div>
  );
}
