/**
 * The four export formats, field by field, from real traced rollouts: an openai-SDK agent that
 * calls a tool and answers, recorded by the real tracer into a SQLite store, against the mock LLM
 * with exact token ids. What each record must hold is taken from what the SDK sent and received.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatRecordSchema, HfChatRecordSchema, IGNORE_LABEL, SftTokenRecordSchema, TokenRecordSchema } from "tracetrain/schemas";
import { SqliteStore } from "tracetrain/store";
import { withAgent } from "tracetrain";
import { replySequence } from "tracetrain/testing";
import { type ExportFormat, exportFromStore } from "../../src/cli/export.js";
import { startHarness } from "../adapters/harness.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-export-formats-"));
const db = join(dir, "store.db");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOOLS: ChatCompletionTool[] = [
  {
    type: "function",
    function: { name: "open_box", description: "Opens a box and says what is inside.", parameters: { type: "object", properties: { box: { type: "integer" } }, required: ["box"] } },
  },
];

type WithIds = ChatCompletion & { prompt_token_ids: number[]; choices: Array<ChatCompletion.Choice & { token_ids: number[] }> };

/** What the agent saw: its messages and the engine's answers with their token ids. */
let sent: ChatCompletionMessageParam[] = [];
let answers: WithIds[] = [];
let rolloutId = "";

beforeAll(async () => {
  const h = await startHarness(new SqliteStore(db));
  h.mock.script(replySequence([{ toolCalls: [{ id: "call_box2", name: "open_box", arguments: { box: 2 } }] }, { text: "The gem is red." }]));
  const client = new OpenAI({ baseURL: h.mock.baseUrl, apiKey: "test", maxRetries: 0 });
  const ask = async (messages: ChatCompletionMessageParam[]) =>
    (await withAgent("finder", () => client.chat.completions.create({ model: "mock-model", messages, tools: TOOLS, return_token_ids: true } as OpenAI.ChatCompletionCreateParamsNonStreaming))) as WithIds;
  const finder = async () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: "system", content: "You open boxes." },
      { role: "user", content: "Which colour is the gem in box 2?" },
    ];
    const first = await ask(messages);
    const call = first.choices[0]!.message.tool_calls![0]!;
    messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: "Box 2 holds a red gem." });
    const second = await ask(messages);
    sent = messages;
    answers = [first, second];
    return 1;
  };
  rolloutId = (await h.run("finder", finder)).rollout.rolloutId;
  await h.close();
}, 120_000);

async function exported(format: ExportFormat): Promise<unknown[]> {
  const store = new SqliteStore(db);
  const lines: string[] = [];
  const out = { write: (chunk: string) => lines.push(chunk) >= 0, once: () => undefined };
  try {
    await exportFromStore(store, { format }, out);
  } finally {
    await store.close();
  }
  return lines.join("").trim().split("\n").map((line) => JSON.parse(line) as unknown);
}

describe("export formats from a traced tool-using agent", () => {
  it("chat: OpenAI fine-tuning records — string arguments, tool messages with their call id, tools as functions", async () => {
    const [record, ...rest] = await exported("chat");
    expect(rest).toEqual([]);
    const call = answers[0]!.choices[0]!.message.tool_calls![0]!;
    expect(call.id).toBe("call_box2");
    expect(record).toEqual({
      messages: [
        { role: "system", content: "You open boxes." },
        { role: "user", content: "Which colour is the gem in box 2?" },
        // OpenAI's own example leaves `content` out of an assistant message that only calls tools.
        { role: "assistant", tool_calls: [{ id: "call_box2", type: "function", function: { name: "open_box", arguments: (call as { function: { arguments: string } }).function.arguments } }] },
        { role: "tool", tool_call_id: "call_box2", content: "Box 2 holds a red gem." },
        { role: "assistant", content: "The gem is red." },
      ],
      tools: TOOLS,
    });
    expect(JSON.parse((call as { function: { arguments: string } }).function.arguments)).toEqual({ box: 2 });
    expect(ChatRecordSchema.safeParse(record).success).toBe(true);
  });

  it("hf: Hugging Face messages — arguments as objects, the tool message names its function", async () => {
    const [record, ...rest] = await exported("hf");
    expect(rest).toEqual([]);
    expect(record).toEqual({
      messages: [
        { role: "system", content: "You open boxes." },
        { role: "user", content: "Which colour is the gem in box 2?" },
        { role: "assistant", tool_calls: [{ id: "call_box2", type: "function", function: { name: "open_box", arguments: { box: 2 } } }] },
        { role: "tool", tool_call_id: "call_box2", name: "open_box", content: "Box 2 holds a red gem." },
        { role: "assistant", content: "The gem is red." },
      ],
      tools: TOOLS,
    });
    expect(HfChatRecordSchema.parse(record)).toEqual(record);
  });

  it("sft-tokens: input_ids are the prompt then the response, labels keep exactly the ids the model wrote", async () => {
    const tokens = (await exported("tokens")).map((r) => TokenRecordSchema.parse(r));
    const sft = (await exported("sft-tokens")).map((r) => SftTokenRecordSchema.parse(r));
    // The mock's chat template renders the tool call back into the next prompt with other token
    // boundaries than the model sampled (as real templates may), so the two calls do not merge:
    // one record per call, each exactly what the engine saw and wrote.
    expect(sft).toHaveLength(2);
    answers.forEach((answer, i) => {
      const prompt = answer.prompt_token_ids;
      const response = answer.choices[0]!.token_ids;
      expect(sft[i]!.input_ids).toEqual([...prompt, ...response]);
      expect(sft[i]!.labels).toEqual([...Array<number>(prompt.length).fill(IGNORE_LABEL), ...response]);
      expect(sft[i]).toMatchObject({ rollout_id: rolloutId, group_id: tokens[i]!.group_id, reward: 1, policy_version: null });
      expect(tokens[i]!.prompt_ids).toEqual(prompt);
    });
    expect(sent.at(-1)).toEqual({ role: "tool", tool_call_id: "call_box2", content: "Box 2 holds a red gem." });
  });

  it("schemas refuse records that break their format, naming the field", () => {
    const sft = SftTokenRecordSchema.safeParse({ input_ids: [1, 2], labels: [-100, 3], rollout_id: "r", group_id: null, reward: null, policy_version: null });
    expect(sft.success).toBe(false);
    expect(sft.error?.issues[0]?.path).toEqual(["labels"]);
    const hf = HfChatRecordSchema.safeParse({ messages: [{ role: "narrator", content: "x" }] });
    expect(hf.error?.issues[0]?.path).toEqual(["messages", 0, "role"]);
  });
});
