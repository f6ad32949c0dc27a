// Runtime checkers for every relay payload, written once and used both by the
// fixture tests and on live data (`client.ts`, `stream.ts`).

import {
  anyOf,
  arrayOf,
  bool,
  expect,
  int,
  num,
  object,
  oneOf,
  recordOf,
  str,
  nullable,
  type Checker,
} from "./check";
import {
  COUNT_KEYS,
  ENTITY_KINDS,
  SOURCE_HEALTHS,
  type EntityState,
  type HealthResponse,
  type HistoryResponse,
  type JobsPage,
  type QueuesResponse,
  type Rules,
  type SourceSaved,
  type SourcesResponse,
  type SourceTestResult,
  type TelltaleEvent,
  type Timeline,
  type WorkersResponse,
} from "./types";

const kind = oneOf(ENTITY_KINDS);

export const queueCounts: Checker = object(
  {},
  Object.fromEntries(COUNT_KEYS.map((k) => [k, int])),
  true,
);

export const event: Checker = object(
  { seq: int, source: str, received_at: num, kind, entity: str, status: str, raw: str },
  {
    occurred_at: num,
    parent: str,
    progress: num,
    stage: str,
    message: str,
    error: str,
    counts: queueCounts,
    channel: str,
    remote_id: str,
  },
  true,
);

const entityFields = {
  required: {
    kind,
    entity: str,
    source: str,
    status: str,
    first_seen: num,
    last_seen: num,
    last_seq: int,
    events: int,
  },
  optional: {
    parent: str,
    progress: num,
    stage: str,
    message: str,
    error: str,
    counts: queueCounts,
    started_at: num,
    finished_at: num,
  },
};

export const entityState: Checker = object(entityFields.required, entityFields.optional, true);
export const jobRow: Checker = object(entityFields.required, { ...entityFields.optional, duration_ms: num }, true);

export const jobsPage: Checker = object({
  items: arrayOf(jobRow),
  total: int,
  offset: int,
  limit: int,
  last_seq: int,
});

export const timeline: Checker = object({ job: str, events: arrayOf(event), truncated: bool }, { state: jobRow });

export const queues: Checker = object({
  items: arrayOf(
    object(
      {
        queue: str,
        jobs: recordOf(int),
        history: arrayOf(object({ at: num, seq: int, counts: queueCounts })),
      },
      { state: entityState },
    ),
  ),
  from: num,
});

export const workers: Checker = object({ items: arrayOf(entityState) });

const secretView: Checker = anyOf(object({ ref: str }), object({ literal: bool }));

export const sourceConfigView: Checker = object(
  { name: str, url: str, enabled: bool, headers: recordOf(secretView) },
  {
    bearer: secretView,
    token: secretView,
    idle_timeout_s: num,
    follow: bool,
    subscribe: arrayOf(str),
    poll_interval_s: num,
  },
);

export const sourceRow: Checker = object(
  { name: str, health: oneOf(SOURCE_HEALTHS), events: int, since: num },
  {
    reason: str,
    next_attempt_at: num,
    last_event_at: num,
    last_notice: object({ status: str, at: num }, { message: str }),
    config: sourceConfigView,
  },
);

export const sources: Checker = object({ items: arrayOf(sourceRow) });

export const history: Checker = object({ items: arrayOf(event), limit: int, truncated: bool });

export const health: Checker = object({
  status: oneOf(["ok", "degraded"]),
  version: str,
  hub: object(
    { last_seq: int, stored: int, duplicates: int, pending: int, lost: int, search_indexed_seq: int },
    { error: object({ code: str, message: str, since: num }) },
  ),
  sources: arrayOf(sourceRow),
  relay: object({ port: int, clients: int }),
});

export const apiErrorBody: Checker = object({ code: str, message: str });

export const sourceTestResult: Checker = object(
  { ok: bool, events: arrayOf(event), elapsed_ms: num },
  { error: apiErrorBody },
);

export const sourceSaved: Checker = object({ name: str, running: bool, warnings: arrayOf(str) }, { reason: str });

export const rules: Checker = object(
  {
    enabled: bool,
    statuses: arrayOf(str),
    sources: arrayOf(str),
    queues: arrayOf(str),
    coalesce_s: num,
    snooze_s: num,
  },
  { snoozed_until: nullable(num) },
);

export const parse = {
  event: (v: unknown) => expect<TelltaleEvent>(event, "event", v),
  entityState: (v: unknown) => expect<EntityState>(entityState, "entity", v),
  jobsPage: (v: unknown) => expect<JobsPage>(jobsPage, "jobs", v),
  timeline: (v: unknown) => expect<Timeline>(timeline, "timeline", v),
  queues: (v: unknown) => expect<QueuesResponse>(queues, "queues", v),
  workers: (v: unknown) => expect<WorkersResponse>(workers, "workers", v),
  sources: (v: unknown) => expect<SourcesResponse>(sources, "sources", v),
  history: (v: unknown) => expect<HistoryResponse>(history, "history", v),
  health: (v: unknown) => expect<HealthResponse>(health, "health", v),
  sourceTestResult: (v: unknown) => expect<SourceTestResult>(sourceTestResult, "source test", v),
  sourceSaved: (v: unknown) => expect<SourceSaved>(sourceSaved, "saved source", v),
  rules: (v: unknown) => expect<Rules>(rules, "rules", v),
};

/** Checkers by name, for the fixture tests and the e2e suite. */
export const checkers = {
  event,
  entityState,
  jobRow,
  jobsPage,
  timeline,
  queues,
  workers,
  sources,
  history,
  health,
  apiErrorBody,
  sourceTestResult,
  sourceSaved,
  rules,
} satisfies Record<string, Checker>;
export type CheckerName = keyof typeof checkers;
