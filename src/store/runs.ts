/**
 * Ordering, cursors and errors for the listings beside rollouts: runs (most recently updated first, ties
 * by runId descending), a run's log (by sequence) and resources snapshots (newest version first).
 * Shared by every engine so their pages agree item for item.
 */
import { ConflictError, type TrainingRun } from "../types/index.js";
import { decodeCursor, encodeCursor } from "./cursor.js";

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

/** A cursor that remembers one non-negative integer: the last entry sequence or snapshot version returned. */
export function encodeCountCursor(value: number): string {
  return encodeCursor([value]);
}

export function decodeCountCursor(cursor: string): number {
  return decodeCursor(cursor, ["int"])[0] as number;
}

/** The error for a runId that another algorithm's run already holds. */
export function runOwnedElsewhere(run: TrainingRun, algorithm: string): ConflictError {
  return new ConflictError(`run '${run.runId}' belongs to a ${run.algorithm} run; a ${algorithm} run cannot reuse its runId`, { runId: run.runId, algorithm: run.algorithm });
}
