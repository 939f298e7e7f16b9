/**
 * `POST /v1/rollouts/:rolloutId/attempts/:attemptId/rewards`: records a reward for an agent that
 * has no tracetrain SDK — a Python script, a shell command, anything that can send JSON. The
 * reward becomes the same `tracetrain.reward` span `emitReward` writes in process (only its layer
 * says `external`), so adapters, exports and the runner's outcome reward treat both alike.
 */
import type { RecordRewardResult, SpanInput } from "../types/index.js";
import { Attr, RecordRewardRequestSchema, SpanNames, SpanTypes, newSpanId, newTraceId, nowMs, parseOrThrow, rewardRecord } from "../types/index.js";
import { type Store, Routes, parseRequest } from "../store/index.js";
import { type Route, parseJsonBody, sendJson } from "../http/index.js";

/** The reward endpoint as a route of the store server. */
export function createRewardRoute(store: Store): Route {
  const { method, path } = Routes.recordReward;
  return {
    method,
    path,
    async handle(_request, response, body, context): Promise<void> {
      const result = await recordReward(store, context.params.rolloutId ?? "", context.params.attemptId ?? "", parseJsonBody(body));
      context.metrics.spansIngested++;
      sendJson(response, 200, result);
    },
  };
}

/**
 * Validates the request, stores one reward span in the attempt and says which span it was. An
 * unknown rollout or attempt, or an attempt of another rollout, is the store's NotFoundError (404);
 * an ended attempt still takes the span, as it takes any late span.
 */
export async function recordReward(store: Store, rolloutId: string, attemptId: string, body: unknown): Promise<RecordRewardResult> {
  // The ids come from the path: checked first, so an error names them rather than a span field.
  parseRequest.rolloutId(rolloutId);
  parseRequest.attemptId(attemptId);
  const { value, time, ...options } = parseOrThrow(RecordRewardRequestSchema, body, "reward request");
  const reward = rewardRecord(value, options);
  const at = time ?? nowMs();
  const span: SpanInput = {
    rolloutId,
    attemptId,
    // The sender has no trace of its own here: the reward span is the root of a trace of one.
    traceId: newTraceId(),
    spanId: newSpanId(),
    parentId: null,
    name: SpanNames.reward,
    kind: "internal",
    startTime: at,
    endTime: at,
    attributes: { [Attr.layer]: "external", [Attr.spanType]: SpanTypes.reward, ...reward.attributes },
    events: [{ name: reward.event.name, time: at, attributes: reward.event.attributes }],
    links: [],
  };
  await store.addSpans([span]);
  return { spanId: span.spanId, final: reward.final };
}
