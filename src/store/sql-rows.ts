/** What the SQL engines (SQLite, PostgreSQL) share in how rows become records. */
import type {
  Attempt,
  AttemptStatus,
  ErrorKind,
  JsonObject,
  Page,
  ParsedRolloutQuery,
  RunEntry,
  RunStatus,
  TrainingRun,
} from "../types/index.js";
import type { RolloutKey } from "./ordering.js";

/** The attempt columns both SQL schemas have. */
export interface AttemptColumns {
  attempt_id: string;
  rollout_id: string;
  sequence: number;
  worker_id: string | null;
  status: string;
  started_at: number;
  ended_at: number | null;
  last_heartbeat_at: number;
  error_kind: string | null;
  error_message: string | null;
  final_reward: number | null;
  span_count: number;
}

export function attemptFromRow(row: AttemptColumns): Attempt {
  return {
    rolloutId: row.rollout_id,
    attemptId: row.attempt_id,
    sequence: row.sequence,
    workerId: row.worker_id,
    status: row.status as AttemptStatus,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    error: row.error_kind === null ? null : { kind: row.error_kind as ErrorKind, message: row.error_message ?? "" },
    finalReward: row.final_reward,
    spanCount: row.span_count,
  };
}

/**
 * A page from rows fetched with `LIMIT limit + 1`: the extra row only tells that there is more,
 * and the cursor points after the last row kept.
 */
export function pageFromRows<R, T>(rows: R[], limit: number, toItem: (row: R) => T, cursorAfter: (row: R) => string): Page<T> {
  const kept = rows.slice(0, limit);
  const last = kept.at(-1);
  return { items: kept.map(toItem), nextCursor: rows.length > limit && last !== undefined ? cursorAfter(last) : null };
}

/** One index-ordered scan of a sorted rollout listing (see {@link sortedRolloutRows}). */
export type RolloutScan =
  /** Rows that have a sort value, in sort order, after `after` when given. */
  | { nulls: false; after?: { value: number; seq: number } }
  /** Rows without a sort value, in creation order (in the query's direction), after `afterSeq` when given. */
  | { nulls: true; afterSeq?: number };

/**
 * The rows of one page (plus one, to tell whether there is more) of a sorted rollout listing, as at
 * most two scans that each follow an index instead of one sort of every matching row: the rows
 * with a sort value, then — missing values coming last in both directions — the rows without.
 */
export async function sortedRolloutRows<R>(
  query: ParsedRolloutQuery,
  after: RolloutKey | undefined,
  scan: (what: RolloutScan, limit: number) => Promise<R[]> | R[],
): Promise<R[]> {
  const wanted = query.limit + 1;
  const rows: R[] = [];
  if (after === undefined || after.value !== null) {
    rows.push(...(await scan({ nulls: false, ...(after ? { after: { value: after.value!, seq: after.seq } } : {}) }, wanted)));
  }
  // createdAt is never missing.
  if (rows.length < wanted && query.sortBy !== "createdAt") {
    rows.push(...(await scan({ nulls: true, ...(after?.value === null ? { afterSeq: after.seq } : {}) }, wanted - rows.length)));
  }
  return rows;
}

/** The run columns both SQL schemas have; JSON arrives as text (SQLite) or parsed (PostgreSQL), so `J` is either. */
export interface RunColumns<J> {
  run_id: string;
  algorithm: string;
  status: string;
  created_at: number;
  updated_at: number;
  config: J;
  summary: J | null;
  entries: number;
}

/** The run entry columns both SQL schemas have. */
export interface RunEntryColumns<J> {
  run_id: string;
  sequence: number;
  kind: string;
  key: string | null;
  at: number;
  data: J;
}

export function runFromRow<J>(row: RunColumns<J>, json: (value: J) => JsonObject): TrainingRun {
  return {
    runId: row.run_id,
    algorithm: row.algorithm,
    status: row.status as RunStatus,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    config: json(row.config),
    summary: row.summary === null ? null : json(row.summary),
    entries: row.entries,
  };
}

export function runEntryFromRow<J>(row: RunEntryColumns<J>, json: (value: J) => JsonObject): RunEntry {
  return { runId: row.run_id, sequence: row.sequence, kind: row.kind, key: row.key, at: row.at, data: json(row.data) };
}
