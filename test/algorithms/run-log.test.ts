/** The recorder algorithms write their runs with: checked entries, keyed writes, a store failure that never ends the run. */
import { describe, expect, it } from "vitest";
import { HttpStore, MemoryStore } from "tracetrain/store";
import { startStoreServer } from "tracetrain/server";
import { jsonOf, RunLog } from "../../src/algorithms/run-log.js";
import { entriesOf } from "../support/run-records.js";

function collecting() {
  const warnings: string[] = [];
  return { warnings, logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) } };
}

const spend = { rollouts: 4, optimizerTokens: 100, usd: 0.5, limits: { maxRollouts: 10, maxOptimizerTokens: null, maxUsd: null } };

/** A memory store whose log fails while `failing` is set. */
class FlakyStore extends MemoryStore {
  failing = true;
  override async addRunEntries(...args: Parameters<MemoryStore["addRunEntries"]>) {
    if (this.failing) throw new Error("connection reset");
    return super.addRunEntries(...args);
  }
}

describe("RunLog", () => {
  it("writes nothing its kind's schema refuses, warns once per kind, and writes the rest", async () => {
    const store = new MemoryStore();
    const { warnings, logger } = collecting();
    const log = await RunLog.open({ store, logger }, "r1", "apo", { rounds: 2 });
    log.add("spend", "spend-1", { ...spend, rollouts: Number.NaN });
    log.add("spend", "spend-2", { ...spend, usd: -1 });
    log.add("score", "score-seed", { candidateId: "seed", on: "val", mean: 0.5, n: 4, ci95: [0.2, 0.8] });
    const stats = await log.end("completed", { best: "seed", score: Number.NaN });
    expect(stats).toEqual({ added: 1, duplicates: 0, failedWrites: 0, lost: 2 });
    expect(warnings).toEqual(["APO run r1: a 'spend' entry (spend-1) was not recorded: rollouts: Invalid input: expected number, received NaN (a bug in the algorithm; the run goes on)"]);
    expect((await entriesOf(store, "r1")).map((e) => [e.kind, e.key])).toEqual([["score", "score-seed"]]);
    // NaN has no JSON: the summary says null.
    expect(await store.getRun("r1")).toMatchObject({ algorithm: "apo", status: "completed", config: { rounds: 2 }, summary: { best: "seed", score: null } });
  });

  it("keeps a failed write for the next flush, warning only the first time", async () => {
    const store = new FlakyStore();
    const { warnings, logger } = collecting();
    const log = await RunLog.open({ store, logger }, "r2", "gepa", {});
    log.add("spend", "spend-1", spend);
    await log.flush();
    log.add("spend", "spend-2", spend);
    await log.flush();
    expect(warnings).toEqual(["GEPA run r2: the store did not take the run's record (Error: connection reset); training goes on, and its record in the store may be incomplete"]);
    store.failing = false;
    const stats = await log.end("stopped", {});
    expect(stats).toEqual({ added: 2, duplicates: 0, failedWrites: 2, lost: 0 });
    expect((await entriesOf(store, "r2")).map((e) => e.key)).toEqual(["spend-1", "spend-2"]);
    expect(warnings).toHaveLength(1);
  });

  it("adds an entry once however often it is recorded: a resumed run re-records safely", async () => {
    const store = new MemoryStore();
    const { logger } = collecting();
    for (const expected of [{ added: 1, duplicates: 0 }, { added: 0, duplicates: 1 }]) {
      const log = await RunLog.open({ store, logger }, "r3", "rl", {});
      log.add("spend", "spend-1", spend);
      expect(await log.end("completed", {})).toMatchObject(expected);
    }
    expect(await entriesOf(store, "r3")).toHaveLength(1);
  });

  it("records through a store server as in process, and a server that goes away is one warning", async () => {
    const backing = new MemoryStore();
    const quiet = collecting().logger;
    const server = await startStoreServer({ store: backing, port: 0, logger: quiet });
    const client = new HttpStore(server.url, { retryDelaysMs: [], logger: quiet });
    const { warnings, logger } = collecting();
    try {
      const log = await RunLog.open({ store: client, logger }, "r4", "rl", { steps: 2 });
      log.add("spend", "spend-1", spend);
      await log.flush();
      expect((await entriesOf(backing, "r4")).map((e) => [e.kind, e.key, e.data])).toEqual([["spend", "spend-1", spend]]);
      expect(await client.getRun("r4")).toMatchObject({ algorithm: "rl", status: "running", config: { steps: 2 }, entries: 1 });
      await server.close();
      log.add("spend", "spend-2", spend);
      await log.flush();
      // The flush above, the one in end() and the header's update all failed; the second entry never reached the store.
      expect(await log.end("completed", {})).toEqual({ added: 1, duplicates: 0, failedWrites: 3, lost: 1 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^RL run r4: the store did not take the run's record \(.+\); training goes on/);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("turns options into JSON without serializing clients or functions", () => {
    class OpenAI {
      apiKey = "sk-secret";
    }
    expect(jsonOf({ client: new OpenAI(), hyperparameters: (step: number) => ({ lr: step }), agents: /^planner/, limit: Number.POSITIVE_INFINITY, nested: [1, undefined, "a"] })).toEqual({
      client: "[OpenAI]",
      agents: "/^planner/",
      limit: null,
      nested: [1, null, "a"],
    });
  });
});
