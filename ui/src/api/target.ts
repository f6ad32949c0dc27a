// Where the relay is and which token to use, without leaving the token in the
// address bar:
// 1. the desktop shell sets `window.__TELLTALE__ = { relay, token }` before the page
//    loads (an initialization script; the webview's origin is tauri://localhost);
// 2. `telltale serve` prints `http://127.0.0.1:PORT/?token=...`: the page is served by
//    the relay itself, so the relay is this origin; `?relay=` may point elsewhere;
// 3. after that first load, sessionStorage keeps it for reloads of this tab.

import type { RelayTarget } from "./client";

declare global {
  interface Window {
    __TELLTALE__?: { relay?: string; token?: string };
  }
}

const KEY = "telltale.relay";

export function discoverTarget(win: Window = window): RelayTarget | null {
  const injected = win.__TELLTALE__;
  if (injected?.token) {
    return { base: trimSlash(injected.relay ?? win.location.origin), token: injected.token };
  }
  const url = new URL(win.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    const relay = url.searchParams.get("relay");
    const target = { base: trimSlash(relay ?? url.origin), token };
    try {
      win.sessionStorage.setItem(KEY, JSON.stringify(target));
    } catch {
      // Storage may be disabled; the token then lives only in memory.
    }
    url.searchParams.delete("token");
    url.searchParams.delete("relay");
    win.history.replaceState(null, "", url.pathname + url.search + url.hash);
    return target;
  }
  try {
    const saved = win.sessionStorage.getItem(KEY);
    if (saved) {
      const t = JSON.parse(saved) as Partial<RelayTarget>;
      if (typeof t.base === "string" && typeof t.token === "string") return { base: t.base, token: t.token };
    }
  } catch {
    // Fall through: no target.
  }
  return null;
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, "");
}
