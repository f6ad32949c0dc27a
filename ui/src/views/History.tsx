// History: search over stored events (works with every source stopped), time window,
// filters, export through the relay.
import { useEffect, useState } from "preact/hooks";
import type { Live } from "../app/live";
import { ApiError, type Params } from "../api/client";
import { parse } from "../api/guards";
import { ENTITY_KINDS, KNOWN_STATUSES, type HistoryResponse } from "../api/types";
import { count, dateTime } from "../app/format";
import { replaceParams, route } from "../app/router";
import { Callout, Empty, StatusBadge } from "../components/ui";

const WINDOWS: [string, string][] = [
  ["15m", "last 15 minutes"],
  ["1h", "last hour"],
  ["24h", "last 24 hours"],
  ["7d", "last 7 days"],
  ["30d", "last 30 days"],
  ["all", "all time"],
  ["custom", "custom…"],
];
const FIELDS = ["q", "window", "from", "until", "source", "kind", "status", "entity", "limit"] as const;
type Form = Record<(typeof FIELDS)[number], string>;

function formFromParams(p: URLSearchParams): Form {
  const f = Object.fromEntries(FIELDS.map((k) => [k, p.get(k) ?? ""])) as Form;
  if (f.window === "") f.window = "24h";
  if (f.limit === "") f.limit = "100";
  return f;
}

/** The relay's query for a form: `from` as a duration ago or epoch ms. */
export function relayParams(f: Form): Params {
  const p: Params = { q: f.q, source: f.source, kind: f.kind, status: f.status, entity: f.entity };
  if (f.window === "custom") {
    if (f.from) p.from = new Date(f.from).getTime();
    if (f.until) p.until = new Date(f.until).getTime();
  } else if (f.window !== "all") {
    p.from = f.window;
  }
  return p;
}

export function History({ live }: { live: Live }) {
  const form = formFromParams(route.value.params);
  const [draft, setDraft] = useState<Form>(form);
  const [result, setResult] = useState<HistoryResponse | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [exportMsg, setExportMsg] = useState<string | null>(null);
  const key = route.value.params.toString();

  useEffect(() => {
    let stop = false;
    setBusy(true);
    live.client
      .get("/api/history", parse.history, { ...relayParams(form), limit: form.limit })
      .then((r) => {
        if (!stop) {
          setResult(r);
          setError(null);
        }
      })
      .catch((e: unknown) => {
        if (!stop) setError(e instanceof Error ? e.message : String(e));
      })
      .finally(() => {
        if (!stop) setBusy(false);
      });
    return () => {
      stop = true;
    };
  }, [key, live]);

  const submit = (e: Event) => {
    e.preventDefault();
    const p: Record<string, string> = {};
    for (const k of FIELDS) if (draft[k] !== "") p[k] = draft[k];
    replaceParams(p);
  };
  const set = (k: keyof Form) => (e: Event) => setDraft({ ...draft, [k]: (e.currentTarget as HTMLInputElement).value });

  const doExport = async (format: "csv" | "json") => {
    setExportMsg(`Exporting ${format.toUpperCase()}…`);
    try {
      const { blob, filename } = await live.client.download("/api/export", { ...relayParams(form), format });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = filename;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setExportMsg(`Saved ${filename} (${count(blob.size)} bytes).`);
    } catch (err) {
      setExportMsg(err instanceof ApiError ? `Export failed: ${err.message}` : `Export failed: ${String(err)}`);
    }
  };

  return (
    <section class="view view-history">
      <form class="history-form" onSubmit={submit} role="search">
        <input type="search" placeholder="Search text in ids, messages, errors, payloads" aria-label="search text" value={draft.q} onInput={set("q")} data-testid="history-q" />
        <select aria-label="time window" value={draft.window} onChange={set("window")}>
          {WINDOWS.map(([v, l]) => (
            <option key={v} value={v}>{l}</option>
          ))}
        </select>
        {draft.window === "custom" ? (
          <>
            <input type="datetime-local" aria-label="from" value={draft.from} onInput={set("from")} />
            <input type="datetime-local" aria-label="until" value={draft.until} onInput={set("until")} />
          </>
        ) : null}
        <input aria-label="source" placeholder="source" value={draft.source} onInput={set("source")} list="history-sources" />
        <datalist id="history-sources">
          {live.sources.value.map((s) => (
            <option key={s.name} value={s.name} />
          ))}
        </datalist>
        <select aria-label="kind" value={draft.kind} onChange={set("kind")}>
          <option value="">any kind</option>
          {ENTITY_KINDS.map((k) => (
            <option key={k} value={k}>{k}</option>
          ))}
        </select>
        <input aria-label="status" placeholder="status" list="history-statuses" value={draft.status} onInput={set("status")} />
        <datalist id="history-statuses">
          {KNOWN_STATUSES.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <input aria-label="entity" placeholder="job / entity id" value={draft.entity} onInput={set("entity")} />
        <select aria-label="limit" value={draft.limit} onChange={set("limit")}>
          {["100", "500", "1000"].map((l) => (
            <option key={l} value={l}>{l} rows</option>
          ))}
        </select>
        <button type="submit" class="primary" data-testid="history-search">Search</button>
      </form>
      <div class="export-bar">
        <button type="button" onClick={() => void doExport("csv")} data-testid="export-csv">Export CSV</button>
        <button type="button" onClick={() => void doExport("json")} data-testid="export-json">Export JSON</button>
        <span class="muted">
          Exports the search, time window and filters above, in full (not only the rows shown).
        </span>
        {exportMsg ? <span data-testid="export-msg">{exportMsg}</span> : null}
      </div>
      {error ? <Callout kind="error">Search failed: {error}</Callout> : null}
      {result === null ? (
        <p class="muted">{busy ? "Searching…" : ""}</p>
      ) : result.items.length === 0 ? (
        <Empty title="Nothing found">
          <p>No stored event matches. Widen the time window, clear a filter, or check the spelling; search matches whole words in ids, messages, errors and payloads.</p>
        </Empty>
      ) : (
        <>
          <p class="muted" data-testid="history-count">
            {count(result.items.length)} events, newest first{result.truncated ? ` — more matched; narrow the search or raise the limit` : ""}
          </p>
          <table class="table history-table" data-testid="history-table">
            <thead>
              <tr><th>Time</th><th class="num">Seq</th><th>Source</th><th>Kind</th><th>Entity</th><th>Status</th><th>Message / error</th></tr>
            </thead>
            <tbody>
              {result.items.map((e) => (
                <tr key={e.seq} class={e.status === "failed" ? "failed" : ""} data-seq={e.seq}>
                  <td class="mono">{dateTime(e.received_at)}</td>
                  <td class="num mono">{e.seq}</td>
                  <td>{e.source}</td>
                  <td>{e.kind}</td>
                  <td>{e.kind === "job" ? <a href={`#/jobs/${encodeURIComponent(e.entity)}`}>{e.entity}</a> : e.entity}</td>
                  <td><StatusBadge status={e.status} /></td>
                  <td class={e.error ? "error-text" : ""}>{e.error ?? e.message ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
