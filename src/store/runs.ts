/**
 * Ordering, cursors and errors for the listings beside rollouts: runs (most recently updated first, ties
 * by runId descending), a run's log (by sequence) and resources snapshots (newest version first).
 * Shared by every engine so their pages agree item for item.
 */
import { ConflictError, type ParsedRunEntryQuery, type TrainingRun } from "../types/index.js";
import { decodeCursor, encodeCursor, foreignCursor } from "./cursor.js";

/** Orders runs for listing: later `updatedAt` first, then `runId` descending. */
export function compareRuns(a: Pick<TrainingRun, "updatedAt" | "runId">, b: Pick<TrainingRun, "updatedAt" | "runId">): number {
  if (a.updatedAt !== b.updatedAt) return b.updatedAt - a.updatedAt;
  return a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0;
}

export interface RunKey {
  updatedAt: number;
  runId: string;
}

export function encodeRunCursor(run: RunKey): string {
  return encodeCursor([run.updatedAt, run.runId]);
}

export function decodeRunCursor(cursor: string): RunKey {
  const [updatedAt, runId] = decodeCursor(cursor, ["number", "string"]);
  return { updatedAt: updatedAt as number, runId: runId as string };
}

/**
 * The listings whose cursor remembers one non-negative integer: a run's log (the last sequence
 * returned) and resources (the last version). The cursor names its listing, so one listing's
 * cursor is refused by the other instead of being read as a position in it.
 */
export type CountListing = "entries" | "resources";

export function encodeCountCursor(listing: CountListing, value: number): string {
  return encodeCursor([listing, value]);
}

export function decodeCountCursor(listing: CountListing, cursor: string): number {
  const [tag, value] = decodeCursor(cursor, ["string", "int"]);
  if (tag !== listing) throw foreignCursor();
  return value as number;
}

/**
 * Where a page of a run's log starts: after `afterSequence` and after the cursor's sequence,
 * whichever is later (a reader may pass both while it follows a growing log).
 */
export function runEntriesStart(query: ParsedRunEntryQuery): number {
  return Math.max(query.afterSequence ?? 0, query.cursor === undefined ? 0 : decodeCountCursor("entries", query.cursor));
}

/** The error for a runId that another algorithm's run already holds. */
export function runOwnedElsewhere(run: TrainingRun, algorithm: string): ConflictError {
  return new ConflictError(`run '${run.runId}' belongs to a ${run.algorithm} run; a ${algorithm} run cannot reuse its runId`, { runId: run.runId, algorithm: run.algorithm });
}
