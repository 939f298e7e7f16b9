/**
 * The AI SDK agent, run by a Trainer against the simulated model: told every rule it solves every
 * report, and the store holds exactly the model calls the endpoint answered and the tool calls it
 * asked for — no code in the agent about tracing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Trainer } from "tracetrain";
import { type MockLlm, type Responder, startMockLlm } from "tracetrain/testing";
import { expenseAgent, instrument, SEED_PROMPT } from "../agent.js";
import { captureOf, summarizeCapture } from "../capture.js";
import { loadTasks } from "../expenses.js";
import { agentModel, RULES } from "../mock-model.js";

describe("the AI SDK agent under a Trainer", () => {
  let llm: MockLlm;
  const asked = { calls: 0, toolCalls: 0 };
  before(async () => {
    const model = agentModel({ seed: 0, noise: 0 });
    const counting: Responder = async (request) => {
      const reply = await model(request);
      asked.calls++;
      if ("toolCalls" in reply) asked.toolCalls += reply.toolCalls.length;
      return reply;
    };
    llm = await startMockLlm({ responder: counting });
  });
  after(() => llm.close());

  const trainerWith = (template: string) =>
    new Trainer({
      store: "memory",
      runners: 8,
      progress: false,
      instrument,
      initialResources: { system: { kind: "prompt_template", template }, main: { kind: "llm", baseUrl: llm.baseUrl, model: "expense-agent" } },
    });

  it("told every rule, earns 1 on all 36 reports, and every model call and tool call is in the store", async () => {
    const tasks = await loadTasks();
    const trainer = trainerWith([SEED_PROMPT, ...RULES.map((r) => r.sentence)].join("\n"));
    try {
      asked.calls = 0;
      asked.toolCalls = 0;
      const result = await trainer.evaluate(expenseAgent, tasks);
      assert.equal(result.meanRewardWithFailuresAsZero, 1);
      const store = await trainer.store();
      const capture = summarizeCapture(await Promise.all(result.tasks.map((t) => captureOf(store, t.rolloutId))));
      assert.equal(capture.rollouts, 36);
      assert.equal(capture.llmCalls.total, asked.calls);
      assert.equal(capture.toolCalls.total, asked.toolCalls);
      // Lookups, the sum, the answer: three model calls a report.
      assert.deepEqual([capture.llmCalls.min, capture.llmCalls.max], [3, 3]);
      assert.ok(capture.layers.includes("fetch"), `the model calls come from the fetch layer: ${capture.layers.join(", ")}`);
      assert.ok(capture.layers.includes("ai") || capture.layers.includes("otel"), `the tool executions from the AI SDK's channel (7) or OpenTelemetry (6): ${capture.layers.join(", ")}`);
    } finally {
      await trainer.close();
    }
  });

  it("with the seed prompt, answers in one call where it trusts its memory, and the reward says it was wrong", async () => {
    const trainer = trainerWith(SEED_PROMPT);
    try {
      const berlin = (await loadTasks()).filter((t) => t.receipts.every((r) => r.currency === "EUR")).slice(0, 3);
      assert.equal(berlin.length, 3);
      const result = await trainer.evaluate(expenseAgent, berlin);
      const store = await trainer.store();
      for (const task of result.tasks) {
        assert.equal(task.reward, 0);
        const { llmCalls, toolCalls } = await captureOf(store, task.rolloutId);
        assert.deepEqual({ llmCalls, toolCalls }, { llmCalls: 1, toolCalls: 0 });
      }
    } finally {
      await trainer.close();
    }
  });
});
