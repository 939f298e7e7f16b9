/**
 * Token figures end to end: an unchanged openai-SDK agent against the mock LLM, traced into a real
 * SQLite store, evaluated — the figures equal the usage the mock reported, call for call; a
 * streamed call without usage is counted with o200k and says so; mixed rollouts say "mixed"; a
 * judge inside a reward span is reported apart; cost comes from the price table, unknown models
 * make it null.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { get_encoding } from "@dqbd/tiktoken";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Trainer, TraceAdapter, agent, evaluate, withReward, type AgentContext } from "tracetrain";
import { rolloutTokenSummary } from "tracetrain/algorithms";
import { SqliteStore } from "tracetrain/store";
import { type MockLlm, startMockLlm } from "tracetrain/testing";

type Mode = "plain" | "stream-usage" | "stream-bare" | "mixed" | "judged";
interface Task {
  mode: Mode;
  text: string;
  model: string;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** What the SDK handed the agent, per task text: the usage the mock reported, or the streamed answer without usage. */
const seen = new Map<string, Array<{ usage?: { prompt_tokens: number; completion_tokens: number }; answer: string; messages: Array<{ role: "user"; content: string }> }>>();

async function call(client: OpenAI, model: string, content: string, stream: "no" | "usage" | "bare") {
  const messages = [{ role: "user" as const, content }];
  if (stream === "no") {
    const r = await client.chat.completions.create({ model, messages });
    return { usage: r.usage!, answer: r.choices[0]!.message.content ?? "", messages };
  }
  const chunks = await client.chat.completions.create({ model, messages, stream: true, ...(stream === "usage" ? { stream_options: { include_usage: true } } : {}) });
  let answer = "";
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  for await (const chunk of chunks) {
    answer += chunk.choices[0]?.delta.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  return { ...(usage ? { usage } : {}), answer, messages };
}

const tokenAgent = agent(
  async (task: Task, ctx: AgentContext) => {
    const client = new OpenAI({ baseURL: ctx.llm().baseUrl, apiKey: "test", maxRetries: 0 });
    const record = (r: Awaited<ReturnType<typeof call>>) => seen.set(task.text, [...(seen.get(task.text) ?? []), r]);
    if (task.mode === "plain") record(await call(client, task.model, task.text, "no"));
    if (task.mode === "stream-usage") record(await call(client, task.model, task.text, "usage"));
    if (task.mode === "stream-bare") record(await call(client, task.model, task.text, "bare"));
    if (task.mode === "mixed") {
      record(await call(client, task.model, task.text, "no"));
      record(await call(client, task.model, `${task.text} again`, "bare"));
    }
    if (task.mode === "judged") {
      record(await call(client, task.model, task.text, "no"));
      // An LLM judge: its call is inside the reward span, so it is not the policy's cost.
      return withReward(async () => {
        record(await call(client, "gpt-4o", "judge this answer please", "no"));
        return 0.5;
      });
    }
    return task.mode === "stream-bare" ? 0 : 1;
  },
  { name: "token-agent" },
);

let mock: MockLlm;
let dir: string;
let enc: ReturnType<typeof get_encoding>;
const count = (text: string) => enc.encode_ordinary(text).length;

beforeAll(async () => {
  mock = await startMockLlm();
  dir = mkdtempSync(join(tmpdir(), "tt-tokens-"));
  enc = get_encoding("o200k_base");
});
afterAll(async () => {
  await mock.close();
  enc.free();
  rmSync(dir, { recursive: true, force: true });
});

async function evaluateTasks(tasks: Task[], prices: Record<string, { input: number; output: number }> = {}, check?: (store: SqliteStore) => Promise<void>) {
  const store = new SqliteStore(join(dir, `run-${Math.random().toString(36).slice(2)}.db`));
  const trainer = new Trainer({ store, logger: quiet, algorithm: evaluate({ prices }), initialResources: { main: { kind: "llm", baseUrl: mock.baseUrl, model: "gpt-4.1-mini" } } });
  try {
    const { result } = await trainer.fit(tokenAgent, { val: tasks });
    await check?.(store);
    return result;
  } finally {
    await trainer.close();
    await store.close();
  }
}

describe("evaluate() reports tokens", () => {
  it("matches the mock's reported usage exactly, streamed and not, and prices it from the table", async () => {
    const tasks: Task[] = [
      { mode: "plain", text: "tell me about the weather in Lisbon", model: "gpt-4.1-mini" },
      { mode: "stream-usage", text: "count to five slowly please", model: "gpt-4.1-mini" },
    ];
    let summary: Awaited<ReturnType<typeof rolloutTokenSummary>> | undefined;
    const result = await evaluateTasks(tasks, {}, async (store) => {
      // The one call an algorithm makes for a batch of ended rollouts: the same figures evaluate() reports.
      summary = await rolloutTokenSummary({ store, adapter: new TraceAdapter() }, (await store.queryRollouts({})).items);
    });
    expect(summary!.tokens).toEqual(result.tokens);
    expect(summary!.tokensPerReward).toBe(result.tokensPerReward);
    expect([...summary!.byRollout.keys()].sort()).toEqual(result.tasks.map((t) => t.rolloutId).sort());
    for (const [i, task] of tasks.entries()) {
      const usage = seen.get(task.text)![0]!.usage!;
      const score = result.tasks[i]!;
      expect(score.tokens).toMatchObject({ input: usage.prompt_tokens, output: usage.completion_tokens, total: usage.prompt_tokens + usage.completion_tokens, calls: 1, source: "usage", callsBySource: { usage: 1, counted: 0 }, unpricedModels: [] });
      expect(score.tokens!.costUsd).toBeCloseTo((usage.prompt_tokens * 0.4 + usage.completion_tokens * 1.6) / 1e6, 12);
      expect(score.tokens!.byModel["gpt-4.1-mini"]).toMatchObject({ input: usage.prompt_tokens, output: usage.completion_tokens, calls: 1 });
      expect(score.tokensPerReward).toBe(score.tokens!.total / 1);
    }
    const sum = tasks.map((t) => seen.get(t.text)![0]!.usage!).reduce((n, u) => n + u.prompt_tokens + u.completion_tokens, 0);
    expect(result.tokens).toMatchObject({ total: sum, calls: 2, source: "usage" });
    expect(result.tokensPerReward).toBe(sum / 2);
  });

  it("counts a streamed call without usage with o200k and says so; a rollout with both kinds is 'mixed'", async () => {
    const tasks: Task[] = [
      { mode: "stream-bare", text: "a streamed call the server reports no usage for", model: "gpt-4.1-mini" },
      { mode: "mixed", text: "first call with usage", model: "gpt-4.1-mini" },
    ];
    const result = await evaluateTasks(tasks);
    const bare = seen.get(tasks[0]!.text)![0]!;
    expect(bare.usage).toBeUndefined();
    // One message: 3 framing tokens + role + content; 3 more prime the reply.
    const expectedInput = 3 + count("user") + count(tasks[0]!.text) + 3;
    expect(result.tasks[0]!.tokens).toMatchObject({ input: expectedInput, output: count(bare.answer), source: "counted", callsBySource: { usage: 0, counted: 1 } });
    // Reward 0: no finite tokens per unit reward.
    expect(result.tasks[0]!.tokensPerReward).toBeNull();

    const [first, second] = seen.get(tasks[1]!.text)!;
    const mixed = result.tasks[1]!.tokens!;
    expect(mixed).toMatchObject({ source: "mixed", callsBySource: { usage: 1, counted: 1 }, calls: 2 });
    expect(mixed.input).toBe(first!.usage!.prompt_tokens + 3 + count("user") + count(second!.messages[0]!.content) + 3);
    expect(mixed.output).toBe(first!.usage!.completion_tokens + count(second!.answer));
    expect(result.tokens.source).toBe("mixed");
    // Σ tokens / Σ reward: the zero-reward rollout's tokens count, its reward adds nothing.
    expect(result.tokensPerReward).toBe((result.tasks[0]!.tokens!.total + mixed.total) / 1);
  });

  it("reports a judge's call apart, and an unpriced model as cost null, named", async () => {
    const result = await evaluateTasks([{ mode: "judged", text: "policy answer for the judge", model: "mock-model" }]);
    const [policy, judge] = seen.get("policy answer for the judge")!;
    const t = result.tasks[0]!.tokens!;
    expect(t).toMatchObject({ input: policy!.usage!.prompt_tokens, output: policy!.usage!.completion_tokens, calls: 1, costUsd: null, unpricedModels: ["mock-model"] });
    expect(t.judge).toMatchObject({ input: judge!.usage!.prompt_tokens, output: judge!.usage!.completion_tokens, calls: 1 });
    expect(t.judge.costUsd).toBeCloseTo((judge!.usage!.prompt_tokens * 2.5 + judge!.usage!.completion_tokens * 10) / 1e6, 12);
    expect(result.tokens.costUsd).toBeNull();
    expect(result.tokensPerReward).toBe(t.total / 0.5);

    // A price given for the model makes the cost known.
    seen.clear();
    const priced = await evaluateTasks([{ mode: "judged", text: "policy answer for the judge", model: "mock-model" }], { "mock-model": { input: 1, output: 2 } });
    const [again] = seen.get("policy answer for the judge")!;
    expect(priced.tasks[0]!.tokens!.costUsd).toBeCloseTo((again!.usage!.prompt_tokens + 2 * again!.usage!.completion_tokens) / 1e6, 12);
    expect(priced.tasks[0]!.tokens!.unpricedModels).toEqual([]);
  });
});
