/** Export formats and filters, the JSONL writer, and the attempt context taken from a rollout. */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { type ChatRecord, ChatRecordSchema, HfChatRecordSchema, SftTokenRecordSchema, TokenRecordSchema } from "tracetrain/schemas";
import { type Rollout, TraceAdapter } from "tracetrain";
import {
  contextFromRollout,
  filterForExport,
  groupIdOf,
  hasUntrainedTurns,
  toChatSamples,
  toHfChatRecord,
  toJsonl,
  toMergedSamples,
  toOpenAiChatRecord,
  toSftTokenRecord,
  toTokenRecord,
  topKPerGroup,
  writeJsonl,
} from "tracetrain/adapters";
import { llm, reward } from "./build.js";

describe("tokenized JSONL", () => {
  it("writes the fields RL backends read, snake_case, aligned", () => {
    const spans = [llm(1, { agent: "a", prompt: [1, 2], response: [3], logprobs: [-0.5] }), llm(2, { agent: "a", prompt: [1, 2, 3, 4], response: [5], logprobs: [-0.25] }), reward(3, 1)];
    const records = toMergedSamples(spans, { context: { groupId: "g" } }).map(toTokenRecord);
    expect(records).toEqual([
      { prompt_ids: [1, 2], response_ids: [3, 4, 5], response_mask: [1, 0, 1], logprobs: [-0.5, null, -0.25], reward: 1, rollout_id: "ro-1", group_id: "g", policy_version: null },
    ]);
    for (const record of records) expect(TokenRecordSchema.safeParse(record).success).toBe(true);
    expect(new TraceAdapter().toTokenRecords(spans)).toEqual([{ ...records[0], group_id: null }]);
  });

  it("writes null for what is unknown", () => {
    expect(toTokenRecord({ rolloutId: "r", attemptId: "a", callIds: ["c"], promptIds: [1], responseIds: [2], responseMask: [1] })).toEqual({
      prompt_ids: [1],
      response_ids: [2],
      response_mask: [1],
      logprobs: null,
      reward: null,
      rollout_id: "r",
      group_id: null,
      policy_version: null,
    });
  });
});

describe("chat JSONL", () => {
  it("gives records the fine-tuning format accepts, with their origin beside them", () => {
    const spans = [llm(1, { agent: "a", extra: { "gen_ai.tool.definitions": [{ type: "function", function: { name: "f" } }] } }), reward(2, 0.5)];
    const [sample] = toChatSamples(spans, { context: { groupId: "g" } });
    expect(sample).toEqual({
      record: { messages: [{ role: "user", content: "question 1" }, { role: "assistant", content: "answer 1" }], tools: [{ type: "function", function: { name: "f" } }] },
      rolloutId: "ro-1",
      attemptId: "at-1",
      groupId: "g",
      agentName: "a",
      callIds: [llm(1).spanId],
      reward: 0.5,
      finalReward: 0.5,
    });
    expect(ChatRecordSchema.safeParse(sample!.record).success).toBe(true);
    expect(toJsonl([sample!.record])).toBe(`${JSON.stringify(sample!.record)}\n`);
  });
});

describe("export filters", () => {
  const items = [
    { rolloutId: "r1", groupId: "g1", reward: 1, id: "a" },
    { rolloutId: "r2", groupId: "g1", reward: 0.5, id: "b" },
    { rolloutId: "r3", groupId: "g1", reward: 0, id: "c" },
    { rolloutId: "r3", groupId: "g1", reward: 0.9, id: "d" },
    { rolloutId: "r4", groupId: "g2", id: "e" },
    { rolloutId: "r5", groupId: "g2", reward: 0.2, id: "f" },
    { rolloutId: "r6", reward: 0.1, id: "g" },
  ];
  const rolloutReward = (id: string) => ({ r1: 1, r2: 0.5, r3: 0, r5: 0.2, r6: 0.1 })[id];

  it.each([
    [{ minReward: 0.5 }, ["a", "b", "d"]],
    [{ minReward: 0 }, ["a", "b", "c", "d", "f", "g"]],
    [{ topK: 1, rolloutReward }, ["a", "f", "g"]],
    [{ topK: 2, rolloutReward }, ["a", "b", "e", "f", "g"]],
    [{ topK: 0, rolloutReward }, []],
    [{ topK: 1, minReward: 0.6, rolloutReward }, ["a"]],
    // Without rollout rewards, a rollout ranks by its best item: r3 (0.9) beats r2 (0.5).
    [{ topK: 2 }, ["a", "c", "d", "e", "f", "g"]],
  ])("%j keeps %j", (filter, expected) => {
    expect(filterForExport(items, filter).map((i) => i.id)).toEqual(expected);
  });

  it("breaks ties by rollout id, and ranks rollouts without a reward last", () => {
    const tied = [
      { rolloutId: "b", groupId: "g" },
      { rolloutId: "a", groupId: "g" },
      { rolloutId: "c", groupId: "g" },
    ];
    expect(topKPerGroup(tied, 2, (id) => (id === "c" ? undefined : 1)).map((i) => i.rolloutId)).toEqual(["b", "a"]);
    expect(topKPerGroup(tied, 1, () => undefined).map((i) => i.rolloutId)).toEqual(["a"]);
  });
});

describe("writeJsonl", () => {
  it("writes one line per record, waiting for the stream when it is full", async () => {
    const out = new PassThrough({ highWaterMark: 16 });
    const chunks: string[] = [];
    const records = Array.from({ length: 50 }, (_, i) => ({ i, text: "x".repeat(20) }));
    const done = writeJsonl(records, out);
    // Read slowly, so the writer meets backpressure.
    for await (const chunk of out) {
      chunks.push(String(chunk));
      if (chunks.join("").split("\n").length > 50) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await done).toBe(50);
    expect(chunks.join("").trimEnd().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual(records);
  });

  it("takes async iterables", async () => {
    async function* gen() {
      yield { a: 1 };
      yield { a: 2 };
    }
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    expect(await writeJsonl(gen(), out)).toBe(2);
    expect(text).toBe('{"a":1}\n{"a":2}\n');
  });
});

describe("attempt context from a rollout", () => {
  const rollout = (input: Rollout["input"], metadata: Rollout["metadata"] = {}, rewards: Array<number | undefined> = [1]): Pick<Rollout, "input" | "metadata" | "attempts" | "finalReward"> => ({
    input,
    metadata,
    finalReward: rewards.at(-1) ?? null,
    attempts: rewards.map((finalReward, i) => ({
      rolloutId: "r",
      attemptId: `a${i}`,
      sequence: i + 1,
      workerId: null,
      status: "succeeded",
      startedAt: 0,
      endedAt: 1,
      lastHeartbeatAt: 0,
      error: null,
      finalReward: finalReward ?? null,
    })) as Rollout["attempts"],
  });

  it("groups rollouts of the same task, whatever the key order, unless the algorithm named a group", () => {
    expect(groupIdOf(rollout({ q: "x", n: 1 }))).toBe(groupIdOf(rollout({ n: 1, q: "x" })));
    expect(groupIdOf(rollout({ q: "x" }))).not.toBe(groupIdOf(rollout({ q: "y" })));
    expect(groupIdOf(rollout({ q: "x" }))).toMatch(/^task-[0-9a-f]{16}$/);
    expect(groupIdOf(rollout({ q: "x" }, { groupId: "task-7" }))).toBe("task-7");
    expect(groupIdOf(rollout({ q: "x" }, { groupId: 7 }))).toBe("7");
  });

  it("takes the latest attempt's final reward", () => {
    expect(contextFromRollout(rollout(1, {}, [0, 0.5]))).toEqual({ groupId: groupIdOf(rollout(1)), finalReward: 0.5 });
    expect(contextFromRollout(rollout(1, {}, [undefined]))).toEqual({ groupId: groupIdOf(rollout(1)) });
  });
});

describe("chat records in OpenAI and Hugging Face form", () => {
  const record: ChatRecord = {
    messages: [
      { role: "user", content: "Find the gem" },
      // A framework that kept arguments as an object, and a weight-0 turn (another agent's).
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "open_box", arguments: { box: 2 } } }], weight: 0 },
      { role: "tool", tool_call_id: "c1", content: "red" },
      { role: "assistant", content: "", tool_calls: [{ id: "c2", type: "function", function: { name: "say", arguments: "not json" } }] },
      { role: "tool", tool_call_id: "c2", content: "ok", weight: 1 },
      { role: "assistant", content: "red" },
    ],
    // Anthropic's tool shape, one OpenAI one, and a definition without a name.
    tools: [{ name: "open_box", description: "Opens a box", input_schema: { type: "object" } }, { type: "function", function: { name: "say", parameters: { type: "object" }, strict: true } }, { description: "nameless" }],
  };

  it("OpenAI: arguments as JSON text, weights only on assistant messages, tools as functions", () => {
    const openai = toOpenAiChatRecord(record);
    expect(openai.messages[1]).toEqual({ role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "open_box", arguments: '{"box":2}' } }], weight: 0 });
    expect(openai.messages[4]).toEqual({ role: "tool", tool_call_id: "c2", content: "ok" });
    expect(openai.tools).toEqual([
      { type: "function", function: { name: "open_box", description: "Opens a box", parameters: { type: "object" } } },
      { type: "function", function: { name: "say", parameters: { type: "object" }, strict: true } },
    ]);
    expect(ChatRecordSchema.safeParse(openai).success).toBe(true);
  });

  it("Hugging Face: arguments as objects (text kept when it is not JSON), tool messages named, no weights", () => {
    const hf = HfChatRecordSchema.parse(toHfChatRecord(record));
    expect(hf.messages).toEqual([
      { role: "user", content: "Find the gem" },
      { role: "assistant", tool_calls: [{ id: "c1", type: "function", function: { name: "open_box", arguments: { box: 2 } } }] },
      { role: "tool", tool_call_id: "c1", name: "open_box", content: "red" },
      { role: "assistant", tool_calls: [{ id: "c2", type: "function", function: { name: "say", arguments: "not json" } }] },
      { role: "tool", tool_call_id: "c2", name: "say", content: "ok" },
      { role: "assistant", content: "red" },
    ]);
    expect(hf.tools).toEqual(toOpenAiChatRecord(record).tools);
    expect(hasUntrainedTurns(record)).toBe(true);
    expect(hasUntrainedTurns({ messages: record.messages.slice(2) })).toBe(false);
  });

  it("exact-token SFT records: labels are -100 on the prompt and on inserted tokens", () => {
    const sample = { rolloutId: "r", attemptId: "a", groupId: "g", callIds: ["c"], promptIds: [1, 2], responseIds: [3, 4, 5], responseMask: [1, 0, 1] as Array<0 | 1>, reward: 0.5 };
    expect(SftTokenRecordSchema.parse(toSftTokenRecord(sample))).toEqual({ input_ids: [1, 2, 3, 4, 5], labels: [-100, -100, 3, -100, 5], rollout_id: "r", group_id: "g", reward: 0.5, policy_version: null });
  });
});
