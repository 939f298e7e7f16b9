// The openai SDK, unchanged: chat, tools, streaming and the Responses API.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";
import { agent } from "tracetrain";
import { replySequence } from "tracetrain/testing";
import { llmPathsSince, runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

let client;
const setup = useMockAndTrainer({}, ({ mock }) => (client = new OpenAI({ baseURL: mock.baseUrl, apiKey: "test", maxRetries: 0 })));

test("chat completion", async () => {
  const asker = agent(async (task) => {
    const r = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: task.q }] });
    return r.choices[0]?.message.content === `echo: ${task.q}` ? 1 : 0;
  }, { name: "asker" });
  const run = await runAndCount(setup.trainer, setup.mock, asker, { q: "hello" }, 1);
  assert.equal(run.rollout.finalReward, 1);
});

test("tools: a tool call, then the answer from its result", async () => {
  setup.mock.script(replySequence([{ toolCalls: [{ name: "add", arguments: { a: 2, b: 3 } }] }, { text: "5" }]));
  const tools = [{ type: "function", function: { name: "add", description: "Adds", parameters: { type: "object", properties: { a: { type: "number" }, b: { type: "number" } }, required: ["a", "b"] } } }];
  const adder = agent(async () => {
    const messages = [{ role: "user", content: "2 + 3?" }];
    const first = await client.chat.completions.create({ model: "mock-model", messages, tools });
    const call = first.choices[0].message.tool_calls[0];
    const { a, b } = JSON.parse(call.function.arguments);
    messages.push(first.choices[0].message, { role: "tool", tool_call_id: call.id, content: String(a + b) });
    const second = await client.chat.completions.create({ model: "mock-model", messages, tools });
    return second.choices[0]?.message.content === "5" ? 1 : 0;
  }, { name: "adder" });
  try {
    const run = await runAndCount(setup.trainer, setup.mock, adder, {}, 2);
    assert.equal(run.rollout.finalReward, 1);
  } finally {
    setup.mock.script(undefined);
  }
});

test("streamed chat completion", async () => {
  const streamer = agent(async (task) => {
    const stream = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: task.q }], stream: true, stream_options: { include_usage: true } });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    return text === `echo: ${task.q}` ? 1 : 0;
  }, { name: "streamer" });
  const run = await runAndCount(setup.trainer, setup.mock, streamer, { q: "stream me" }, 1);
  assert.equal(run.rollout.finalReward, 1);
});

test("Responses API, whole and streamed", async () => {
  const since = setup.mock.requests.length;
  const responder = agent(async (task) => {
    const whole = await client.responses.create({ model: "mock-model", input: task.q });
    const stream = await client.responses.create({ model: "mock-model", input: task.q, stream: true });
    let streamed = "";
    for await (const event of stream) if (event.type === "response.output_text.delta") streamed += event.delta;
    return whole.output_text === `echo: ${task.q}` && streamed === `echo: ${task.q}` ? 1 : 0;
  }, { name: "responder" });
  const run = await runAndCount(setup.trainer, setup.mock, responder, { q: "respond" }, 2);
  assert.deepEqual(llmPathsSince(setup.mock, since), ["/v1/responses", "/v1/responses"]);
  assert.equal(run.rollout.finalReward, 1);
});
