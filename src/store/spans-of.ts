import { type Span, TracetrainError } from "../types/index.js";
import type { Store } from "./store.js";

/** How {@link spansOf} reads: its page size, and a cap past which it refuses instead of loading on. */
export interface SpansOfOptions {
  /** Spans per request (default 1000; at most 10,000). */
  pageSize?: number;
  /** The most spans to load: one more is a `payload_too_large` error, read no further. */
  max?: number;
}

/** The pages of one attempt's spans in sequence order (`"latest"`: the rollout's last attempt). */
export async function* spanPages(store: Pick<Store, "querySpans">, rolloutId: string, attemptId: string, pageSize = 1000): AsyncGenerator<Span[]> {
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId, limit: pageSize, ...(cursor ? { cursor } : {}) });
    yield page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/** Every span the store holds for one attempt (`"latest"`: the rollout's last attempt), in sequence order, page by page. */
export async function spansOf(store: Pick<Store, "querySpans">, rolloutId: string, attemptId: string, options: SpansOfOptions = {}): Promise<Span[]> {
  const spans: Span[] = [];
  for await (const page of spanPages(store, rolloutId, attemptId, options.pageSize)) {
    for (const span of page) spans.push(span);
    if (options.max !== undefined && spans.length > options.max) {
      throw new TracetrainError("payload_too_large", `attempt ${attemptId} has over ${options.max} spans: too many to load at once`, { limit: "spans", max: options.max });
    }
  }
  return spans;
}
