/**
 * Synthetic agent spans for benchmarks: shaped like what an instrumented LLM agent sends (about 20
 * attributes per span, a mix of gen_ai.* strings, a JSON message list, token counts, floats, a
 * boolean and a short number array), generated cheaply so the benchmark measures the store, not
 * the generator.
 */
import type { JsonObject, ParsedSpanInput } from "tracetrain/schemas";

/** A simulated rollout: TURNS turns of SPANS_PER_TURN spans each, then one reward span. */
export const TURNS = 3;
export const SPANS_PER_TURN = 3;
export const SPANS_PER_ROLLOUT = TURNS * SPANS_PER_TURN + 1;

export const REWARD_SPAN_NAME = "tracetrain.reward";
export const REWARD_ATTRIBUTE = "tracetrain.reward.value";

/** The attempt spans are sent for. */
export interface SpanTarget {
  rolloutId: string;
  attemptId: string;
}

// Counter-based ids: unique within the process (so warm-up and measured runs never collide) and far
// cheaper than crypto randomness per span. Counters start at 1 and the trace prefix is non-zero, so
// no id is ever all zeros (the "invalid" id in OpenTelemetry).
let spanCounter = 0;
let traceCounter = 0;
const TRACE_PREFIX = "7472616365747261"; // "tracetra" in hex

export function nextSpanId(): string {
  return (++spanCounter).toString(16).padStart(16, "0");
}

export function nextTraceId(): string {
  return TRACE_PREFIX + (++traceCounter).toString(16).padStart(16, "0");
}

const MODEL = "gpt-4o-mini-2024-07-18";

// Message lists are serialized once, up front: that is the agent's cost, not the store's. The store
// still validates, copies and serializes every span's attributes, strings included.
const PROMPTS: readonly string[] = Array.from({ length: TURNS }, (_, turn) =>
  JSON.stringify([
    { role: "system", content: "You are a careful SQL assistant. Answer with one SQL query." },
    { role: "user", content: `Turn ${turn + 1}: how many orders did each customer place in March, highest first?` },
  ]),
);
const COMPLETIONS: readonly string[] = Array.from({ length: TURNS }, (_, turn) =>
  JSON.stringify([
    {
      role: "assistant",
      content:
        "SELECT customer_id, COUNT(*) AS n FROM orders WHERE strftime('%m', placed_at) = '03' " +
        `GROUP BY customer_id ORDER BY n DESC LIMIT ${10 + turn};`,
    },
  ]),
);

/**
 * Twenty attributes of an LLM-call-like span; `n` varies the numbers from span to span. Every turn
 * span carries them: what costs the store is the payload, not what the attributes mean.
 */
function turnAttributes(turn: number, n: number): JsonObject {
  return {
    "gen_ai.system": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": MODEL,
    "gen_ai.response.model": MODEL,
    "gen_ai.response.id": `chatcmpl-${n.toString(36)}`,
    "gen_ai.response.finish_reason": "stop",
    "gen_ai.request.temperature": 0.7,
    "gen_ai.request.top_p": 0.95,
    "gen_ai.request.max_tokens": 1024,
    "gen_ai.usage.input_tokens": 412 + turn * 187 + (n % 31),
    "gen_ai.usage.output_tokens": 57 + (n % 97),
    "gen_ai.prompt": PROMPTS[turn] ?? "[]",
    "gen_ai.completion": COMPLETIONS[turn] ?? "[]",
    "server.address": "api.openai.com",
    "server.port": 443,
    "tracetrain.turn": turn,
    "tracetrain.latency_ms": 31.4 + (n % 13) * 0.37,
    "tracetrain.streamed": n % 2 === 0,
    "tracetrain.logprob_mean": -0.4123 - (n % 7) * 0.0131,
    "tracetrain.response.token_ids": [1734, 2917 + (n % 50), 315, 11, 6871, 279, 4320 + turn, 13],
  };
}

/** What varies between the spans of a rollout; everything else is fixed. */
interface SpanShape {
  spanId: string;
  parentId: string | null;
  name: string;
  start: number;
  end: number;
  attributes: JsonObject;
}

function span(target: SpanTarget, traceId: string, shape: SpanShape): ParsedSpanInput {
  return {
    rolloutId: target.rolloutId,
    attemptId: target.attemptId,
    traceId,
    spanId: shape.spanId,
    parentId: shape.parentId,
    name: shape.name,
    kind: "internal",
    startTime: shape.start,
    endTime: shape.end,
    status: { code: "ok" },
    attributes: shape.attributes,
    events: [],
    links: [],
  };
}

/** One agent turn: the turn span and, under it, an LLM call and a tool call. */
export function turnSpans(target: SpanTarget, traceId: string, turn: number): ParsedSpanInput[] {
  const t = Date.now();
  const turnId = nextSpanId();
  const child = (name: string, start: number, end: number): ParsedSpanInput => {
    const spanId = nextSpanId();
    return span(target, traceId, { spanId, parentId: turnId, name, start, end, attributes: turnAttributes(turn, spanCounter) });
  };
  return [
    child(`chat ${MODEL}`, t + 0.3, t + 31.7),
    child("tool sql_query", t + 32.1, t + 41.9),
    // The parent ends last, so a tracer exports it last.
    span(target, traceId, {
      spanId: turnId,
      parentId: null,
      name: "agent.turn",
      start: t,
      end: t + 42.5,
      attributes: turnAttributes(turn, spanCounter),
    }),
  ];
}

/** The outcome-reward span a runner sends before completing the attempt. */
export function rewardSpan(target: SpanTarget, traceId: string, reward: number): ParsedSpanInput {
  const now = Date.now();
  const attributes = { [REWARD_ATTRIBUTE]: reward };
  return span(target, traceId, { spanId: nextSpanId(), parentId: null, name: REWARD_SPAN_NAME, start: now, end: now, attributes });
}

/** A deterministic reward in [0, 1) for the n-th rollout. */
export function rewardFor(n: number): number {
  return (n % 10) / 10;
}

/** Every span of one rollout, in the batches a runner sends them: one per turn, then the reward. */
export function rolloutBatches(target: SpanTarget, traceId: string, reward: number): ParsedSpanInput[][] {
  const batches = Array.from({ length: TURNS }, (_, turn) => turnSpans(target, traceId, turn));
  batches.push([rewardSpan(target, traceId, reward)]);
  return batches;
}
