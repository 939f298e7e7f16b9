// The OpenAI Agents SDK, unchanged, with a handoff from one agent to another.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Agent, run, setDefaultOpenAIClient, setTraceProcessors, setTracingDisabled } from "@openai/agents";
import OpenAI from "openai";
import { agent } from "tracetrain";
import { replySequence } from "tracetrain/testing";
import { runAndCount, useMockAndTrainer } from "../support/helpers.mjs";

const setup = useMockAndTrainer({}, ({ mock }) => {
  setDefaultOpenAIClient(new OpenAI({ baseURL: mock.baseUrl, apiKey: "test", maxRetries: 0 }));
  // As docs/wrap-your-agent.md says: the SDK's own exporter would send traces to OpenAI; tracetrain records alone.
  setTraceProcessors([]);
  setTracingDisabled(false);
});

test("a triage agent hands off to a specialist", async () => {
  setup.mock.script(replySequence([{ toolCalls: [{ name: "transfer_to_specialist", arguments: {} }] }, { text: "Sunny in Oslo." }]));
  const specialist = new Agent({ name: "specialist", instructions: "You know the weather.", model: "mock-model" });
  const triage = new Agent({ name: "triage", instructions: "Route weather questions.", model: "mock-model", handoffs: [specialist] });
  const helpdesk = agent(async (task) => {
    const result = await run(triage, task.question);
    return result.finalOutput === "Sunny in Oslo." && result.lastAgent?.name === "specialist" ? 1 : 0;
  }, { name: "helpdesk" });
  try {
    const outcome = await runAndCount(setup.trainer, setup.mock, helpdesk, { question: "Weather in Oslo?" }, 2);
    assert.equal(outcome.rollout.finalReward, 1);
    const names = outcome.spans.map((s) => s.name);
    assert.ok(names.includes("invoke_agent triage") && names.includes("invoke_agent specialist"), `both agents recorded (spans: ${names.join(", ")})`);
    assert.ok(names.includes("handoff triage -> specialist"), `the handoff recorded (spans: ${names.join(", ")})`);
  } finally {
    setup.mock.script(undefined);
  }
});
