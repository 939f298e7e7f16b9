import type { Store } from "../store/index.js";
import type { Span } from "../types/index.js";

/** Every span of one attempt, page by page. */
export async function spansOf(store: Store, rolloutId: string, attemptId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId, limit: 1000, ...(cursor ? { cursor } : {}) });
    spans.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return spans;
}
