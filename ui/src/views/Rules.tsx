// Notification rules: statuses, sources, queues, coalescing window, snooze.
import { useEffect, useState } from "preact/hooks";
import type { Live } from "../app/live";
import { ApiError } from "../api/client";
import { parse } from "../api/guards";
import { JOB_STATUSES, type Rules as RulesT } from "../api/types";
import { dateTime, duration } from "../app/format";
import { Callout } from "../components/ui";
import { missingMessage } from "./Sources";

/** `config::NotificationsConfig::default()`. */
const DEFAULTS: RulesT = { enabled: true, statuses: ["failed"], sources: [], queues: [], coalesce_s: 10, snooze_s: 3600, snoozed_until: null };

const list = (s: string): string[] => s.split(",").map((x) => x.trim()).filter((x) => x !== "");
/** Whole seconds, never negative (the relay takes unsigned integers). */
export const seconds = (v: string): number => {
  const n = Math.round(Number(v));
  return Number.isFinite(n) && n > 0 ? n : 0;
};
/** Later than any real date: "snoozed until resumed" (`new Date()` cannot show it). */
const FOREVER = 8.64e15;

export function Rules({ live }: { live: Live }) {
  const [rules, setRules] = useState<RulesT | null>(null);
  const [missing, setMissing] = useState<string | null>(null);
  const [msg, setMsg] = useState<{ kind: "info" | "error" | "warn"; text: string } | null>(null);
  const [queues, setQueues] = useState("");

  useEffect(() => {
    live.client
      .get("/api/rules", parse.rules)
      .then((r) => {
        setRules(r);
        setQueues(r.queues.join(", "));
      })
      .catch((e: unknown) => {
        setRules(DEFAULTS);
        if (e instanceof ApiError && e.missingEndpoint) setMissing(missingMessage(e, "Changing notification rules", "[notifications]"));
        else setMsg({ kind: "error", text: `Could not load the rules: ${e instanceof Error ? e.message : String(e)}` });
      });
  }, [live]);

  if (rules === null) return <section class="view"><p class="muted">Loading rules…</p></section>;
  const disabled = missing !== null;
  const save = async (next: RulesT) => {
    setMsg(null);
    try {
      const saved = await live.client.send("PUT", "/api/rules", next, parse.rules);
      setRules(saved);
      setMsg({ kind: "info", text: "Rules saved." });
    } catch (e) {
      if (e instanceof ApiError && e.missingEndpoint) setMissing(missingMessage(e, "Changing notification rules", "[notifications]"));
      else setMsg({ kind: "error", text: `Saving failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  };
  const toggleIn = (arr: string[], v: string) => (arr.includes(v) ? arr.filter((x) => x !== v) : [...arr, v]);
  const sourceNames = [...new Set([...live.sources.value.map((s) => s.name), ...rules.sources])];
  const now = Date.now();
  const snoozed = rules.snoozed_until !== undefined && rules.snoozed_until !== null && rules.snoozed_until > now;

  return (
    <section class="view view-rules">
      <header class="view-head"><h2>Notification rules</h2></header>
      {missing ? <Callout kind="warn">{missing}</Callout> : null}
      {msg ? <Callout kind={msg.kind}>{msg.text}</Callout> : null}
      <form class="card rules-form" data-testid="rules-form" onSubmit={(e) => { e.preventDefault(); void save({ ...rules, queues: list(queues) }); }}>
        <fieldset disabled={disabled}>
          <label class="inline">
            <input type="checkbox" data-testid="rules-enabled" checked={rules.enabled} onChange={(e) => setRules({ ...rules, enabled: e.currentTarget.checked })} /> desktop notifications on
          </label>
          <fieldset>
            <legend>Notify for these statuses</legend>
            {JOB_STATUSES.map((s) => (
              <label key={s} class="inline">
                <input type="checkbox" data-status={s} checked={rules.statuses.includes(s)} onChange={() => setRules({ ...rules, statuses: toggleIn(rules.statuses, s) })} /> {s}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>From these sources (none ticked = every source)</legend>
            {sourceNames.length === 0 ? <p class="muted small">No sources yet.</p> : null}
            {sourceNames.map((s) => (
              <label key={s} class="inline">
                <input type="checkbox" data-source={s} checked={rules.sources.includes(s)} onChange={() => setRules({ ...rules, sources: toggleIn(rules.sources, s) })} /> {s}
              </label>
            ))}
          </fieldset>
          <label>
            Queues (comma-separated; empty = every queue) <input value={queues} onInput={(e) => setQueues(e.currentTarget.value)} placeholder="emails, resume-analysis" data-testid="rules-queues" />
          </label>
          <label>
            Coalescing window (seconds): failures within it become one notification{" "}
            <input type="number" min={0} max={3600} value={rules.coalesce_s} onInput={(e) => setRules({ ...rules, coalesce_s: seconds(e.currentTarget.value) })} data-testid="rules-coalesce" />
          </label>
          <label>
            Snooze length (seconds){" "}
            <input type="number" min={60} max={7 * 86400} value={rules.snooze_s} onInput={(e) => setRules({ ...rules, snooze_s: seconds(e.currentTarget.value) })} data-testid="rules-snooze" />
            <span class="muted small"> = {duration(rules.snooze_s * 1000)}</span>
          </label>
          <div class="form-actions">
            <button type="submit" class="primary" data-testid="rules-save">Save rules</button>
          </div>
        </fieldset>
      </form>
      <div class="card">
        <h3>Snooze</h3>
        <p data-testid="snooze-state">
          {!snoozed
            ? "Notifications are not snoozed."
            : (rules.snoozed_until ?? 0) >= FOREVER
              ? "Notifications are snoozed until you resume them."
              : `Notifications are snoozed until ${dateTime(rules.snoozed_until ?? undefined)}.`}
        </p>
        <div class="form-actions">
          <button type="button" disabled={disabled} data-testid="rules-snooze-for" onClick={() => void save({ ...rules, snoozed_until: now + rules.snooze_s * 1000 })}>Snooze for {duration(rules.snooze_s * 1000)}</button>
          <button type="button" disabled={disabled} data-testid="rules-snooze-forever" onClick={() => void save({ ...rules, snoozed_until: Number.MAX_SAFE_INTEGER })}>Snooze until resumed</button>
          <button type="button" disabled={disabled || !snoozed} data-testid="rules-resume" onClick={() => void save({ ...rules, snoozed_until: null })}>Resume</button>
        </div>
      </div>
    </section>
  );
}
