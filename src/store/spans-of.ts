import type { Span } from "../types/index.js";
import type { Store } from "./store.js";

/** Every span the store holds for one attempt, in sequence order, page by page. */
export async function spansOf(store: Pick<Store, "querySpans">, rolloutId: string, attemptId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId, limit: 1000, ...(cursor ? { cursor } : {}) });
    spans.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return spans;
}
