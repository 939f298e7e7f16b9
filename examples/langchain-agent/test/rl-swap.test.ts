/**
 * Why the one change matters for RL: RL points the `main` resource at its gateway. The tunable
 * agent reads its model from ctx.llm(), so its calls go through the gateway to the policy being
 * trained and are recorded with the exact token ids RL trains on. The unchanged agent keeps calling
 * the endpoint its environment names — here the very same policy, reached directly: its calls are
 * recorded as text only, and RL has nothing to train on. (One short step each on the CPU reference
 * policy: this checks the plumbing, not learning.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Agent, RL, type RLResult, TraceAdapter, Trainer, type Transition } from "tracetrain";
import { ReferenceBackend } from "tracetrain/rl";
import { tunableSupport, unchangedSupport } from "../agents.js";
import { SYSTEM_PROMPT } from "../support-agent.js";
import { loadTasks, type SupportTask } from "../tasks.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe("RL swaps the model of the tunable agent only", () => {
  let backend: ReferenceBackend;
  let tasks: SupportTask[];
  before(async () => {
    backend = await ReferenceBackend.start({ actions: ["Yes, we carry it.", "Sorry, we do not carry that."], seed: 0 });
    process.env.OPENAI_BASE_URL = backend.baseUrl;
    process.env.OPENAI_MODEL = backend.model;
    tasks = (await loadTasks()).filter((t) => t.id.startsWith("carry-")).slice(0, 2);
  });
  after(() => backend.close());

  /** One RL step of 2 tasks × 2 rollouts, and every LLM call its rollouts recorded. */
  async function oneStep(support: Agent<SupportTask>): Promise<{ result: RLResult; calls: Transition[] }> {
    const trainer = new Trainer({
      store: "memory",
      runners: 4,
      progress: false,
      logger: quiet,
      initialResources: { system: { kind: "prompt_template", template: SYSTEM_PROMPT }, main: { kind: "llm", baseUrl: backend.baseUrl, model: backend.model } },
      algorithm: new RL({ backend, steps: 1, tasksPerStep: 2, groupSize: 2, evalEvery: 0, dynamicSampling: false }),
    });
    try {
      const { result } = await trainer.fit(support, { train: tasks });
      const store = await trainer.store();
      const rollouts = (await store.queryRollouts({ limit: 100 })).items;
      assert.equal(rollouts.length, 4);
      const spans = await Promise.all(rollouts.map(async (r) => (await store.querySpans({ rolloutId: r.rolloutId, attemptId: "latest" })).items));
      return { result, calls: spans.flatMap((s) => new TraceAdapter().toTransitions(s)) };
    } finally {
      await trainer.close();
    }
  }

  it("the tunable agent's calls went through the gateway and carry token ids", async () => {
    const { result, calls } = await oneStep(tunableSupport);
    assert.ok(calls.length >= 4, `calls: ${calls.length}`);
    assert.ok(calls.every((c) => !c.textOnly && (c.response.tokenIds?.length ?? 0) > 0));
    assert.equal(result.steps[0]?.textOnlyCalls, 0);
  });

  it("the unchanged agent's calls bypassed the gateway: text only, nothing to train on", async () => {
    const { result, calls } = await oneStep(unchangedSupport);
    assert.ok(calls.length >= 4, `calls: ${calls.length}`);
    assert.ok(calls.every((c) => c.textOnly));
    assert.equal(result.steps[0]?.samples, 0);
    assert.ok((result.steps[0]?.textOnlyCalls ?? 0) > 0);
  });
});
