/**
 * The two wrapped agents under a Trainer: what the tracer records of the unchanged one, that the
 * tunable one takes its prompt and model from the rollout's resources, and one round of APO.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { APO, type Span, Trainer } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { type MockLlm, requestMessages } from "tracetrain/testing";
import { tunableSupport, unchangedSupport } from "../agents.js";
import { RULES, rulesStated, startSimulatedModels } from "../mock-model.js";
import { SYSTEM_PROMPT } from "../support-agent.js";
import { loadTasks, splitTasks, type SupportTask } from "../tasks.js";

describe("the wrapped agents", () => {
  let mock: MockLlm;
  let tasks: SupportTask[];
  before(async () => {
    mock = await startSimulatedModels({ seed: 0, slip: 0 });
    // The unchanged agent reads its endpoint from the environment, like the application it comes from.
    process.env.OPENAI_BASE_URL = mock.baseUrl;
    process.env.OPENAI_MODEL = "env-model";
    tasks = await loadTasks();
  });
  after(() => mock.close());

  /** The model and system prompt of each chat request the mock received since `from`. */
  const sent = (from: number) =>
    mock.requests
      .slice(from)
      .filter((r) => r.path === "/v1/chat/completions")
      .map((r) => {
        const body = r.body as Record<string, unknown>;
        return { model: body.model, system: requestMessages(body).find((m) => m.role === "system")?.text };
      });
  const ofType = (spans: Span[], type: string) => spans.filter((s) => s.attributes[Attr.spanType] === type).sort((a, b) => a.sequence - b.sequence);

  it("records the unchanged agent's LLM calls and tool calls, and its own prompt and model go out", async () => {
    const trainer = new Trainer({ store: "memory", runners: 2, progress: false });
    const from = mock.requests.length;
    try {
      const picked = tasks.filter((t) => ["price-TR-100", "carry-kayaks"].includes(t.id));
      const result = await trainer.evaluate(unchangedSupport, picked);
      assert.deepEqual(result.tasks.map((t) => t.reward), [0, 0]);
      const store = await trainer.store();
      for (const { rolloutId } of result.tasks) {
        const spans = (await store.querySpans({ rolloutId, attemptId: "latest", limit: 1000 })).items;
        assert.ok(ofType(spans, SpanTypes.llm).length >= 2, "two model turns recorded");
        assert.deepEqual(ofType(spans, SpanTypes.tool).map((s) => s.attributes[Attr.toolName]), ["search_catalog"]);
        assert.ok(spans.some((s) => s.name === "invoke_agent support"), "the createAgent run is an agent span");
      }
      assert.deepEqual(sent(from), Array.from({ length: 4 }, () => ({ model: "env-model", system: SYSTEM_PROMPT })));
    } finally {
      await trainer.close();
    }
  });

  it("builds the tunable agent from the rollout's resources: the prompt it is given, the model it is given", async () => {
    const prompt = [SYSTEM_PROMPT, ...RULES.map((r) => r.sentence)].join("\n");
    const trainer = new Trainer({
      store: "memory",
      runners: 4,
      progress: false,
      initialResources: { system: { kind: "prompt_template", template: prompt }, main: { kind: "llm", baseUrl: mock.baseUrl, model: "resource-model" } },
    });
    const from = mock.requests.length;
    try {
      const { test } = splitTasks(tasks);
      const result = await trainer.evaluate(tunableSupport, test);
      assert.equal(result.meanRewardWithFailuresAsZero, 1);
      const requests = sent(from);
      assert.ok(requests.length >= 2 * test.length);
      assert.deepEqual(new Set(requests.map((r) => JSON.stringify(r))), new Set([JSON.stringify({ model: "resource-model", system: prompt })]));
    } finally {
      await trainer.close();
    }
  });

  it("one APO round adds a shop rule to the prompt, and it scores better on validation", async () => {
    const { train, val } = splitTasks(tasks);
    const trainer = new Trainer({
      store: "memory",
      runners: 4,
      progress: false,
      initialResources: { system: { kind: "prompt_template", template: SYSTEM_PROMPT }, main: { kind: "llm", baseUrl: mock.baseUrl, model: "sim" } },
      algorithm: new APO({ client: new OpenAI({ baseURL: mock.baseUrl, apiKey: "none" }), model: "sim-optimizer", rounds: 1, beamWidth: 1, branchFactor: 2, seed: 0, prices: { sim: { input: 0, output: 0 }, "sim-optimizer": { input: 0, output: 0 } } }),
    });
    try {
      const { result } = await trainer.fit(tunableSupport, { train, val });
      const best = result.best.resources.system;
      assert.ok(best?.kind === "prompt_template");
      assert.ok(best.template.startsWith(SYSTEM_PROMPT));
      assert.ok(rulesStated(best.template).size >= 1, `a rule was added: ${best.template}`);
      assert.ok(result.best.score > result.seed.score, `${result.best.score} > ${result.seed.score}`);
    } finally {
      await trainer.close();
    }
  });
});
