// fetch for the relay's JSON: token in the Authorization header, every answer checked
// against its type, every failure turned into an ApiError with a stable code.

import { apiErrorBody } from "./guards";

export interface RelayTarget {
  /** Origin of the relay, e.g. `http://127.0.0.1:7531` (no trailing slash). */
  base: string;
  token: string;
}

export type Params = Record<string, string | number | undefined | null>;

/** A failed request. `code` is the relay's stable code, or one of ours:
 * `unreachable` (no answer), `endpoint_missing` (404/405 on an endpoint this relay
 * does not have), `bad_shape` (an answer that does not match its type). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get missingEndpoint(): boolean {
    return this.code === "endpoint_missing";
  }
}

export function query(params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

export class RelayClient {
  constructor(
    readonly target: RelayTarget,
    private readonly fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {}

  url(path: string, params: Params = {}): string {
    return `${this.target.base}${path}${query(params)}`;
  }

  /** The SSE URL: EventSource cannot send headers, so the token goes in the query. */
  eventsUrl(since: number): string {
    return this.url("/events", { since, token: this.target.token });
  }

  private async request(method: string, path: string, params: Params, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.target.token}`, Accept: "application/json" };
    const init: RequestInit = { method, headers, cache: "no-store" };
    if (signal) init.signal = signal;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp: Response;
    try {
      resp = await this.fetchFn(this.url(path, params), init);
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError("unreachable", `the relay at ${this.target.base} does not answer`);
    }
    if (resp.ok) return resp;
    let code = `http_${resp.status}`;
    let message = `${method} ${path}: HTTP ${resp.status}`;
    try {
      const b: unknown = await resp.json();
      if (apiErrorBody(b, "error") === null) {
        const eb = b as { code: string; message: string };
        code = eb.code;
        message = eb.message;
      }
    } catch {
      // Not JSON: keep the generic message.
    }
    if (resp.status === 404 && (code === "not_found" || code === `http_404`)) {
      throw new ApiError("endpoint_missing", `this relay has no ${method} ${path.replace(/\?.*/, "")} endpoint yet (${message})`, 404);
    }
    if (resp.status === 405) {
      throw new ApiError("endpoint_missing", `this relay does not accept ${method} ${path} yet (${message})`, 405);
    }
    throw new ApiError(code, message, resp.status);
  }

  async get<T>(path: string, parse: (v: unknown) => T, params: Params = {}, signal?: AbortSignal): Promise<T> {
    const r = await this.request("GET", path, params, undefined, signal);
    return checked(parse, await r.json());
  }

  async send<T>(method: "POST" | "PUT" | "DELETE", path: string, body: unknown, parse: (v: unknown) => T): Promise<T> {
    const r = await this.request(method, path, {}, body);
    const text = await r.text();
    return checked(parse, text === "" ? null : JSON.parse(text));
  }

  /** A file from the relay (export), fetched with the token in a header. */
  async download(path: string, params: Params): Promise<{ blob: Blob; filename: string }> {
    const r = await this.request("GET", path, params);
    const cd = r.headers.get("content-disposition") ?? "";
    const m = /filename="?([^";]+)"?/.exec(cd);
    return { blob: await r.blob(), filename: m?.[1] ?? "telltale-export" };
  }
}

function checked<T>(parse: (v: unknown) => T, v: unknown): T {
  try {
    return parse(v);
  } catch (e) {
    throw new ApiError("bad_shape", e instanceof Error ? e.message : String(e));
  }
}
