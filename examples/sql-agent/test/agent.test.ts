/**
 * The LangGraph agent under tracetrain, against the simulated models: who made which call, what
 * the reward records, the self-check report, and GEPA changing the writer's prompt only.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { GEPA, Trainer } from "tracetrain";
import type { MockLlm } from "tracetrain/testing";
import { makeSqlAgent } from "../agent.js";
import { type GoldAnswer, goldAnswers, loadEvalItems, split } from "../eval-set.js";
import { SEED_PROMPTS, seedPromptResources } from "../prompts.js";
import { evaluateSqlAgent } from "../report.js";
import { startSqlModels } from "../simulation/index.js";
import { schemaText, SqlRunner } from "../sql.js";

describe("the SQL agent on the simulated models", () => {
  const sql = new SqlRunner();
  const items = loadEvalItems();
  let gold: Map<string, GoldAnswer>;
  let mock: MockLlm;
  const resources = () => ({ ...seedPromptResources(), main: { kind: "llm" as const, baseUrl: mock.baseUrl, model: "simulated-sql" } });
  before(async () => {
    gold = await goldAnswers(items, sql);
    mock = await startSqlModels(0);
  });
  after(async () => {
    await mock.close();
    await sql.close();
  });

  it("records each call under its agent, rewrites at most max-rewrites times, and feeds a failing query's error to the checker", async () => {
    const agent = makeSqlAgent({ gold, sql, schema: schemaText(), maxRewrites: 1 });
    const trainer = new Trainer({ store: "memory", progress: false, initialResources: resources() });
    try {
      const evaluation = await trainer.evaluate(agent, split(items, "test"));
      const store = await trainer.store();
      let sawError = false;
      for (const task of evaluation.tasks) {
        const spans = (await store.querySpans({ rolloutId: task.rolloutId, attemptId: "latest", limit: 1000 })).items;
        const calls = spans.filter((s) => s.attributes?.["tracetrain.span.type"] === "llm").map((s) => String(s.attributes?.["tracetrain.agent.name"]));
        assert.ok(["writer,checker", "writer,checker,rewriter,checker"].includes(calls.join(",")), calls.join(","));
        const checkerInputs = spans.filter((s) => s.attributes?.["tracetrain.span.type"] === "llm" && s.attributes?.["tracetrain.agent.name"] === "checker").map((s) => JSON.stringify(s.attributes?.["gen_ai.input.messages"]));
        if (checkerInputs.some((m) => m.includes("ERROR: "))) sawError = true;
        assert.ok(spans.some((s) => s.name === "run_sql"), "the query runs as a recorded operation");
        assert.ok(task.reward === 0 || task.reward === 1);
      }
      assert.ok(sawError, "some draft fails, and the checker is shown the error");
    } finally {
      await trainer.close();
    }
  });

  it("reports execution accuracy and the checker's agreement with the verifier, question by question", async () => {
    const agent = makeSqlAgent({ gold, sql, schema: schemaText(), maxRewrites: 1 });
    const report = await evaluateSqlAgent({ agent, tasks: split(items, "val"), resources: resources(), store: "memory" });
    const { confusion: c } = report;
    assert.equal(report.tasks, 10);
    assert.equal(c.correctSaidCorrect + c.wrongSaidCorrect + c.correctSaidWrong + c.wrongSaidWrong + c.noVerdict, 10);
    assert.equal(c.noVerdict, 0);
    assert.equal(report.accuracy, (c.correctSaidCorrect + c.correctSaidWrong) / 10);
    assert.equal(report.agreement, (c.correctSaidCorrect + c.wrongSaidWrong) / 10);
    assert.ok(c.wrongSaidCorrect > 0, "the checker passes some wrong queries");
    assert.ok(report.accuracy > 0 && report.accuracy < 1);
    assert.deepEqual(report.outcomes.map((o) => o.id), split(items, "val").map((t) => t.id));
  });

  it("GEPA with agents: ['writer'] rewrites the writer's prompt and leaves the checker's and the rewriter's as they were", async () => {
    const agent = makeSqlAgent({ gold, sql, schema: schemaText(), maxRewrites: 1 });
    const trainer = new Trainer({
      store: "memory",
      progress: false,
      initialResources: resources(),
      algorithm: new GEPA({ client: new OpenAI({ baseURL: mock.baseUrl, apiKey: "none" }), model: "simulated-sql", agents: ["writer"], maxProposals: 3, seed: 0, prices: { "simulated-sql": { input: 0, output: 0 } } }),
    });
    try {
      const { result } = await trainer.fit(agent, { train: split(items, "train"), val: split(items, "val"), test: split(items, "test") });
      assert.deepEqual(result.components.evolved, ["writer"]);
      assert.deepEqual(result.components.fixed.map((f) => f.name).sort(), ["checker", "rewriter"]);
      const best = result.best.resources;
      const template = (name: string) => (best[name]?.kind === "prompt_template" ? best[name].template : undefined);
      assert.equal(template("checker"), SEED_PROMPTS.checker);
      assert.equal(template("rewriter"), SEED_PROMPTS.rewriter);
      assert.notEqual(template("writer"), SEED_PROMPTS.writer);
      assert.ok(template("writer")!.startsWith(SEED_PROMPTS.writer));
    } finally {
      await trainer.close();
    }
  });
});
