// The Vercel AI SDK without its telemetry: its calls are recorded through fetch.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";
import { agent } from "tracetrain";
import { llmPathsSince, runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

let provider;
const setup = useMockAndTrainer({}, ({ mock }) => (provider = createOpenAI({ baseURL: mock.baseUrl, apiKey: "test" })));

test("generateText over chat completions", async () => {
  const summarizer = agent(async (task) => {
    const { text } = await generateText({ model: provider.chat("mock-model"), prompt: task.text, maxRetries: 0 });
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "summarizer" });
  const run = await runAndCount(setup.trainer, setup.mock, summarizer, { text: "summarize this" }, 1);
  assert.equal(run.rollout.finalReward, 1);
});

test("streamText over the Responses API", async () => {
  const since = setup.mock.requests.length;
  const streamer = agent(async (task) => {
    const result = streamText({ model: provider.responses("mock-model"), prompt: task.text, maxRetries: 0 });
    let text = "";
    for await (const chunk of result.textStream) text += chunk;
    return text === `echo: ${task.text}` ? 1 : 0;
  }, { name: "ai-streamer" });
  const run = await runAndCount(setup.trainer, setup.mock, streamer, { text: "stream this" }, 1);
  assert.deepEqual(llmPathsSince(setup.mock, since), ["/v1/responses"]);
  assert.equal(run.rollout.finalReward, 1);
});
