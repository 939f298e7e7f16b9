/**
 * Reading one attempt's spans for the dashboard's routes: the attempt must exist (a 404 names what
 * does not), and an attempt too big to show is refused rather than loaded whole.
 */
import { NotFoundError, type Rollout, type Span, TracetrainError } from "../types/index.js";
import type { Store } from "../store/index.js";

/** The most spans one trace view reads. */
export const MAX_VIEW_SPANS = 100_000;
const PAGE = 10_000;

/** Every span of the attempt, in the store's order; NotFoundError for an unknown rollout or attempt. */
export async function attemptSpans(store: Store, rolloutId: string, attemptId: string): Promise<Span[]> {
  await rolloutWithAttempt(store, rolloutId, attemptId);
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId, limit: PAGE, ...(cursor ? { cursor } : {}) });
    spans.push(...page.items);
    if (spans.length > MAX_VIEW_SPANS) {
      throw new TracetrainError("payload_too_large", `attempt ${attemptId} has over ${MAX_VIEW_SPANS} spans: too many for one trace view`, { limit: "spans", max: MAX_VIEW_SPANS });
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return spans;
}

/** One span of the attempt, found page by page (the store has no lookup by span id). */
export async function attemptSpan(store: Store, rolloutId: string, attemptId: string, spanId: string): Promise<Span> {
  await rolloutWithAttempt(store, rolloutId, attemptId);
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId, limit: PAGE, ...(cursor ? { cursor } : {}) });
    const found = page.items.find((s) => s.spanId === spanId);
    if (found) return found;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  throw new NotFoundError("span", spanId, `span '${spanId}' not found in attempt '${attemptId}' of rollout '${rolloutId}'`);
}

/** The rollout, if it has that attempt; otherwise a NotFoundError (404) naming what does not exist. */
export async function rolloutWithAttempt(store: Store, rolloutId: string, attemptId: string): Promise<Rollout> {
  const rollout = await store.getRollout(rolloutId);
  if (!rollout.attempts.some((a) => a.attemptId === attemptId)) throw NotFoundError.attempt(rolloutId, attemptId);
  return rollout;
}

