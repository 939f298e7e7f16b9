/**
 * The store's HTTP protocol, shared by the server and `HttpStore`: routes, the JSON envelopes of
 * requests and responses, and how queries travel in URLs. Payloads inside the envelopes are the
 * records of `src/types` and are validated by the store itself.
 */
import { z } from "zod";
import {
  AddRunEntriesResultSchema,
  AddSpansResultSchema,
  AttemptedRolloutSchema,
  HeartbeatResultSchema,
  RecordRewardResultSchema,
  ResourcesSnapshotSchema,
  RolloutSchema,
  RunEntrySchema,
  SpanSchema,
  StoreStatsSchema,
  TrainingRunSchema,
  WorkerSchema,
  pageSchema,
} from "../../types/index.js";
import type { ResourcesQuery, RolloutQuery, RunEntryQuery, RunQuery, SpanQuery } from "../../types/index.js";
import { ValidationError } from "../../types/index.js";

export const API_PREFIX = "/v1";

/** Every route: method and path pattern (`:name` segments are ids). */
export const Routes = {
  enqueue: { method: "POST", path: "/v1/rollouts" },
  startRollout: { method: "POST", path: "/v1/rollouts/start" },
  queryRollouts: { method: "GET", path: "/v1/rollouts" },
  getRollout: { method: "GET", path: "/v1/rollouts/:rolloutId" },
  cancelRollout: { method: "POST", path: "/v1/rollouts/:rolloutId/cancel" },
  completeAttempt: { method: "POST", path: "/v1/rollouts/:rolloutId/attempts/:attemptId/complete" },
  recordReward: { method: "POST", path: "/v1/rollouts/:rolloutId/attempts/:attemptId/rewards" },
  querySpans: { method: "GET", path: "/v1/rollouts/:rolloutId/spans" },
  dequeue: { method: "POST", path: "/v1/dequeue" },
  addSpans: { method: "POST", path: "/v1/spans" },
  heartbeat: { method: "POST", path: "/v1/heartbeat" },
  addResources: { method: "POST", path: "/v1/resources" },
  getResources: { method: "GET", path: "/v1/resources/:resourcesId" },
  queryResources: { method: "GET", path: "/v1/resources" },
  recordRun: { method: "POST", path: "/v1/runs" },
  queryRuns: { method: "GET", path: "/v1/runs" },
  getRun: { method: "GET", path: "/v1/runs/:runId" },
  addRunEntries: { method: "POST", path: "/v1/runs/:runId/entries" },
  queryRunEntries: { method: "GET", path: "/v1/runs/:runId/entries" },
  waitForRollouts: { method: "POST", path: "/v1/wait" },
  workers: { method: "GET", path: "/v1/workers" },
  stats: { method: "GET", path: "/v1/stats" },
  events: { method: "GET", path: "/v1/events" },
  otlpTraces: { method: "POST", path: "/v1/traces" },
} as const;
export type RouteName = keyof typeof Routes;

// ---- request envelopes (their contents are validated by the store) --------------------------

export const EnqueueBodySchema = z.union([z.strictObject({ rollout: z.unknown() }), z.strictObject({ rollouts: z.array(z.unknown()) })]);
export const AddSpansBodySchema = z.strictObject({ spans: z.array(z.unknown()) });
export const AddResourcesBodySchema = z.strictObject({ resources: z.unknown(), resourcesId: z.string().optional() });
export const RunEntriesBodySchema = z.strictObject({ entries: z.array(z.unknown()) });
export const WaitBodySchema = z.strictObject({ rolloutIds: z.array(z.unknown()), timeoutMs: z.unknown().optional() });

// ---- response envelopes ---------------------------------------------------------------------

export const EnqueueResponseSchema = z.object({ rollouts: z.array(RolloutSchema) });
export const DequeueResponseSchema = z.object({ claimed: z.array(AttemptedRolloutSchema) });
export const WaitResponseSchema = z.object({ rollouts: z.array(RolloutSchema) });
export const WorkersResponseSchema = z.object({ workers: z.array(WorkerSchema) });
export const RolloutPageSchema = pageSchema(RolloutSchema);
export const SpanPageSchema = pageSchema(SpanSchema);
export const ResourcesPageSchema = pageSchema(ResourcesSnapshotSchema);
export const RunPageSchema = pageSchema(TrainingRunSchema);
export const RunEntryPageSchema = pageSchema(RunEntrySchema);
export const HealthSchema = z.object({ status: z.literal("ok") });
export { AddRunEntriesResultSchema, TrainingRunSchema, AddSpansResultSchema, AttemptedRolloutSchema, HeartbeatResultSchema, RecordRewardResultSchema, ResourcesSnapshotSchema, RolloutSchema, StoreStatsSchema };

// ---- queries in URLs ------------------------------------------------------------------------

/** The longest a single long-poll (dequeue, wait) may hold a connection; clients re-poll for longer waits. */
export const MAX_POLL_MS = 30_000;

type QueryValue = string | number | readonly string[] | undefined;

/** Encodes a query object as URL search params (lists comma-separated; absent values left out). */
export function toSearchParams(query: Record<string, QueryValue>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    params.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

const list = (value: string | null) => (value === null ? undefined : value.split(",").filter((s) => s.length > 0));
const number = (value: string | null) => (value === null ? undefined : value.trim() === "" ? Number.NaN : Number(value));
const text = (value: string | null) => (value === null ? undefined : value);

const ROLLOUT_PARAMS = ["status", "mode", "idPrefix", "text", "minReward", "maxReward", "createdAfter", "createdBefore", "sortBy", "order", "limit", "cursor"];
const RESOURCES_PARAMS = ["limit", "cursor"];
const RUN_PARAMS = ["algorithm", "status", "limit", "cursor"];
const RUN_ENTRY_PARAMS = ["kind", "afterSequence", "limit", "cursor"];
const SPAN_PARAMS = ["attemptId", "name", "namePrefix", "limit", "cursor"];

/** An unknown or repeated parameter is rejected as the in-process store rejects an unknown key: a typo must not pass silently. */
function rejectUnknown(params: URLSearchParams, allowed: readonly string[], what: string): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) throw new ValidationError(what, [{ path: key, message: `unknown query parameter (expected one of ${allowed.join(", ")})` }]);
    // Only the first value would be read: the others must not be dropped silently.
    if (params.getAll(key).length > 1) throw new ValidationError(what, [{ path: key, message: "given more than once (list values are comma-separated)" }]);
  }
}

/** A rollout query from URL params; the store validates the result (a bad number arrives as NaN and is rejected there). */
export function rolloutQueryFromParams(params: URLSearchParams): RolloutQuery {
  rejectUnknown(params, ROLLOUT_PARAMS, "rollout query");
  return dropUndefined({
    status: list(params.get("status")),
    mode: list(params.get("mode")),
    idPrefix: text(params.get("idPrefix")),
    text: text(params.get("text")),
    minReward: number(params.get("minReward")),
    maxReward: number(params.get("maxReward")),
    createdAfter: number(params.get("createdAfter")),
    createdBefore: number(params.get("createdBefore")),
    sortBy: text(params.get("sortBy")),
    order: text(params.get("order")),
    limit: number(params.get("limit")),
    cursor: text(params.get("cursor")),
  }) as RolloutQuery;
}

/** A span query (without its rollout id, which is in the path) from URL params. */
export function spanQueryFromParams(rolloutId: string, params: URLSearchParams): SpanQuery {
  rejectUnknown(params, SPAN_PARAMS, "span query");
  return dropUndefined({
    rolloutId,
    attemptId: text(params.get("attemptId")),
    name: text(params.get("name")),
    namePrefix: text(params.get("namePrefix")),
    limit: number(params.get("limit")),
    cursor: text(params.get("cursor")),
  }) as SpanQuery;
}

/** A resources listing query from URL params. */
export function resourcesQueryFromParams(params: URLSearchParams): ResourcesQuery {
  rejectUnknown(params, RESOURCES_PARAMS, "resources query");
  return dropUndefined({ limit: number(params.get("limit")), cursor: text(params.get("cursor")) }) as ResourcesQuery;
}

/** A run listing query from URL params. */
export function runQueryFromParams(params: URLSearchParams): RunQuery {
  rejectUnknown(params, RUN_PARAMS, "run query");
  return dropUndefined({
    algorithm: list(params.get("algorithm")),
    status: list(params.get("status")),
    limit: number(params.get("limit")),
    cursor: text(params.get("cursor")),
  }) as RunQuery;
}

/** A run log query (without its run id, which is in the path) from URL params. */
export function runEntryQueryFromParams(runId: string, params: URLSearchParams): RunEntryQuery {
  rejectUnknown(params, RUN_ENTRY_PARAMS, "run entry query");
  return dropUndefined({
    runId,
    kind: list(params.get("kind")),
    afterSequence: number(params.get("afterSequence")),
    limit: number(params.get("limit")),
    cursor: text(params.get("cursor")),
  }) as RunEntryQuery;
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
