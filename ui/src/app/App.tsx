// The shell: navigation, the connection banner, and the routed view.
import { useEffect, useState } from "preact/hooks";
import type { Live } from "./live";
import { route } from "./router";
import { ago } from "./format";
import { Overview } from "../views/Overview";
import { Jobs } from "../views/Jobs";
import { JobDetail } from "../views/JobDetail";
import { Queues } from "../views/Queues";
import { History } from "../views/History";
import { Sources } from "../views/Sources";
import { Rules } from "../views/Rules";

const NAV: [string, string][] = [
  ["", "Overview"],
  ["jobs", "Jobs"],
  ["queues", "Queues & workers"],
  ["history", "History"],
  ["sources", "Sources"],
  ["rules", "Rules"],
];

export function App({ live }: { live: Live }) {
  const r = route.value;
  const [top = "", second] = r.parts;
  useKeys();
  let view;
  switch (top) {
    case "":
      view = <Overview live={live} />;
      break;
    case "jobs":
      view = second !== undefined ? <JobDetail live={live} id={second} /> : <Jobs live={live} />;
      break;
    case "queues":
      view = <Queues live={live} />;
      break;
    case "history":
      view = <History live={live} />;
      break;
    case "sources":
      view = <Sources live={live} />;
      break;
    case "rules":
      view = <Rules live={live} />;
      break;
    default:
      view = <p>No page “{top}”. <a href="#/">Go to the overview</a>.</p>;
  }
  return (
    <div class="shell">
      <header class="topbar">
        <h1 class="brand">Telltale</h1>
        <nav aria-label="views">
          {NAV.map(([path, label]) => (
            <a key={path} href={`#/${path}`} class={top === path ? "active" : ""} aria-current={top === path ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <LinkDot live={live} />
      </header>
      <ConnectionBanner live={live} />
      <HistoryBanner live={live} />
      <main id="main">{view}</main>
    </div>
  );
}

function LinkDot({ live }: { live: Live }) {
  const b = live.banner.value;
  const label = b.kind === "ok" ? "live" : b.kind === "connecting" ? "connecting" : b.kind === "auth" ? "access refused" : "relay unreachable";
  return (
    <span class={`link link-${b.kind}`} data-testid="link-state" title={`relay ${live.client.target.base}`}>
      <span class="dot" aria-hidden="true" /> {label}
    </span>
  );
}

function ConnectionBanner({ live }: { live: Live }) {
  const b = live.banner.value;
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (b.kind !== "down") return;
    const t = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(t);
  }, [b.kind]);
  if (b.kind === "down") {
    return (
      <div class="banner banner-down" role="alert" data-testid="banner">
        <strong>The relay at {live.client.target.base} is unreachable</strong> (since {ago(b.since, now)}; {b.message}). Retrying; what you see is
        frozen at event #{live.store.lastSeq} and will catch up from there without gaps once it is back. Is <code>telltale serve</code> (or the app) still running?
      </div>
    );
  }
  if (b.kind === "auth") {
    return (
      <div class="banner banner-down" role="alert" data-testid="banner">
        <strong>The relay refused the access token</strong> ({b.message}). Open the URL that <code>telltale serve</code> printed, with its <code>?token=</code>, again.
      </div>
    );
  }
  return null;
}

/**
 * The hub cannot write the history (disk full, database locked): events are held,
 * not lost, and the operator must know before the sources start to wait.
 */
function HistoryBanner({ live }: { live: Live }) {
  const hub = live.health.value?.hub;
  const err = hub?.error;
  if (!hub || !err) return null;
  return (
    <div class="banner banner-down" role="alert" data-testid="history-banner">
      <strong>History cannot be written</strong> ({err.message}). {hub.pending} event{hub.pending === 1 ? " is" : "s are"} held and will be
      stored when it works again{hub.lost > 0 ? `; ${hub.lost} could not be stored` : ""}.
    </div>
  );
}

/** "/" focuses the page's search box; "g" then a letter jumps between views. */
function useKeys(): void {
  useEffect(() => {
    let g = false;
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
      if (e.key === "/") {
        const box = document.querySelector<HTMLInputElement>("main input[type=search]");
        if (box) {
          e.preventDefault();
          box.focus();
        }
        return;
      }
      if (g) {
        g = false;
        const to: Record<string, string> = { o: "", j: "jobs", q: "queues", h: "history", s: "sources", r: "rules" };
        const dest = to[e.key];
        if (dest !== undefined) location.hash = `#/${dest}`;
        return;
      }
      if (e.key === "g") g = true;
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
