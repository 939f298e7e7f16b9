// A SQLite store on this Node (node:sqlite where Node has it, better-sqlite3 on Node 20), and
// rollouts run in worker processes — dist/worker-main.js found next to the package's chunks.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Trainer, createStore } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { startMockLlm } from "tracetrain/testing";
import { llmRequestsSince, llmSpans } from "../support/helpers.mjs";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-compat-"));
let mock;
before(async () => {
  mock = await startMockLlm();
  process.env.OPENAI_BASE_URL = mock.baseUrl; // worker processes inherit it
});
after(async () => {
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a SQLite store from createStore", async () => {
  const store = createStore(`sqlite:${join(dir, "compat.db")}`);
  try {
    const rollout = await store.enqueue({ input: { q: 1 } });
    const [claimed] = await store.dequeue({ workerId: "compat" });
    await store.completeAttempt(rollout.rolloutId, claimed.attempt.attemptId, { status: "succeeded", finalReward: 1 });
    const done = await store.getRollout(rollout.rolloutId);
    assert.deepEqual([done.status, done.finalReward], ["succeeded", 1]);
  } finally {
    await store.close();
  }
});

test("rollouts in two worker processes", async () => {
  const { echoer } = await import("./fixtures/worker-agent.mjs");
  const store = new MemoryStore();
  const trainer = new Trainer({ store, runners: { processes: 2, concurrency: 2 }, progress: false });
  const since = mock.requests.length;
  try {
    const result = await trainer.evaluate(echoer, [{ q: "a" }, { q: "b" }, { q: "c" }, { q: "d" }]);
    assert.deepEqual([result.succeeded, result.meanReward], [4, 1]);
    const { items } = await store.queryRollouts();
    let recorded = 0;
    for (const rollout of items) recorded += llmSpans((await store.querySpans({ rolloutId: rollout.rolloutId })).items).length;
    assert.equal(llmRequestsSince(mock, since), 4);
    assert.equal(recorded, 4, "each worker's LLM call recorded once");
  } finally {
    await trainer.close();
    await store.close();
  }
});
