import type { AttemptRef, AttemptedRollout, SpanInput } from "../types/index.js";

let counter = 0;

/** A fresh, valid hex id of `length` characters (never all zeros), unique within the process. */
export function hexId(length: 16 | 32): string {
  counter++;
  return counter.toString(16).padStart(length, "0");
}

/** A valid span for an attempt, with unique ids; `overrides` replace any field. */
export function makeSpan(target: AttemptedRollout | AttemptRef, overrides: Partial<SpanInput> = {}): SpanInput {
  // An agent's `ctx.rollout` has an `attempt` too — its number, not a record.
  const ref = "attempt" in target && typeof target.attempt === "object" ? target.attempt : (target as AttemptRef);
  const now = Date.now();
  return {
    rolloutId: ref.rolloutId,
    attemptId: ref.attemptId,
    traceId: hexId(32),
    spanId: hexId(16),
    name: "test.span",
    startTime: now,
    endTime: now + 1,
    ...overrides,
  };
}
