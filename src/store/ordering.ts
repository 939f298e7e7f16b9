/**
 * Query ordering shared by the backends that sort in JavaScript (memory) and documented for
 * those that sort in SQL: rollouts sort by the chosen field, ties by creation order, and a
 * missing value (`endedAt`/`finalReward`/`duration` of an unfinished rollout) always comes last,
 * whatever the direction. Cursors are keyset cursors `[sort, value, creationSeq]`.
 */
import type { ParsedRolloutQuery, Rollout } from "../types/index.js";
import { ValidationError } from "../types/index.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

export type RolloutSortField = ParsedRolloutQuery["sortBy"];

export function sortValue(rollout: Rollout, field: RolloutSortField): number | null {
  if (field === "createdAt") return rollout.createdAt;
  if (field === "duration") return rollout.endedAt === null ? null : rollout.endedAt - rollout.createdAt;
  return rollout[field];
}

/**
 * Lower-cases A–Z only, as SQLite's `lower()` does: every backend then folds the same letters,
 * so a `text` filter finds the same rollouts everywhere.
 */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** Whether `rollout` passes the query's filters (not its cursor). */
export function matchesRolloutFilters(rollout: Rollout, query: ParsedRolloutQuery): boolean {
  if (query.status && !query.status.includes(rollout.status)) return false;
  if (query.mode && !query.mode.includes(rollout.mode)) return false;
  if (query.idPrefix !== undefined && !rollout.rolloutId.startsWith(query.idPrefix)) return false;
  if (query.createdAfter !== undefined && rollout.createdAt < query.createdAfter) return false;
  if (query.createdBefore !== undefined && rollout.createdAt >= query.createdBefore) return false;
  if (!withinRewardRange(rollout.finalReward, query)) return false;
  if (query.text !== undefined) {
    const needle = asciiLower(query.text);
    if (!asciiLower(rollout.rolloutId).includes(needle) && !asciiLower(JSON.stringify(rollout.input)).includes(needle)) return false;
  }
  return true;
}

function withinRewardRange(reward: number | null, query: ParsedRolloutQuery): boolean {
  if (query.minReward === undefined && query.maxReward === undefined) return true;
  if (reward === null) return false;
  return (query.minReward === undefined || reward >= query.minReward) && (query.maxReward === undefined || reward <= query.maxReward);
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

type RolloutOrder = Pick<ParsedRolloutQuery, "sortBy" | "order">;

/** The cursor names its sort, so a cursor reused under another sort is rejected instead of skipping rows. */
export function encodeRolloutCursor(query: RolloutOrder, key: RolloutKey): string {
  return encodeCursor([`${query.sortBy}.${query.order}`, key.value, key.seq]);
}

export function decodeRolloutCursor(query: RolloutOrder, cursor: string): RolloutKey {
  const [sort, value, seq] = decodeCursor(cursor, ["string", "number?", "int"]);
  if (sort !== `${query.sortBy}.${query.order}`) {
    throw new ValidationError("cursor", [
      { path: "cursor", message: `was issued for sortBy/order ${String(sort)}, not ${query.sortBy}.${query.order}; start again without a cursor` },
    ]);
  }
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
