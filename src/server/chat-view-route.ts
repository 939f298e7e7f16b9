/**
 * `GET /v1/rollouts/:rolloutId/attempts/:attemptId/chat`: the LLM calls of one attempt as chat —
 * prompt messages, response, tool calls and the tool spans that ran them — read by the adapters
 * exactly as training reads them, so what the dashboard shows is what a trainer would get. Read
 * only; behind the bearer token like the rest of the API.
 */
import { NotFoundError, type Span, TracetrainError } from "../types/index.js";
import type { Store } from "../store/index.js";
import { type Route, sendJson } from "../http/index.js";
import { type ExtractedCall, adaptSpans } from "../adapters/index.js";

/** The most spans one chat view reads: a bigger attempt is refused rather than loaded whole. */
const MAX_SPANS = 100_000;

/** The chat-view route over `store`; `startStoreServer` adds it with the dashboard. */
export function createChatViewRoute(store: Store): Route {
  return {
    method: "GET",
    path: "/v1/rollouts/:rolloutId/attempts/:attemptId/chat",
    async handle(_request, response, _body, { params }) {
      const rolloutId = params.rolloutId ?? "";
      const attemptId = params.attemptId ?? "";
      const rollout = await store.getRollout(rolloutId); // a NotFoundError (404) names a rollout that does not exist
      if (!rollout.attempts.some((a) => a.attemptId === attemptId)) throw new NotFoundError("attempt", `${rolloutId}/${attemptId}`);
      const spans = await attemptSpans(store, rolloutId, attemptId);
      const attempt = adaptSpans(spans).find((a) => a.attemptId === attemptId);
      sendJson(response, 200, { rolloutId, attemptId, calls: (attempt?.calls ?? []).map(chatCall) });
    },
  };
}

async function attemptSpans(store: Store, rolloutId: string, attemptId: string): Promise<Span[]> {
  const spans: Span[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.querySpans({ rolloutId, attemptId, limit: 10_000, ...(cursor ? { cursor } : {}) });
    spans.push(...page.items);
    if (spans.length > MAX_SPANS) {
      throw new TracetrainError("payload_too_large", `attempt ${attemptId} has over ${MAX_SPANS} spans: too many for one chat view`, { limit: "spans", max: MAX_SPANS });
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return spans;
}

/** One call in the chat view: the page reads this shape (src/dashboard/records.ts, `ChatCall`). */
function chatCall(call: ExtractedCall) {
  return {
    callId: call.callId,
    agentName: call.agentName ?? null,
    model: call.model ?? null,
    selected: call.selected,
    exclusion: call.exclusion ?? null,
    prompt: call.promptMessages ?? [],
    responses: call.choices.map((c) => ({ message: c.message ?? null, finishReason: c.finishReason ?? null })),
    toolUses: call.toolUses,
    problems: call.messageProblems,
  };
}
