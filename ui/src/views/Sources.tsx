// Sources: health, and add / edit / test / enable / disable / delete.
// Secrets are entered as an environment-variable reference or handed to the relay for
// the OS keychain; the relay never sends a secret back, and this form never shows one.
import { useState } from "preact/hooks";
import type { Live } from "../app/live";
import { ApiError } from "../api/client";
import { parse } from "../api/guards";
import type { SecretInput, SecretView, SourceInput, SourceRow, SourceSaved, SourceTestResult } from "../api/types";
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

const REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
/** Query parameters whose values are secrets (the relay shows them as `***`). */
const SECRET_PARAM = /token|key|secret|passw|auth|session|credential/i;

/**
 * Secrets written in clear in a source URL: the password, and secret-looking query
 * values that are not `${NAME}` references. `***` (how the relay shows a secret the
 * file already holds) means "unchanged" and is not one.
 */
export function literalSecretsInUrl(url: string): string[] {
  const found: string[] = [];
  const dec = (v: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  const ok = (v: string) => v === "" || v === "***" || REFERENCE.test(dec(v));
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)@/.exec(url.trim());
  const userinfo = m?.[1];
  if (userinfo !== undefined && userinfo.includes(":")) {
    const password = userinfo.slice(userinfo.indexOf(":") + 1);
    if (!ok(password)) found.push("the password");
  }
  const q = url.indexOf("?");
  if (q >= 0) {
    for (const pair of url.slice(q + 1).split("#")[0]?.split("&") ?? []) {
      const eq = pair.indexOf("=");
      if (eq < 0) continue;
      const name = dec(pair.slice(0, eq));
      if (SECRET_PARAM.test(name) && !ok(pair.slice(eq + 1))) found.push(`?${name}=`);
    }
  }
  return found;
}

/** What the relay said about a saved source, in a sentence or two. */
export function savedMessage(verb: string, s: SourceSaved): { kind: "info" | "warn"; text: string } {
  const state = s.running ? "it is running" : s.reason ? `it is not running: ${s.reason}` : "it is not running (disabled)";
  const warnings = s.warnings.length > 0 ? ` Warnings: ${s.warnings.join("; ")}.` : "";
  return { kind: s.reason || s.warnings.length > 0 ? "warn" : "info", text: `${verb} ${s.name}; ${state}.${warnings}` };
}

type Msg = { kind: "info" | "error" | "warn"; text: string };

export function Sources({ live }: { live: Live }) {
  const [editing, setEditing] = useState<SourceRow | "new" | null>(null);
  const [msg, setMsg] = useState<Msg | null>(null);
  const [tested, setTested] = useState<{ name: string; result: SourceTestResult } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const now = Date.now();
  const sources = live.sources.value;

  /** Runs one row action; its result (or failure) is the view's message. */
  const act = async (label: string, f: () => Promise<Msg | null>) => {
    setMsg(null);
    setBusy(label);
    try {
      const m = await f();
      setMsg(m);
      await live.pollSources();
    } catch (e) {
      if (e instanceof ApiError && e.missingEndpoint) setMsg({ kind: "warn", text: missingMessage(e, label) });
      else setMsg({ kind: "error", text: `${label} failed: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      setBusy(null);
    }
  };
  const test = (s: SourceRow) =>
    act(`Testing ${s.name}`, async () => {
      setTested(null);
      const result = await live.client.send("POST", "/api/sources/test", toInput(s), parse.sourceTestResult);
      setTested({ name: s.name, result });
      return null;
    });
  const setEnabled = (s: SourceRow, enabled: boolean) =>
    act(`${enabled ? "Enabling" : "Disabling"} ${s.name}`, async () =>
      savedMessage(enabled ? "Enabled" : "Disabled", await live.client.send("PUT", path(s.name), { ...toInput(s), enabled }, parse.sourceSaved)),
    );
  const remove = (s: SourceRow) =>
    act(`Deleting ${s.name}`, async () => {
      await live.client.send("DELETE", path(s.name), undefined, () => null);
      if (tested?.name === s.name) setTested(null);
      return { kind: "info", text: `Deleted ${s.name}; its stored history is kept.` };
    });
  const path = (name: string) => `/api/sources/${encodeURIComponent(name)}`;

  return (
    <section class="view view-sources">
      <header class="view-head">
        <h2>Sources</h2>
        <button type="button" class="primary" onClick={() => setEditing("new")} data-testid="add-source">Add source</button>
      </header>
      {msg ? <Callout kind={msg.kind}>{msg.text}</Callout> : null}
      {busy !== null ? <p class="muted" role="status">{busy}…</p> : null}
      {tested !== null ? (
        <div class="card" data-testid="source-test-result">
          <h3>
            Test of {tested.name} <button type="button" onClick={() => setTested(null)}>Close</button>
          </h3>
          <TestResultView result={tested.result} />
        </div>
      ) : null}
      {editing !== null ? (
        <SourceForm
          live={live}
          initial={editing === "new" ? null : editing}
          onDone={(m) => {
            setEditing(null);
            if (m) setMsg(m);
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
                <td class="mono small">{s.config?.url ?? <span class="muted">(not in the config file: given with --source, or this relay does not report it)</span>}</td>
                <td class="muted">{ago(s.last_event_at, now)}</td>
                <td class="num">{count(s.events)}</td>
                <td class="actions">
                  {s.config === undefined ? (
                    <span class="muted small">Only sources in the config file can be changed here.</span>
                  ) : (
                    <>
                      <button type="button" onClick={() => setEditing(s)} data-testid="source-edit">Edit</button>
                      <button type="button" disabled={busy !== null} onClick={() => void test(s)} data-testid="source-test">Test</button>
                      {s.health === "disabled" || !s.config.enabled ? (
                        <button type="button" disabled={busy !== null} onClick={() => void setEnabled(s, true)} data-testid="source-enable">Enable</button>
                      ) : (
                        <button type="button" disabled={busy !== null} onClick={() => void setEnabled(s, false)} data-testid="source-disable">Disable</button>
                      )}
                      <button
                        type="button"
                        class="danger"
                        disabled={busy !== null}
                        data-testid="source-delete"
                        onClick={() => {
                          if (confirm(`Delete the source “${s.name}”? Its stored history is kept.`)) void remove(s);
                        }}
                      >
                        Delete
                      </button>
                    </>
                  )}
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

function SourceForm({ live, initial, onDone }: { live: Live; initial: SourceRow | null; onDone: (msg?: Msg) => void }) {
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
    const literal = literalSecretsInUrl(url);
    if (literal.length > 0) {
      return `URL: ${literal.join(" and ")} would be saved in clear in the config file; write ${literal.length > 1 ? "them" : "it"} as \${NAME} (an environment variable, e.g. redis://:\${REDIS_PASSWORD}@host:6379), or use the secret fields below.`;
    }
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
        onDone(savedMessage("Saved", await live.client.send("PUT", `/api/sources/${encodeURIComponent(initial.name)}`, input, parse.sourceSaved)));
      } else {
        onDone(savedMessage("Added", await live.client.send("POST", "/api/sources", input, parse.sourceSaved)));
      }
    } catch (e) {
      if (e instanceof ApiError && e.missingEndpoint) setProblem({ kind: "warn", text: missingMessage(e, what === "test" ? "Testing a source" : "Saving a source") });
      else setProblem({ kind: "error", text: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card source-form" data-testid="source-form" onSubmit={(e) => { e.preventDefault(); void run("save"); }}>
      <h3>{initial ? `Edit ${initial.name}` : "Add a source"}</h3>
      <label>
        Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="payments-api" required data-testid="source-name" />
      </label>
      <label class="wide">
        URL <input value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://api.example.com/events" required data-testid="source-url" />
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
        <button type="submit" class="primary" disabled={busy} data-testid="source-save">Save</button>
        <button type="button" disabled={busy} onClick={() => void run("test")} data-testid="source-form-test">Test (connect once)</button>
        <button type="button" onClick={() => onDone()}>Cancel</button>
      </div>
      {busy && !test ? <p class="muted" role="status">Working…</p> : null}
      {test ? <TestResultView result={test} /> : null}
    </form>
  );
}

/** What a connect-once test showed: how long, why it failed, what arrived. */
function TestResultView({ result }: { result: SourceTestResult }) {
  return (
    <div class="test-result" data-testid="test-result" data-ok={String(result.ok)}>
      {result.ok ? (
        <Callout kind="info">
          Connected in {duration(result.elapsed_ms)}; {result.events.length === 0 ? "no event arrived while connected (the source may just be quiet)" : `${result.events.length} event(s) arrived`}.
        </Callout>
      ) : (
        <Callout kind="error">
          Failed after {duration(result.elapsed_ms)}: {result.error?.message ?? "unknown error"} {result.error ? `(${result.error.code})` : ""}
        </Callout>
      )}
      {result.events.slice(0, 20).map((e, i) => (
        <details key={i} data-testid="test-event">
          <summary>
            {e.kind} {e.entity} <StatusBadge status={e.status} /> {e.message ?? ""}
          </summary>
          <pre>{prettyRaw(e.raw)}</pre>
        </details>
      ))}
    </div>
  );
}
