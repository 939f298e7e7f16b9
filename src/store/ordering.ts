/**
 * Query ordering shared by the backends that sort in JavaScript (memory) and documented for
 * those that sort in SQL: rollouts sort by the chosen field, ties by creation order, and a
 * missing value (`endedAt`/`finalReward` of an unfinished rollout) always comes last, whatever
 * the direction. Cursors are keyset cursors `[value, creationSeq]`.
 */
import type { ParsedRolloutQuery, Rollout } from "../types/index.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

export type RolloutSortField = ParsedRolloutQuery["sortBy"];

export function sortValue(rollout: Rollout, field: RolloutSortField): number | null {
  return field === "createdAt" ? rollout.createdAt : rollout[field];
}

/** Whether `rollout` passes the query's filters (not its cursor). */
export function matchesRolloutFilters(rollout: Rollout, query: ParsedRolloutQuery): boolean {
  if (query.status && !query.status.includes(rollout.status)) return false;
  if (query.mode && !query.mode.includes(rollout.mode)) return false;
  if (query.idPrefix !== undefined && !rollout.rolloutId.startsWith(query.idPrefix)) return false;
  if (query.createdAfter !== undefined && rollout.createdAt < query.createdAfter) return false;
  if (query.createdBefore !== undefined && rollout.createdAt >= query.createdBefore) return false;
  return true;
}

/** A position in a sorted rollout listing. */
export interface RolloutKey {
  value: number | null;
  seq: number;
}

/** Compares two keys in the query's order; nulls last in both directions, ties by seq in the same direction. */
export function compareRolloutKeys(a: RolloutKey, b: RolloutKey, order: "asc" | "desc"): number {
  const sign = order === "asc" ? 1 : -1;
  if (a.value !== b.value) {
    if (a.value === null) return 1;
    if (b.value === null) return -1;
    return sign * (a.value - b.value);
  }
  return sign * (a.seq - b.seq);
}

export function encodeRolloutCursor(key: RolloutKey): string {
  return encodeCursor([key.value, key.seq]);
}

export function decodeRolloutCursor(cursor: string): RolloutKey {
  const [value, seq] = decodeCursor(cursor, ["number?", "int"]);
  return { value: value as number | null, seq: seq as number };
}

/** A span position: the attempt's sequence within its rollout, then the span's sequence. */
export interface SpanKey {
  attemptSeq: number;
  seq: number;
}

export function encodeSpanCursor(key: SpanKey): string {
  return encodeCursor([key.attemptSeq, key.seq]);
}

export function decodeSpanCursor(cursor: string): SpanKey {
  const [attemptSeq, seq] = decodeCursor(cursor, ["int", "int"]);
  return { attemptSeq: attemptSeq as number, seq: seq as number };
}
