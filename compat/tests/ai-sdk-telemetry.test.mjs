// The Vercel AI SDK with experimental_telemetry and instrument({ otel: true }): the SDK's own spans
// (through the application's @opentelemetry/api) and the fetch layer both see each call; it still
// counts once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import { agent } from "tracetrain";
import { runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

let provider;
const setup = useMockAndTrainer({ instrument: { otel: true } }, ({ mock }) => (provider = createOpenAI({ baseURL: mock.baseUrl, apiKey: "test" })));

test("generateText with telemetry on", async () => {
  const summarizer = agent(async (task) => {
    const { text } = await generateText({ model: provider.chat("mock-model"), prompt: task.text, maxRetries: 0, experimental_telemetry: { isEnabled: true } });
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "summarizer" });
  const run = await runAndCount(setup.trainer, setup.mock, summarizer, { text: "summarize this" }, 1);
  assert.equal(run.rollout.finalReward, 1);
  assert.ok("otel" in run.report.layers, `the SDK's OpenTelemetry spans were mirrored (layers: ${JSON.stringify(run.report.layers)})`);
  assert.ok(run.spans.some((s) => s.name.startsWith("ai.generateText")), `the ai.generateText span (spans: ${run.spans.map((s) => s.name).join(", ")})`);
});
