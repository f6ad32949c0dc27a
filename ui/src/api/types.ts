// The relay's JSON, typed. Each type mirrors a Rust struct named in its comment; the
// runtime guards in `guards.ts` check real samples produced by the Rust side
// (`fixtures/`), so a field renamed in Rust fails `npm test`.

/** Milliseconds since the Unix epoch (`model::Millis`). */
export type Millis = number;

/** `model::EntityKind`. */
export type EntityKind = "job" | "queue" | "worker" | "source";
export const ENTITY_KINDS: readonly EntityKind[] = ["job", "queue", "worker", "source"];

/** The named statuses of `model::Status`; any other text is an `Unknown` status. */
export const KNOWN_STATUSES = [
  "queued",
  "delayed",
  "running",
  "completed",
  "failed",
  "retrying",
  "stalled",
  "cancelled",
  "busy",
  "idle",
  "paused",
  "gone",
  "connected",
  "reconnecting",
  "gap",
  "stopped",
  "info",
] as const;
export type KnownStatus = (typeof KNOWN_STATUSES)[number];
/** `model::Status` serialises as its name; unknown statuses keep their text. */
export type Status = string;

export const JOB_STATUSES: readonly KnownStatus[] = [
  "queued",
  "delayed",
  "running",
  "completed",
  "failed",
  "retrying",
  "stalled",
  "cancelled",
];

/** `model::QueueCounts`. */
export interface QueueCounts {
  waiting?: number;
  active?: number;
  completed?: number;
  failed?: number;
  delayed?: number;
  prioritized?: number;
  paused?: number;
}
export const COUNT_KEYS = ["waiting", "active", "completed", "failed", "delayed", "prioritized", "paused"] as const;

/** `model::Event`: one normalised event, as `/events` and the history send it. */
export interface TelltaleEvent {
  seq: number;
  source: string;
  received_at: Millis;
  occurred_at?: Millis;
  kind: EntityKind;
  entity: string;
  parent?: string;
  status: Status;
  progress?: number;
  stage?: string;
  message?: string;
  error?: string;
  counts?: QueueCounts;
  channel?: string;
  remote_id?: string;
  raw: string;
}

/** `board::EntityState`: the latest state of one entity. */
export interface EntityState {
  kind: EntityKind;
  entity: string;
  source: string;
  parent?: string;
  status: Status;
  progress?: number;
  stage?: string;
  message?: string;
  error?: string;
  counts?: QueueCounts;
  first_seen: Millis;
  started_at?: Millis;
  finished_at?: Millis;
  last_seen: Millis;
  last_seq: number;
  events: number;
}

/** `relay::jobs::Row`: an entity state with `duration_ms` flattened in. */
export interface JobRow extends EntityState {
  duration_ms?: Millis;
}

/** `relay::jobs::Page` (`GET /api/jobs`). */
export interface JobsPage {
  items: JobRow[];
  total: number;
  offset: number;
  limit: number;
  last_seq: number;
}

/** `relay::jobs::Timeline` (`GET /api/jobs/{id}/timeline`). */
export interface Timeline {
  job: string;
  state?: JobRow;
  events: TelltaleEvent[];
  truncated: boolean;
}

/** `relay::queues::CountsAt`. */
export interface CountsAt {
  at: Millis;
  seq: number;
  counts: QueueCounts;
}

/** `relay::queues::QueueRow`. */
export interface QueueRow {
  queue: string;
  state?: EntityState;
  jobs: Record<string, number>;
  history: CountsAt[];
}

/** `relay::queues::Queues` (`GET /api/queues`). */
export interface QueuesResponse {
  items: QueueRow[];
  from: Millis;
}

/** `relay::status::Workers` (`GET /api/workers`). */
export interface WorkersResponse {
  items: EntityState[];
}

/** `engine::source_state::SourceHealth`. */
export type SourceHealth = "connecting" | "live" | "reconnecting" | "stopped" | "disabled";
export const SOURCE_HEALTHS: readonly SourceHealth[] = ["connecting", "live", "reconnecting", "stopped", "disabled"];

/** `relay::status::Notice`. */
export interface Notice {
  status: Status;
  message?: string;
  at: Millis;
}

/**
 * `relay::status::SourceRow`: `engine::SourceState` flattened, plus the last notice.
 * `config` is the proposed addition for the Sources view (see `SourceConfigView`);
 * relays without it still validate.
 */
export interface SourceRow {
  name: string;
  health: SourceHealth;
  reason?: string;
  next_attempt_at?: Millis;
  last_event_at?: Millis;
  events: number;
  since: Millis;
  last_notice?: Notice;
  config?: SourceConfigView;
}

/** `relay::status::Sources` (`GET /api/sources`). */
export interface SourcesResponse {
  items: SourceRow[];
}

/** `relay::history::History` (`GET /api/history`). */
export interface HistoryResponse {
  items: TelltaleEvent[];
  limit: number;
  truncated: boolean;
}

/** `hub::HubHealth` — only the fields the UI reads are typed; the rest pass through. */
export interface HubHealth {
  last_seq: number;
  stored: number;
  duplicates: number;
  pending: number;
  lost: number;
  search_indexed_seq: number;
  error?: { code: string; message: string; since: Millis };
}

/** `relay::status::Health` (`GET /api/health`). */
export interface HealthResponse {
  status: "ok" | "degraded";
  version: string;
  hub: HubHealth;
  sources: SourceRow[];
  relay: { port: number; clients: number };
}

/** `relay::error::ApiError`'s body. */
export interface ApiErrorBody {
  code: string;
  message: string;
}

// ---- Proposed endpoints (not in the relay yet; listed in ui/README.md) ----

/**
 * A secret as the relay shows it back: never the value. `ref` is the `${NAME}`
 * reference (an environment variable, or a keychain entry of that name).
 */
export type SecretView = { ref: string } | { literal: true };

/** A configured source, as `GET /api/sources` would report it under `config`. */
export interface SourceConfigView {
  name: string;
  /** The URL as written, with passwords and secret query values shown as `***` or `${NAME}`. */
  url: string;
  enabled: boolean;
  headers: Record<string, SecretView>;
  bearer?: SecretView;
  token?: SecretView;
  /** Seconds; 0 = off. */
  idle_timeout_s?: number;
  follow?: boolean;
  subscribe?: string[];
  poll_interval_s?: number;
}

/**
 * A secret as the UI sends it: an environment variable reference, a value for the
 * relay to put in the OS keychain under `name` (the config then holds `${name}`), or
 * "keep what is configured".
 */
export type SecretInput = { env: string } | { keychain: { name: string; value: string } } | { keep: true };

/** Body of `POST /api/sources`, `PUT /api/sources/{name}` and `POST /api/sources/test`. */
export interface SourceInput {
  name: string;
  url: string;
  enabled: boolean;
  headers: Record<string, SecretInput>;
  bearer?: SecretInput;
  token?: SecretInput;
  idle_timeout_s?: number;
  follow?: boolean;
  subscribe?: string[];
  poll_interval_s?: number;
}

/** Answer of `POST /api/sources/test`. */
export interface SourceTestResult {
  ok: boolean;
  /** What arrived while the test was connected (normalised; seq 0). */
  events: TelltaleEvent[];
  error?: ApiErrorBody;
  elapsed_ms: number;
}

/** `relay::source_edit::Saved`: what `POST /api/sources` and `PUT /api/sources/{name}` answer. */
export interface SourceSaved {
  name: string;
  /** The source runs (false when disabled, or when it could not start: see `reason`). */
  running: boolean;
  reason?: string;
  /** Loader warnings about the saved file (a literal secret in a URL, ...). */
  warnings: string[];
}

/** `config::NotificationsConfig` over JSON (`GET/PUT /api/rules`). */
export interface Rules {
  enabled: boolean;
  statuses: Status[];
  sources: string[];
  queues: string[];
  coalesce_s: number;
  snooze_s: number;
  /** Epoch ms until which notifications are silenced; absent or past = not snoozed. */
  snoozed_until?: Millis | null;
}
