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

/** How a query parameter's text is read: a comma-separated list, a number, or text as it is. */
type ParamKind = "list" | "number" | "text";

const READ: Record<ParamKind, (value: string) => unknown> = {
  list: (value) => value.split(",").filter((s) => s.length > 0),
  // A bad number arrives as NaN, which the store's schema rejects naming the field.
  number: (value) => (value.trim() === "" ? Number.NaN : Number(value)),
  text: (value) => value,
};

const ROLLOUT_PARAMS: Record<string, ParamKind> = {
  status: "list", mode: "list", idPrefix: "text", text: "text", minReward: "number", maxReward: "number",
  createdAfter: "number", createdBefore: "number", sortBy: "text", order: "text", limit: "number", cursor: "text",
};
const SPAN_PARAMS: Record<string, ParamKind> = { attemptId: "text", name: "text", namePrefix: "text", limit: "number", cursor: "text" };
const RESOURCES_PARAMS: Record<string, ParamKind> = { limit: "number", cursor: "text" };
const RUN_PARAMS: Record<string, ParamKind> = { algorithm: "list", status: "list", limit: "number", cursor: "text" };
const RUN_ENTRY_PARAMS: Record<string, ParamKind> = { kind: "list", afterSequence: "number", limit: "number", cursor: "text" };

/**
 * Rejects a query parameter not in `allowed`, or one given twice, as the in-process store rejects
 * an unknown key: a typo must not pass silently, and only the first of two values would be read.
 */
export function rejectUnknownParams(params: URLSearchParams, allowed: readonly string[], what: string): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      const expected = allowed.length === 0 ? "this route takes no query parameter" : `unknown query parameter (expected one of ${allowed.join(", ")})`;
      throw new ValidationError(what, [{ path: key, message: expected }]);
    }
    if (params.getAll(key).length > 1) throw new ValidationError(what, [{ path: key, message: "given more than once (list values are comma-separated)" }]);
  }
}

/** The query `fields` describe, read from URL params (absent ones left out); the store validates the result. */
function queryFromParams(params: URLSearchParams, fields: Record<string, ParamKind>, what: string): Record<string, unknown> {
  rejectUnknownParams(params, Object.keys(fields), what);
  const query: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(fields)) {
    const value = params.get(key);
    if (value !== null) query[key] = READ[kind](value);
  }
  return query;
}

/** A rollout query from URL params. */
export function rolloutQueryFromParams(params: URLSearchParams): RolloutQuery {
  return queryFromParams(params, ROLLOUT_PARAMS, "rollout query") as RolloutQuery;
}

/** A span query (without its rollout id, which is in the path) from URL params. */
export function spanQueryFromParams(rolloutId: string, params: URLSearchParams): SpanQuery {
  return { rolloutId, ...queryFromParams(params, SPAN_PARAMS, "span query") } as SpanQuery;
}

/** A resources listing query from URL params. */
export function resourcesQueryFromParams(params: URLSearchParams): ResourcesQuery {
  return queryFromParams(params, RESOURCES_PARAMS, "resources query") as ResourcesQuery;
}

/** A run listing query from URL params. */
export function runQueryFromParams(params: URLSearchParams): RunQuery {
  return queryFromParams(params, RUN_PARAMS, "run query") as RunQuery;
}

/** A run log query (without its run id, which is in the path) from URL params. */
export function runEntryQueryFromParams(runId: string, params: URLSearchParams): RunEntryQuery {
  return { runId, ...queryFromParams(params, RUN_ENTRY_PARAMS, "run entry query") } as RunEntryQuery;
}
