// Sources: health, and add / edit / test / enable / disable / delete.
// Secrets are entered as an environment-variable reference or handed to the relay for
// the OS keychain; the relay never sends a secret back, and this form never shows one.
import { useState } from "preact/hooks";
import type { Live } from "../app/live";
import { ApiError } from "../api/client";
import { parse } from "../api/guards";
import type { SecretInput, SecretView, SourceInput, SourceRow, SourceTestResult } from "../api/types";
import { ago, count, duration, prettyRaw } from "../app/format";
import { Callout, Empty, StatusBadge } from "../components/ui";

const URL_HELP = [
  "https://api.example.com/events?token=${API_TOKEN}   (SSE)",
  "redis://:${REDIS_PASSWORD}@localhost:6379/0?channel=jobs&pattern=job:*   (pub/sub)",
  "bullmq://localhost:6379/0?queue=emails   (BullMQ)",
];

export function missingMessage(e: ApiError, what: string, section = "[[sources]]"): string {
  return `${what} is not possible from this window: ${e.message}. Until the relay supports it, edit ${section} in telltale.toml and restart Telltale.`;
}

export function Sources({ live }: { live: Live }) {
  const [editing, setEditing] = useState<SourceRow | "new" | null>(null);
  const [msg, setMsg] = useState<{ kind: "info" | "error" | "warn"; text: string } | null>(null);
  const now = Date.now();
  const sources = live.sources.value;

  const act = async (label: string, f: () => Promise<unknown>) => {
    setMsg(null);
    try {
      await f();
      setMsg({ kind: "info", text: `${label}: done.` });
      await live.pollSources();
    } catch (e) {
      if (e instanceof ApiError && e.missingEndpoint) setMsg({ kind: "warn", text: missingMessage(e, label) });
      else setMsg({ kind: "error", text: `${label} failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  };
  const path = (name: string) => `/api/sources/${encodeURIComponent(name)}`;

  return (
    <section class="view view-sources">
      <header class="view-head">
        <h2>Sources</h2>
        <button type="button" class="primary" onClick={() => setEditing("new")} data-testid="add-source">Add source</button>
      </header>
      {msg ? <Callout kind={msg.kind}>{msg.text}</Callout> : null}
      {editing !== null ? (
        <SourceForm
          live={live}
          initial={editing === "new" ? null : editing}
          onDone={(text) => {
            setEditing(null);
            if (text) setMsg({ kind: "info", text });
            void live.pollSources();
          }}
        />
      ) : null}
      {sources.length === 0 ? (
        <Empty title="No sources configured">
          <p>
            Add an SSE endpoint, a Redis pub/sub URL or BullMQ queues with <strong>Add source</strong>, or start Telltale with one:{" "}
            <code>telltale serve --source 'redis://127.0.0.1:6379/0?pattern=*'</code>.
          </p>
        </Empty>
      ) : (
        <table class="table">
          <thead>
            <tr><th>Name</th><th>Health</th><th>URL</th><th>Last event</th><th class="num">Events</th><th>Actions</th></tr>
          </thead>
          <tbody>
            {sources.map((s) => (
              <tr key={s.name} data-source={s.name}>
                <td><strong>{s.name}</strong></td>
                <td>
                  <StatusBadge status={s.health} />
                  {s.reason ? <div class={s.health === "stopped" ? "error-text small" : "muted small"}>{s.reason}</div> : null}
                  {s.health === "reconnecting" && s.next_attempt_at !== undefined ? (
                    <div class="muted small">next attempt {s.next_attempt_at > now ? `in ${duration(s.next_attempt_at - now)}` : "now"}</div>
                  ) : null}
                </td>
                <td class="mono small">{s.config?.url ?? <span class="muted">(configuration not reported by this relay)</span>}</td>
                <td class="muted">{ago(s.last_event_at, now)}</td>
                <td class="num">{count(s.events)}</td>
                <td class="actions">
                  <button type="button" onClick={() => setEditing(s)}>Edit</button>
                  <button type="button" onClick={() => void act(`Testing ${s.name}`, () => live.client.send("POST", "/api/sources/test", toInput(s), parse.sourceTestResult))}>Test</button>
                  {s.health === "disabled" || s.config?.enabled === false ? (
                    <button type="button" onClick={() => void act(`Enabling ${s.name}`, () => live.client.send("PUT", path(s.name), { ...toInput(s), enabled: true }, () => null))}>Enable</button>
                  ) : (
                    <button type="button" onClick={() => void act(`Disabling ${s.name}`, () => live.client.send("PUT", path(s.name), { ...toInput(s), enabled: false }, () => null))}>Disable</button>
                  )}
                  <button
                    type="button"
                    class="danger"
                    onClick={() => {
                      if (confirm(`Delete the source “${s.name}”? Its stored history is kept.`)) void act(`Deleting ${s.name}`, () => live.client.send("DELETE", path(s.name), undefined, () => null));
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** An existing source as an input that keeps every secret as configured. */
function toInput(s: SourceRow): SourceInput {
  const c = s.config;
  const keep = (v: SecretView | undefined): SecretInput | undefined => (v === undefined ? undefined : { keep: true });
  const input: SourceInput = {
    name: s.name,
    url: c?.url ?? "",
    enabled: c?.enabled ?? s.health !== "disabled",
    headers: Object.fromEntries(Object.keys(c?.headers ?? {}).map((k) => [k, { keep: true }])),
  };
  const bearer = keep(c?.bearer);
  if (bearer) input.bearer = bearer;
  const token = keep(c?.token);
  if (token) input.token = token;
  return input;
}

type SecretMode = "none" | "keep" | "env" | "keychain";
interface SecretDraft {
  mode: SecretMode;
  env: string;
  keyName: string;
  value: string;
}

function draftFrom(v: SecretView | undefined): SecretDraft {
  return { mode: v === undefined ? "none" : "keep", env: "", keyName: "", value: "" };
}

function secretInput(d: SecretDraft): SecretInput | undefined | "invalid" {
  switch (d.mode) {
    case "none":
      return undefined;
    case "keep":
      return { keep: true };
    case "env":
      return /^[A-Za-z_][A-Za-z0-9_]*$/.test(d.env) ? { env: d.env } : "invalid";
    case "keychain":
      return d.value !== "" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(d.keyName) ? { keychain: { name: d.keyName, value: d.value } } : "invalid";
  }
}

function describe(v: SecretView | undefined): string {
  if (v === undefined) return "not set";
  return "ref" in v ? `set, from ${v.ref}` : "set as a literal in the config file (move it to ${ENV} or the keychain)";
}

function SecretField({ label, current, draft, onChange, canKeep }: { label: string; current: SecretView | undefined; draft: SecretDraft; onChange: (d: SecretDraft) => void; canKeep: boolean }) {
  return (
    <fieldset class="secret">
      <legend>{label}</legend>
      {canKeep ? <p class="muted small">Currently {describe(current)}. The value is never shown.</p> : null}
      <select aria-label={`${label} mode`} value={draft.mode} onChange={(e) => onChange({ ...draft, mode: e.currentTarget.value as SecretMode })}>
        <option value="none">none</option>
        {canKeep ? <option value="keep">keep as configured</option> : null}
        <option value="env">from an environment variable</option>
        <option value="keychain">store in the OS keychain</option>
      </select>
      {draft.mode === "env" ? (
        <label>
          Variable name <input value={draft.env} placeholder="API_TOKEN" onInput={(e) => onChange({ ...draft, env: e.currentTarget.value.trim() })} />
          <span class="muted small"> saved as {"${"}{draft.env || "NAME"}{"}"}</span>
        </label>
      ) : null}
      {draft.mode === "keychain" ? (
        <>
          <label>
            Keychain entry <input value={draft.keyName} placeholder="MY_API_TOKEN" onInput={(e) => onChange({ ...draft, keyName: e.currentTarget.value.trim() })} />
          </label>
          <label>
            Secret <input type="password" autocomplete="new-password" value={draft.value} onInput={(e) => onChange({ ...draft, value: e.currentTarget.value })} />
          </label>
        </>
      ) : null}
    </fieldset>
  );
}

function SourceForm({ live, initial, onDone }: { live: Live; initial: SourceRow | null; onDone: (msg?: string) => void }) {
  const c = initial?.config;
  const [name, setName] = useState(initial?.name ?? "");
  const [url, setUrl] = useState(c?.url ?? "");
  const [enabled, setEnabled] = useState(c?.enabled ?? true);
  const [bearer, setBearer] = useState(draftFrom(c?.bearer));
  const [token, setToken] = useState(draftFrom(c?.token));
  const [headers, setHeaders] = useState<{ name: string; secret: SecretDraft; current?: SecretView }[]>(
    Object.entries(c?.headers ?? {}).map(([n, v]) => ({ name: n, secret: draftFrom(v), current: v })),
  );
  const [problem, setProblem] = useState<{ kind: "error" | "warn"; text: string } | null>(null);
  const [test, setTest] = useState<SourceTestResult | null>(null);
  const [busy, setBusy] = useState(false);

  const build = (): SourceInput | string => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return "Name: letters, digits, '.', '_' or '-', starting with a letter or digit.";
    if (!/^(https?|rediss?|bullmqs?):\/\//.test(url)) return "URL: must start with http(s)://, redis(s):// or bullmq(s)://.";
    const input: SourceInput = { name, url, enabled, headers: {} };
    for (const h of headers) {
      if (h.name.trim() === "") continue;
      const s = secretInput(h.secret);
      if (s === "invalid") return `Header ${h.name}: give a variable name, or a keychain entry name and the secret.`;
      if (s) input.headers[h.name.trim()] = s;
    }
    const b = secretInput(bearer);
    if (b === "invalid") return "Bearer token: give a variable name, or a keychain entry name and the secret.";
    if (b) input.bearer = b;
    const t = secretInput(token);
    if (t === "invalid") return "?token=: give a variable name, or a keychain entry name and the secret.";
    if (t) input.token = t;
    return input;
  };

  const run = async (what: "save" | "test") => {
    const input = build();
    if (typeof input === "string") {
      setProblem({ kind: "error", text: input });
      return;
    }
    setProblem(null);
    setBusy(true);
    try {
      if (what === "test") {
        setTest(null);
        setTest(await live.client.send("POST", "/api/sources/test", input, parse.sourceTestResult));
      } else if (initial) {
        await live.client.send("PUT", `/api/sources/${encodeURIComponent(initial.name)}`, input, () => null);
        onDone(`Saved ${name}.`);
      } else {
        await live.client.send("POST", "/api/sources", input, () => null);
        onDone(`Added ${name}.`);
      }
    } catch (e) {
      if (e instanceof ApiError && e.missingEndpoint) setProblem({ kind: "warn", text: missingMessage(e, what === "test" ? "Testing a source" : "Saving a source") });
      else setProblem({ kind: "error", text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card source-form" onSubmit={(e) => { e.preventDefault(); void run("save"); }}>
      <h3>{initial ? `Edit ${initial.name}` : "Add a source"}</h3>
      <label>
        Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="payments-api" required />
      </label>
      <label class="wide">
        URL <input value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://api.example.com/events" required />
      </label>
      <details class="small muted">
        <summary>URL forms</summary>
        <ul>{URL_HELP.map((u) => <li key={u} class="mono">{u}</li>)}</ul>
        <p>Passwords and ?token= values in the URL may be written as {"${ENV_VAR}"} references.</p>
      </details>
      <label class="inline">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> enabled
      </label>
      <SecretField label="Bearer token (SSE)" current={c?.bearer} draft={bearer} onChange={setBearer} canKeep={c?.bearer !== undefined} />
      <SecretField label="?token= query value (SSE)" current={c?.token} draft={token} onChange={setToken} canKeep={c?.token !== undefined} />
      <fieldset>
        <legend>Headers (SSE)</legend>
        {headers.map((h, i) => (
          <div key={i} class="header-row">
            <input aria-label="header name" value={h.name} placeholder="X-Api-Key" onInput={(e) => setHeaders(headers.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)))} />
            <SecretField label="value" current={h.current} draft={h.secret} canKeep={h.current !== undefined} onChange={(d) => setHeaders(headers.map((x, j) => (j === i ? { ...x, secret: d } : x)))} />
            <button type="button" onClick={() => setHeaders(headers.filter((_, j) => j !== i))}>Remove</button>
          </div>
        ))}
        <button type="button" onClick={() => setHeaders([...headers, { name: "", secret: { mode: "env", env: "", keyName: "", value: "" } }])}>Add header</button>
      </fieldset>
      {problem ? <Callout kind={problem.kind}>{problem.text}</Callout> : null}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={busy}>Save</button>
        <button type="button" disabled={busy} onClick={() => void run("test")}>Test (connect once)</button>
        <button type="button" onClick={() => onDone()}>Cancel</button>
      </div>
      {test ? (
        <div class="test-result">
          {test.ok ? (
            <Callout kind="info">Connected in {duration(test.elapsed_ms)}; {test.events.length} event(s) arrived.</Callout>
          ) : (
            <Callout kind="error">Failed after {duration(test.elapsed_ms)}: {test.error?.message ?? "unknown error"} {test.error ? `(${test.error.code})` : ""}</Callout>
          )}
          {test.events.slice(0, 20).map((e, i) => (
            <details key={i}>
              <summary>{e.kind} {e.entity} <StatusBadge status={e.status} /> {e.message ?? ""}</summary>
              <pre>{prettyRaw(e.raw)}</pre>
            </details>
          ))}
        </div>
      ) : null}
    </form>
  );
}
