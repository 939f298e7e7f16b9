/**
 * GEPA with tokens as a second objective: on a task every prompt solves, a reflection that
 * shortens the system prompt ties on reward and spends fewer tokens — it passes the gate, stays on
 * the Pareto front and is picked; with reward alone the same tie is refused and the seed stays.
 * Pure rules of pareto.ts first, then real runs (openai SDK agent, mock LLM, SQLite store).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Trainer, agent, ValidationError, type AgentContext } from "tracetrain";
import { SqliteStore } from "tracetrain/store";
import { type MockLlm, echoResponder, startMockLlm } from "tracetrain/testing";
import { GEPA, type GEPAOptions, type GEPAResult } from "../../src/algorithms/gepa/index.js";
import { bestByMean, bestByRewardAndTokens, frontier, nonDominated, selectionWeights } from "../../src/algorithms/gepa/pareto.js";
import { minibatchGate } from "../../src/algorithms/gepa/gate.js";

describe("the Pareto front on (score, tokens)", () => {
  it("keeps a cheaper candidate with equal scores, and drops one worse on both", () => {
    const pool = [
      { id: "seed", scores: [1, 1, 0], tokens: [300, 300, 300] },
      { id: "short", scores: [1, 1, 0], tokens: [100, 120, 110] },
      { id: "worse", scores: [0, 1, 0], tokens: [400, 400, 400] },
    ];
    expect(nonDominated(pool)).toEqual(["short"]);
    // Reward alone: the three tie on tasks 1 and 2; "worse" wins nothing alone, the newer of the equal ones stays.
    expect(nonDominated(pool.map(({ id, scores }) => ({ id, scores })))).toEqual(["short"]);
    // A candidate that scores lower but is cheaper is not dominated: it stays.
    const tradeOff = [...pool, { id: "cheap", scores: [0, 1, 0], tokens: [50, 50, 50] }];
    expect(nonDominated(tradeOff)).toEqual(["short", "cheap"]);
    // Parent weights count the tasks that tell the front apart: only "cheap" wins tasks 2 and 3.
    expect(selectionWeights(tradeOff)).toEqual(new Map([["short", 0], ["cheap", 2]]));
  });

  it("compares on the score alone where a count is unknown", () => {
    const pool = [
      { id: "a", scores: [1], tokens: [Number.NaN] },
      { id: "b", scores: [1], tokens: [10] },
    ];
    // Equal scores: both win the task, and of the two the newer stays (as with reward alone).
    expect(frontier(pool).winners).toEqual([["a", "b"]]);
    expect(nonDominated(pool)).toEqual(["b"]);
    // A higher score wins whatever the unknown count.
    expect(frontier([{ id: "a", scores: [1], tokens: [Number.NaN] }, { id: "b", scores: [0], tokens: [1] }]).winners).toEqual([["a"]]);
  });

  it("picks the best mean reward, ties by fewer tokens, or by a user weight", () => {
    const pool = [
      { id: "seed", scores: [1, 0], tokens: [100, 100] },
      { id: "long", scores: [1, 1], tokens: [900, 900] },
      { id: "short", scores: [1, 1], tokens: [300, 300] },
      { id: "newer-long", scores: [1, 1], tokens: [800, 800] },
    ];
    expect(bestByMean(pool).id).toBe("newer-long");
    expect(bestByRewardAndTokens(pool, undefined).id).toBe("short");
    // 1 reward per 1000 tokens: short 1 − 0.3 = 0.7 beats seed 0.5 − 0.1 = 0.4.
    expect(bestByRewardAndTokens(pool, 1).id).toBe("short");
    // 2 per 1000 tokens: short 1 − 0.6 = 0.4 still beats seed 0.5 − 0.2 = 0.3.
    expect(bestByRewardAndTokens(pool, 2).id).toBe("short");
    // 4 per 1000: seed 0.1 beats short −0.2.
    expect(bestByRewardAndTokens(pool, 4).id).toBe("seed");
    expect(bestByRewardAndTokens(pool, 0).id).toBe("newer-long");
  });

  it("the gate lets a tie with fewer tokens pass only when tokens are an objective", () => {
    expect(minibatchGate([1, 1], [1, 1]).accepted).toBe(false);
    expect(minibatchGate([1, 1], [1, 1], { parent: 400, child: 200 })).toMatchObject({ accepted: true, reason: "tie (1.000 on 2 tasks) with fewer tokens: 200 < 400" });
    expect(minibatchGate([1, 1], [1, 1], { parent: 200, child: 200 }).accepted).toBe(false);
    expect(minibatchGate([1, 1], [1, 0], { parent: 400, child: 10 }).accepted).toBe(false);
  });
});

const LONG_SEED = `You answer the user's request. ${"Think about every detail of the request very carefully before answering, and restate it. ".repeat(12)}`;
const SHORT = "Answer briefly.";

let llm: MockLlm;
let dir: string;
beforeAll(async () => {
  // The reflection model always proposes the short prompt; the agent's model echoes (every prompt solves the task).
  llm = await startMockLlm({ responder: (request) => (request.body.model === "mock-optimizer" ? { text: `<template>${SHORT}</template>` } : echoResponder(request)) });
  dir = mkdtempSync(join(tmpdir(), "tt-gepa-tokens-"));
});
afterAll(async () => {
  await llm.close();
  rmSync(dir, { recursive: true, force: true });
});

const echoAgent = agent(
  async (task: string, ctx: AgentContext) => {
    const client = new OpenAI({ baseURL: ctx.llm().baseUrl, apiKey: "test", maxRetries: 0 });
    const r = await client.chat.completions.create({ model: ctx.llm().model, messages: [{ role: "system", content: ctx.prompt("system").format({}) }, { role: "user", content: task }] });
    return r.choices[0]?.message.content?.startsWith("echo:") ? 1 : 0;
  },
  { name: "echo" },
);

async function runGepa(options: Partial<GEPAOptions>, name: string): Promise<{ result: GEPAResult; store: SqliteStore }> {
  const store = new SqliteStore(join(dir, `${name}.db`));
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const gepa = new GEPA({ client: new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 }), model: "mock-optimizer", minibatchSize: 2, paretoTasks: 4, maxProposals: 1, maxMerges: 0, perfectScore: null, runId: name, ...options });
  const trainer = new Trainer({
    store,
    runners: 4,
    progress: false,
    logger: quiet,
    handleSignals: false,
    initialResources: { system: { kind: "prompt_template", template: LONG_SEED, engine: "mustache" }, main: { kind: "llm", baseUrl: llm.baseUrl, model: "gpt-4.1-mini" } },
    algorithm: gepa,
  });
  try {
    const { result } = await trainer.fit(echoAgent, { train: ["t1", "t2", "t3"], val: ["v1", "v2", "v3", "v4"] });
    return { result, store };
  } finally {
    await trainer.close();
  }
}

describe("GEPA with objectives ['reward', 'tokens']", () => {
  it("accepts and picks the shorter prompt that ties on reward; with reward alone the seed stays", async () => {
    const { result, store } = await runGepa({ objectives: ["reward", "tokens"] }, "gepa-tokens");
    try {
      const [proposal] = result.proposals;
      expect(proposal).toMatchObject({ status: "accepted", gate: { accepted: true, parentMean: 1, childMean: 1 } });
      expect(proposal!.gate!.tokens!.child).toBeLessThan(proposal!.gate!.tokens!.parent);
      expect(result.best.candidateId).toBe(proposal!.child);
      expect((result.best.resources.system as { template: string }).template).toBe(SHORT);
      const seed = result.pool.find((p) => p.candidateId === "seed")!;
      const best = result.pool.find((p) => p.candidateId === result.best.candidateId)!;
      expect(best.meanTokens!).toBeLessThan(seed.meanTokens!);
      // The cheaper candidate with equal scores dominates the seed: the front is it alone.
      expect(best.onFront).toBe(true);
      expect(seed.onFront).toBe(false);
      // The run's figures: every rollout's tokens, from usage, priced.
      expect(result.tokens).toMatchObject({ source: "usage", unpricedModels: [] });
      expect(result.tokens.calls).toBe(result.spend.rollouts);
      expect(result.tokensPerReward).toBeCloseTo(result.tokens.total / result.spend.rollouts, 9);
      const run = await store.getRun("gepa-tokens");
      expect(run.summary).toMatchObject({ tokens: { total: result.tokens.total }, tokensPerReward: result.tokensPerReward });
      const scores = await store.queryRunEntries({ runId: "gepa-tokens", kind: ["score"] });
      const pareto = scores.items.map((e) => e.data as { candidateId: string; on: string; tokens?: { total: number } }).filter((d) => d.on === "pareto");
      expect(pareto.map((d) => [d.candidateId, d.tokens!.total])).toEqual([
        ["seed", seed.meanTokens! * 4],
        [best.candidateId, best.meanTokens! * 4],
      ]);
    } finally {
      await store.close();
    }

    const plain = await runGepa({}, "gepa-reward-only");
    try {
      expect(plain.result.proposals[0]).toMatchObject({ status: "rejected-by-gate" });
      expect(plain.result.best.candidateId).toBe("seed");
    } finally {
      await plain.store.close();
    }
  });

  it("refuses a tokenWeight without the tokens objective, naming the field", () => {
    const client = new OpenAI({ baseURL: "http://127.0.0.1:9/v1", apiKey: "x" });
    const error = (() => {
      try {
        new GEPA({ client, tokenWeight: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(["tokenWeight"]);
    expect(() => new GEPA({ client, objectives: ["tokens"] as never })).toThrow(ValidationError);
  });
});
