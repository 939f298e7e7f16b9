/**
 * Property test: on arbitrary well-formed span sets (valid spans, any JSON in their attributes —
 * malformed messages, token ids, rewards; missing parents, cycles, duplicate ids and response
 * ids), no adapter throws, every output satisfies its schema, the input is left unchanged, and the
 * output is deterministic — also when the same stored spans arrive in another order.
 */
import { describe, expect, it } from "vitest";
import { ChatRecordSchema, MergedSampleSchema, SpanInputSchema, SpanSchema, TokenRecordSchema, TrajectorySchema, TransitionSchema } from "tracetrain/schemas";
import { type JsonValue, type Span, TraceAdapter } from "tracetrain";
import { discountedCredit, finalCredit, lastCallCredit, perCallCredit, summarizeDiagnostics, toChatMessages, toTransitions } from "tracetrain/adapters";
import { type Rng, rng, sid } from "./build.js";


const AGENTS = ["writer", "checker", "rewriter", "judge"];
const TYPES = ["llm", "llm", "llm", "llm_run", "reward", "reward", "tool", "agent", "rollout", "chain", "junk"];

function tokens(r: Rng, n = r.int(6)): number[] {
  return Array.from({ length: n }, () => r.int(20));
}

function junk(r: Rng): JsonValue {
  return r.pick<JsonValue>(["text", "[not json", "[1, 2", 42, -1, 1.5, true, null, {}, { a: [1, { b: null }] }, [], [null], ["x"], [[1, -2]], [{ role: 5 }], [{ role: "user", content: 3 }]]);
}

function message(r: Rng, role = r.pick(["system", "user", "assistant", "tool"])): JsonValue {
  const m: { [key: string]: JsonValue } = { role, content: r.pick<JsonValue>(["hi", "", null, [{ type: "text", text: "part" }], "tool says 3"]) };
  if (role === "assistant" && r.chance(0.4)) m.tool_calls = [{ id: `call_${r.int(3)}`, type: "function", function: { name: r.pick(["add", "search"]), arguments: r.pick(['{"a":1}', "{}", "oops"]) } }];
  if (role === "tool") m.tool_call_id = `call_${r.int(3)}`;
  if (r.chance(0.2)) m.finish_reason = r.pick(["stop", "tool_calls", "length"]);
  return m;
}

function messages(r: Rng): JsonValue {
  if (r.chance(0.15)) return junk(r);
  const list = Array.from({ length: 1 + r.int(4) }, () => message(r));
  return r.chance(0.1) ? JSON.stringify(list) : list;
}

function maybe(r: Rng, attributes: { [key: string]: JsonValue }, key: string, p: number, value: () => JsonValue): void {
  if (r.chance(p)) attributes[key] = r.chance(0.1) ? junk(r) : value();
}

/** The token sequence of an attempt's conversation so far, so that some prompts extend it (and merge). */
interface Conversation {
  sequence: number[];
}

function attributesFor(r: Rng, type: string | undefined, ids: string[], conversation: Conversation): { [key: string]: JsonValue } {
  const a: { [key: string]: JsonValue } = {};
  if (type !== undefined) a["tracetrain.span.type"] = r.chance(0.05) ? junk(r) : type;
  maybe(r, a, "tracetrain.agent.name", 0.6, () => r.pick(AGENTS));
  maybe(r, a, "gen_ai.agent.name", 0.1, () => r.pick(AGENTS));
  if (type === "llm" || type === "llm_run" || type === undefined) {
    maybe(r, a, "gen_ai.operation.name", 0.8, () => r.pick(["chat", "text_completion", "embeddings"]));
    maybe(r, a, "gen_ai.response.id", 0.7, () => `resp-${r.int(4)}`);
    maybe(r, a, "gen_ai.input.messages", 0.85, () => messages(r));
    const choices = 1 + (r.chance(0.15) ? 1 : 0);
    maybe(r, a, "gen_ai.output.messages", 0.85, () => Array.from({ length: choices }, () => message(r, "assistant")));
    maybe(r, a, "gen_ai.response.finish_reasons", 0.3, () => Array.from({ length: choices }, () => r.pick<JsonValue>(["stop", null, 3])));
    const continues = r.chance(0.6);
    const prompt = continues ? [...conversation.sequence, ...tokens(r, r.int(3))] : tokens(r, 1 + r.int(8));
    maybe(r, a, "tracetrain.llm.prompt_token_ids", 0.7, () => prompt);
    const responses = Array.from({ length: choices }, () => tokens(r, 1 + r.int(4)));
    if (continues) conversation.sequence = [...prompt, ...responses[0]!];
    maybe(r, a, "tracetrain.llm.response_token_ids", 0.7, () => (r.chance(0.1) ? [null, ...responses.slice(1)] : responses));
    maybe(r, a, "tracetrain.llm.logprobs", 0.3, () => responses.map((ids) => (r.chance(0.2) ? [-0.1] : ids.map(() => -r.next()))));
    maybe(r, a, "tracetrain.llm.policy_version", 0.2, () => r.pick<JsonValue>(["v1", 2, 2.5]));
    maybe(r, a, "gen_ai.tool.definitions", 0.3, () => [{ type: "function", function: { name: "add" } }]);
    maybe(r, a, "tracetrain.llm.recorded_by", 0.2, () => "openai");
  }
  if (type === "reward") {
    maybe(r, a, "tracetrain.reward.value", 0.9, () => r.pick([0, 0.5, 1, -1]));
    maybe(r, a, "tracetrain.reward.final", 0.6, () => r.chance(0.5));
    maybe(r, a, "tracetrain.reward.call_id", 0.4, () => (r.chance(0.5) && ids.length > 0 ? r.pick(ids) : `resp-${r.int(5)}`));
  }
  if (type === "tool") {
    maybe(r, a, "gen_ai.tool.name", 0.7, () => r.pick(["add", "search"]));
    maybe(r, a, "gen_ai.tool.call.id", 0.5, () => `call_${r.int(3)}`);
    maybe(r, a, "gen_ai.tool.call.result", 0.7, () => r.pick<JsonValue>(["3", { ok: true }]));
  }
  return a;
}

/** One well-formed span set of up to 3 attempts. */
function spanSet(seed: number): Span[] {
  const r = rng(seed);
  const spans: Span[] = [];
  const attempts = 1 + r.int(3);
  for (let at = 0; at < attempts; at++) {
    const count = r.int(25);
    const pool = 1 + count + r.int(5);
    const ids: string[] = [];
    const withSequence = r.chance(0.8);
    const conversation: Conversation = { sequence: tokens(r, 3) };
    for (let i = 0; i < count; i++) {
      const id = sid(1 + (r.chance(0.05) && ids.length > 0 ? r.int(ids.length) : i));
      const parentRoll = r.next();
      const parentId = parentRoll < 0.15 ? null : parentRoll < 0.25 ? sid(1000 + r.int(3)) : parentRoll < 0.28 ? id : sid(1 + r.int(pool));
      const start = r.int(1000) + r.next();
      const type = r.chance(0.1) ? undefined : r.pick(TYPES);
      const base = {
        rolloutId: `ro-${at % 2}`,
        attemptId: `at-${at}`,
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: id,
        parentId,
        name: type === "reward" || (type === undefined && r.chance(0.2)) ? "tracetrain.reward" : `span ${i}`,
        kind: "internal" as const,
        startTime: start,
        endTime: start + r.int(50),
        status: r.pick([{ code: "ok" as const }, { code: "unset" as const }, { code: "error" as const, message: "boom" }]),
        attributes: attributesFor(r, type, ids, conversation),
        events: [],
        links: [],
      };
      const sequence = withSequence || r.chance(0.5) ? 1 + (r.chance(0.05) ? r.int(count + 1) : i) : undefined;
      spans.push((sequence === undefined ? base : { ...base, sequence }) as Span);
      ids.push(id);
    }
  }
  // Deterministic interleaving of attempts, as a query over several attempts may return them.
  return spans.sort((a, b) => (a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0));
}

const POLICIES = [finalCredit, lastCallCredit, perCallCredit, discountedCredit(0.9)];
const ADAPTERS = [
  new TraceAdapter(),
  new TraceAdapter({ agents: ["writer", "rewriter"], credit: lastCallCredit, chat: "call" }),
  new TraceAdapter({ agents: /ite/g, credit: discountedCredit(0.5), excludeCallsInsideRewards: false, maxLength: 12 }),
  new TraceAdapter({ credit: perCallCredit }),
];

/** Everything every adapter makes of a span set. */
function everything(spans: Span[]) {
  const context = ({ rolloutId }: { rolloutId: string }) => (rolloutId === "ro-0" ? { finalReward: 0.25, groupId: "g0" } : undefined);
  return {
    byPolicy: POLICIES.map((credit) => toTransitions(spans, { credit })),
    chat: [toChatMessages(spans), toChatMessages(spans, { per: "call", agents: ["judge"] })],
    adapters: ADAPTERS.map((adapter) => ({
      adapted: adapter.adapt(spans, context),
      chat: adapter.toChatSamples(spans, context),
      tokens: adapter.toTokenRecords(spans, context),
      transitions: adapter.toTransitions(spans),
    })),
  };
}

const SEEDS = Array.from({ length: 400 }, (_, i) => i + 1);

describe("adapters on arbitrary well-formed span sets", () => {
  it("generates well-formed spans (the premise)", () => {
    for (const seed of SEEDS.slice(0, 50)) {
      for (const span of spanSet(seed)) {
        // A stored span (with its sequence), or one as the tracer hands it over (without).
        const { sequence, ...input } = span;
        const issues = sequence === undefined ? SpanInputSchema.safeParse(input).error?.issues : SpanSchema.safeParse(span).error?.issues;
        expect(issues ?? [], `seed ${seed}`).toEqual([]);
      }
    }
  });

  it("never throw, leave the input unchanged, and give valid, deterministic output", () => {
    for (const seed of SEEDS) {
      const spans = spanSet(seed);
      const before = structuredClone(spans);
      let first: ReturnType<typeof everything>;
      try {
        first = everything(spans);
      } catch (error) {
        throw new Error(`seed ${seed}: ${error instanceof Error ? error.stack : String(error)}`);
      }
      expect(spans, `seed ${seed}: input changed`).toEqual(before);
      expect(everything(structuredClone(spans)), `seed ${seed}: not deterministic`).toEqual(first);
      for (const transitions of first.byPolicy) for (const t of transitions) expect(TransitionSchema.safeParse(t).success, `seed ${seed}`).toBe(true);
      for (const records of first.chat) for (const record of records) expect(ChatRecordSchema.safeParse(record).success, `seed ${seed}`).toBe(true);
      for (const { adapted, chat, tokens } of first.adapters) {
        for (const trajectory of adapted.trajectories) expect(TrajectorySchema.safeParse(trajectory).success, `seed ${seed}`).toBe(true);
        for (const sample of adapted.samples) expect(MergedSampleSchema.safeParse(sample).success, `seed ${seed}`).toBe(true);
        for (const sample of chat) expect(ChatRecordSchema.safeParse(sample.record).success, `seed ${seed}`).toBe(true);
        for (const record of tokens) expect(TokenRecordSchema.safeParse(record).success, `seed ${seed}`).toBe(true);
        const summary = summarizeDiagnostics(adapted.diagnostics);
        expect(summary.attempts).toBe(new Set(spans.map((s) => `${s.rolloutId}/${s.attemptId}`)).size);
      }
    }
  });

  it("give the same output whatever order stored spans arrive in", () => {
    let checked = 0;
    for (const seed of SEEDS) {
      const spans = spanSet(seed);
      // Stored spans: unique ids and sequence numbers per attempt, as a store guarantees.
      const seen = new Set<string>();
      const unique = spans.filter((s) => s.sequence !== undefined && !seen.has(`${s.attemptId}/${s.spanId}`) && seen.add(`${s.attemptId}/${s.spanId}`));
      const perAttempt = new Map<string, number>();
      const stored = unique.map((s) => ({ ...s, sequence: perAttempt.set(s.attemptId, (perAttempt.get(s.attemptId) ?? 0) + 1).get(s.attemptId)! }));
      const r = rng(seed * 7919);
      const shuffled = [...stored];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      // Attempts come out in order of first appearance: compare attempt by attempt.
      const byAttempt = (out: ReturnType<TraceAdapter["adapt"]>) => new Map(out.trajectories.map((t, i) => [`${t.rolloutId}/${t.attemptId}`, [t, out.diagnostics[i]]]));
      for (const adapter of ADAPTERS) expect(byAttempt(adapter.adapt(shuffled)), `seed ${seed}`).toEqual(byAttempt(adapter.adapt(stored)));
      checked++;
    }
    expect(checked).toBe(SEEDS.length);
  });
});
