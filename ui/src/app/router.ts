// Hash routing (`#/jobs?status=failed`): works when the page is served by the relay,
// from an embedded folder, and in Tauri, with no server-side routes.

import { signal } from "@preact/signals";

export interface Route {
  /** Path segments, e.g. ["jobs", "resize-1"]. */
  parts: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, "");
  const q = h.indexOf("?");
  const path = q >= 0 ? h.slice(0, q) : h;
  const params = new URLSearchParams(q >= 0 ? h.slice(q + 1) : "");
  const parts = path.split("/").filter((p) => p !== "").map((p) => decodeURIComponent(p));
  return { parts, params };
}

export function hrefFor(parts: string[], params: Record<string, string> = {}): string {
  const q = new URLSearchParams(params).toString();
  return `#/${parts.map(encodeURIComponent).join("/")}${q ? `?${q}` : ""}`;
}

export const route = signal<Route>(parseHash(typeof location === "undefined" ? "" : location.hash));

export function startRouter(): void {
  window.addEventListener("hashchange", () => {
    route.value = parseHash(location.hash);
  });
}

export function navigate(parts: string[], params: Record<string, string> = {}): void {
  location.hash = hrefFor(parts, params);
}

/** Updates the current route's query without a history entry (filters as you type). */
export function replaceParams(params: Record<string, string>): void {
  const href = hrefFor(route.value.parts, params);
  history.replaceState(null, "", href);
  route.value = parseHash(href);
}
