/**
 * Reading one attempt's spans for the dashboard's routes: the attempt must exist (a 404 names what
 * does not), and an attempt too big to show is refused rather than loaded whole.
 */
import { NotFoundError, type Rollout, type Span } from "../types/index.js";
import { type Store, spanPages, spansOf } from "../store/index.js";

/** The most spans one trace view reads. */
export const MAX_VIEW_SPANS = 100_000;
const PAGE = 10_000;

/** The rollout and every span of its attempt, in the store's order; NotFoundError for an unknown rollout or attempt. */
export async function readAttempt(store: Store, rolloutId: string, attemptId: string): Promise<{ rollout: Rollout; spans: Span[] }> {
  const rollout = await rolloutWithAttempt(store, rolloutId, attemptId);
  return { rollout, spans: await spansOf(store, rolloutId, attemptId, { pageSize: PAGE, max: MAX_VIEW_SPANS }) };
}

/** One span of the attempt, found page by page (the store has no lookup by span id). */
export async function attemptSpan(store: Store, rolloutId: string, attemptId: string, spanId: string): Promise<Span> {
  await rolloutWithAttempt(store, rolloutId, attemptId);
  for await (const page of spanPages(store, rolloutId, attemptId, PAGE)) {
    const found = page.find((s) => s.spanId === spanId);
    if (found) return found;
  }
  throw new NotFoundError("span", spanId, `span '${spanId}' not found in attempt '${attemptId}' of rollout '${rolloutId}'`);
}

/** The rollout, if it has that attempt; otherwise a NotFoundError (404) naming what does not exist. */
async function rolloutWithAttempt(store: Store, rolloutId: string, attemptId: string): Promise<Rollout> {
  const rollout = await store.getRollout(rolloutId);
  if (!rollout.attempts.some((a) => a.attemptId === attemptId)) throw NotFoundError.attempt(rolloutId, attemptId);
  return rollout;
}

