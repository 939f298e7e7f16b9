/**
 * Hand-built span sets in the tracer's format, for table-driven tests: ids are derived from small
 * numbers so expectations stay readable.
 */
import type { JsonValue, Span } from "tracetrain";

export const RO = "ro-1";
export const AT = "at-1";
const TRACE = "0af7651916cd43dd8448eb211c80319c";

/** Span id `n` as 16 hex digits. */
export const sid = (n: number): string => n.toString(16).padStart(16, "0");

export interface SpanFields {
  parent?: number | null;
  seq?: number;
  start?: number;
  end?: number;
  name?: string;
  status?: Span["status"];
  attributes?: Record<string, JsonValue>;
  rolloutId?: string;
  attemptId?: string;
}

/** Span `id` (a number) with its sequence defaulting to `id` and times `[id, id + 0.5]`. */
export function span(id: number, fields: SpanFields = {}): Span {
  return {
    rolloutId: fields.rolloutId ?? RO,
    attemptId: fields.attemptId ?? AT,
    traceId: TRACE,
    spanId: sid(id),
    parentId: fields.parent === undefined || fields.parent === null ? null : sid(fields.parent),
    name: fields.name ?? `span ${id}`,
    kind: "internal",
    startTime: fields.start ?? id,
    endTime: fields.end ?? id + 0.5,
    status: fields.status ?? { code: "ok" },
    attributes: fields.attributes ?? {},
    events: [],
    links: [],
    sequence: fields.seq ?? id,
  };
}

export interface LlmFields extends SpanFields {
  agent?: string;
  responseId?: string;
  type?: "llm" | "llm_run";
  prompt?: number[];
  response?: number[];
  logprobs?: number[];
  input?: JsonValue[];
  output?: JsonValue;
  extra?: Record<string, JsonValue>;
}

/** An LLM-call span as the tracer writes it. */
export function llm(id: number, f: LlmFields = {}): Span {
  const attributes: Record<string, JsonValue> = {
    "tracetrain.span.type": f.type ?? "llm",
    "tracetrain.layer": "openai",
    "gen_ai.operation.name": "chat",
    "gen_ai.input.messages": f.input ?? [{ role: "user", content: `question ${id}` }],
    "gen_ai.output.messages": [f.output ?? { role: "assistant", content: `answer ${id}`, finish_reason: "stop" }],
    ...(f.agent === undefined ? {} : { "tracetrain.agent.name": f.agent }),
    ...(f.responseId === undefined ? {} : { "gen_ai.response.id": f.responseId }),
    ...(f.prompt === undefined ? {} : { "tracetrain.llm.prompt_token_ids": f.prompt }),
    ...(f.response === undefined ? {} : { "tracetrain.llm.response_token_ids": [f.response] }),
    ...(f.logprobs === undefined ? {} : { "tracetrain.llm.logprobs": [f.logprobs] }),
    ...f.extra,
  };
  return span(id, { ...f, name: f.name ?? "chat mock-model", attributes: { ...attributes, ...f.attributes } });
}

export interface RewardFields extends SpanFields {
  final?: boolean;
  callId?: string;
  agent?: string;
}

/** A reward span as `emitReward` writes it (`final` omitted unless given). */
export function reward(id: number, value: number, f: RewardFields = {}): Span {
  return span(id, {
    ...f,
    name: "tracetrain.reward",
    attributes: {
      "tracetrain.span.type": "reward",
      "tracetrain.reward.value": value,
      ...(f.final === undefined ? {} : { "tracetrain.reward.final": f.final }),
      ...(f.callId === undefined ? {} : { "tracetrain.reward.call_id": f.callId }),
      ...(f.agent === undefined ? {} : { "tracetrain.agent.name": f.agent }),
      ...f.attributes,
    },
  });
}

/** An agent span (`withAgent`). */
export function agentSpan(id: number, name: string, f: SpanFields = {}): Span {
  return span(id, { ...f, name: `invoke_agent ${name}`, attributes: { "tracetrain.span.type": "agent", "gen_ai.agent.name": name, "tracetrain.agent.name": name, ...f.attributes } });
}

/** A root span. */
export function root(id: number, f: SpanFields = {}): Span {
  return span(id, { ...f, name: "tracetrain.rollout", attributes: { "tracetrain.span.type": "rollout", ...f.attributes } });
}

/** mulberry32: a small seeded PRNG, so a failure is reproducible from its seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
export type Rng = ReturnType<typeof rng>;
