// The Vercel AI SDK's own structure (the operation, its steps, tool executions) on top of the
// fetch layer's exact LLM calls, each call counted once:
// - AI SDK 7: the agent unchanged (no telemetry option); the `ai` layer reads the SDK's
//   `ai:telemetry` diagnostics channel. Also with @ai-sdk/otel registered and instrument({ otel:
//   true }), where the SDK describes everything twice (channel and OpenTelemetry): still once.
// - AI SDK 6: experimental_telemetry and instrument({ otel: true }); the otel layer mirrors the
//   SDK's spans (through the application's @opentelemetry/api).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { agent } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { replySequence } from "tracetrain/testing";
import { z } from "zod";
import { runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

const aiVersion = createRequire(import.meta.url)("ai/package.json").version;
const aiMajor = Number(aiVersion.split(".")[0]);
const onlyAi7 = aiMajor >= 7 ? false : `ai ${aiVersion} does not publish on the diagnostics channel`;
const onlyAi6 = aiMajor < 7 ? false : `ai ${aiVersion}: experimental_telemetry alone starts no OpenTelemetry span`;

let provider;
let otelProvider;
const plain = useMockAndTrainer({}, ({ mock }) => (provider = createOpenAI({ baseURL: mock.baseUrl, apiKey: "test" })));
const withOtel = useMockAndTrainer({ instrument: { otel: true } }, ({ mock }) => (otelProvider = createOpenAI({ baseURL: mock.baseUrl, apiKey: "test" })));

const attr = (span, key) => span.attributes?.[key];
const parentOf = (spans, span) => spans.find((s) => s.spanId === span.parentId);
const weather = tool({ description: "The weather in a city", inputSchema: z.object({ city: z.string() }), execute: async ({ city }) => ({ city, sky: "sunny" }) });
const toolRoundTrip = () => replySequence([{ toolCalls: [{ name: "weather", arguments: { city: "Paris" }, id: "call_1" }] }]);

/** The checks of a generateText / streamText run with one tool round trip, recorded through the channel. */
function assertChannelStructure(run, operationName) {
  const { spans } = run;
  const operations = spans.filter((s) => s.name === operationName);
  assert.equal(operations.length, 1, `one ${operationName} span (spans: ${spans.map((s) => `${s.name}[${attr(s, Attr.layer)}]`).join(", ")})`);
  const [operation] = operations;
  assert.equal(attr(operation, Attr.layer), "ai");
  const tools = spans.filter((s) => attr(s, Attr.spanType) === SpanTypes.tool);
  assert.equal(tools.length, 1, "one tool span");
  assert.equal(tools[0].name, "execute_tool weather");
  assert.deepEqual(attr(tools[0], Attr.toolCallArguments), { city: "Paris" });
  assert.deepEqual(attr(tools[0], Attr.toolCallResult), { city: "Paris", sky: "sunny" });
  assert.equal(parentOf(spans, parentOf(spans, tools[0])), operation, "the tool runs in a step of the operation");
  // Each exact call (fetch) under the channel's model call, in a step of the operation.
  for (const call of spans.filter((s) => attr(s, Attr.spanType) === SpanTypes.llm)) {
    assert.equal(attr(call, Attr.layer), "fetch");
    const modelCall = parentOf(spans, call);
    assert.equal(attr(modelCall, Attr.spanType), SpanTypes.llmRun, `the fetch call's parent is the channel's model call (it is ${modelCall?.name})`);
    assert.equal(attr(modelCall, Attr.layer), "ai");
    assert.equal(parentOf(spans, parentOf(spans, modelCall)), operation);
  }
}

test("AI SDK 7, the agent unchanged: generateText with a tool", { skip: onlyAi7 }, async () => {
  plain.mock.script(toolRoundTrip());
  const planner = agent(async (task) => {
    const { text } = await generateText({ model: provider.chat("mock-model"), prompt: task.text, tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 });
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "planner" });
  const run = await runAndCount(plain.trainer, plain.mock, planner, { text: "weather in Paris?" }, 2);
  assert.equal(run.rollout.finalReward, 1);
  assertChannelStructure(run, "ai.generateText");
  // The structure from the channel, the calls from fetch; the reward from the agent's return value.
  assert.deepEqual(Object.keys(run.report.layers).sort(), ["ai", "emitter", "fetch", "tracer"]);
});

test("AI SDK 7, the agent unchanged: streamText with a tool", { skip: onlyAi7 }, async () => {
  plain.mock.script(toolRoundTrip());
  const streamer = agent(async (task) => {
    const result = streamText({ model: provider.chat("mock-model"), prompt: task.text, tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 });
    let text = "";
    for await (const chunk of result.textStream) text += chunk;
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "streamer" });
  const run = await runAndCount(plain.trainer, plain.mock, streamer, { text: "weather in Paris?" }, 2);
  assert.equal(run.rollout.finalReward, 1);
  assertChannelStructure(run, "ai.streamText");
  assert.equal(run.report.incompleteSpans, 0);
});

test("AI SDK 6: generateText with experimental_telemetry and instrument({ otel: true })", { skip: onlyAi6 }, async () => {
  const summarizer = agent(async (task) => {
    const { text } = await generateText({ model: otelProvider.chat("mock-model"), prompt: task.text, maxRetries: 0, experimental_telemetry: { isEnabled: true } });
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "summarizer" });
  const run = await runAndCount(withOtel.trainer, withOtel.mock, summarizer, { text: "summarize this" }, 1);
  assert.equal(run.rollout.finalReward, 1);
  assert.ok("otel" in run.report.layers, `the SDK's OpenTelemetry spans were mirrored (layers: ${JSON.stringify(run.report.layers)})`);
  assert.ok(run.spans.some((s) => s.name.startsWith("ai.generateText")), `the ai.generateText span (spans: ${run.spans.map((s) => s.name).join(", ")})`);
});

// Last in this file: registerTelemetry is global and permanent.
test("AI SDK 7 with @ai-sdk/otel registered and instrument({ otel: true }): still once, the channel's record kept", { skip: onlyAi7 }, async () => {
  const [{ registerTelemetry }, { OpenTelemetry }, { trace }] = await Promise.all([import("ai"), import("@ai-sdk/otel"), import("@opentelemetry/api")]);
  // A tracer that counts what @ai-sdk/otel starts, so the test proves OpenTelemetry saw the operation too.
  const started = [];
  const gen = trace.getTracer("gen_ai");
  const counting = {
    startSpan: (name, ...rest) => (started.push(name), gen.startSpan(name, ...rest)),
    startActiveSpan: (...args) => gen.startActiveSpan(...args),
  };
  registerTelemetry(new OpenTelemetry({ tracer: counting }));
  const planner = agent(async (task) => {
    const { text } = await generateText({ model: otelProvider.chat("mock-model"), prompt: task.text, tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 });
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "planner" });
  // streamText opens its OpenTelemetry root outside the channel's context: the rollout decides.
  const streamer = agent(async (task) => {
    const result = streamText({ model: otelProvider.chat("mock-model"), prompt: task.text, tools: { weather }, stopWhen: stepCountIs(3), maxRetries: 0 });
    let text = "";
    for await (const chunk of result.textStream) text += chunk;
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "streamer" });
  for (const [agentToRun, operationName] of [[planner, "ai.generateText"], [streamer, "ai.streamText"]]) {
    started.length = 0;
    withOtel.mock.script(toolRoundTrip());
    const run = await runAndCount(withOtel.trainer, withOtel.mock, agentToRun, { text: "weather in Paris?" }, 2);
    assert.equal(run.rollout.finalReward, 1);
    assert.ok(started.some((name) => name.startsWith("execute_tool")) && started.some((name) => name.startsWith("chat")), `@ai-sdk/otel started its spans: ${started.join(", ")}`);
    assertChannelStructure(run, operationName);
    const mirrored = run.spans.filter((s) => attr(s, Attr.layer) === "otel");
    assert.deepEqual(mirrored.map((s) => s.name), [], "the SDK's OpenTelemetry spans are not recorded a second time");
  }
});
