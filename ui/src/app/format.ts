// Human-readable times, durations and numbers.

// One formatter of each kind for the page's lifetime. `Date.prototype.toLocaleTimeString`
// and `Number.prototype.toLocaleString` build a new ICU formatter on every call, and in
// WebKit that memory lives in the web process's malloc heap, which the JavaScript
// collector does not count: rendering the board with them grew that heap by about
// 50 MB in 25 minutes (heaptrack: 36 MB of peak in ICU, from udat_open). The lint
// forbids the per-call forms; format through these instead.
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "numeric", second: "numeric", hour12: false });
const timeOfDayFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "numeric", second: "numeric" });
const hourMinuteFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const countFormat = new Intl.NumberFormat("en-US");

/** A 24-hour time of day with seconds ("14:03:07"), for tables. */
export function clock(ms: number | undefined): string {
  if (ms === undefined) return "";
  return clockFormat.format(ms);
}

/** The time of day in the user's own convention ("2:03:07 PM" or "14:03:07"). */
export function timeOfDay(ms: number): string {
  return timeOfDayFormat.format(ms);
}

/** Hours and minutes only ("14:03"), for chart axes. */
export function hourMinute(ms: number): string {
  return hourMinuteFormat.format(ms);
}

export function dateTime(ms: number | undefined): string {
  if (ms === undefined) return "";
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return "";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = ms / 1_000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return "never";
  const d = now - ms;
  // Sources stamp times with their own clocks; a little skew is "just now".
  if (d < 1_000 && d > -5_000) return "just now";
  if (d < 0) return `in ${duration(-d)}`;
  return `${duration(d)} ago`;
}

export function count(n: number): string {
  return countFormat.format(n);
}

/** Pretty-prints a raw payload if it is JSON; otherwise returns it as is. */
export function prettyRaw(raw: string): string {
  if (raw === "") return "(empty)";
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}
