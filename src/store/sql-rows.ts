/** What the SQL engines (SQLite, PostgreSQL) share in how rows become records. */
import type { Attempt, AttemptStatus, ErrorKind, Page } from "../types/index.js";

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
