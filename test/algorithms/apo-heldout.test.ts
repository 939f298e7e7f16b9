/**
 * APO's verdict is measured on tasks its search never saw: the `test` split, or a seeded third of
 * `val` kept aside. On the prompt lottery (test/support/prompt-lottery.ts) — a deterministic agent
 * no prompt can improve — it must never come out "improved".
 */
import type OpenAI from "openai";
import { APO, type APOOptions, type APOResult, type Store } from "tracetrain";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "tracetrain/store";
import type { AlgorithmContext } from "../../src/algorithms/algorithm.js";
import { Budget } from "../../src/algorithms/budget.js";
import { heldOutCheck, planHeldOut } from "../../src/algorithms/held-out.js";
import { MeteredRollouts } from "../../src/algorithms/metered-rollouts.js";
import { rotateOrder } from "../../src/algorithms/apo/evaluation.js";
import { fitLottery, type LotteryTask, promptLottery } from "../support/prompt-lottery.js";

const lottery = promptLottery();
/** APO's defaults for beam and branching, on 16 validation tasks: enough candidates for luck to pick a winner. */
const LOTTERY_APO = { model: "mock-optimizer", rounds: 3, beamWidth: 4, branchFactor: 4, gradientBatchSize: 2, evaluation: { maxTasks: 16 } } as const;
const SMALL_APO = { model: "mock-optimizer", rounds: 2, beamWidth: 2, branchFactor: 2, gradientBatchSize: 2 } as const;

interface StoredRun {
  id: number;
  mode: string;
  purpose: string;
  candidate: string;
}

async function runsOf(store: Store, runId: string): Promise<StoredRun[]> {
  const { items } = await store.queryRollouts({ idPrefix: `${runId}.`, limit: 1000 });
  return items.map((r) => ({ id: (r.input as LotteryTask).id, mode: r.mode, purpose: String(r.metadata.purpose), candidate: String(r.metadata.candidate) }));
}

const ids = (runs: readonly StoredRun[]) => [...new Set(runs.map((r) => r.id))].sort((a, b) => a - b);

function apo(options: Omit<APOOptions, "client">) {
  return (client: OpenAI) => new APO({ ...SMALL_APO, ...options, client });
}

describe("APO's held-out verdict", () => {
  it("never calls luck an improvement on the prompt lottery, over six seeds", async () => {
    const outcomes: Array<{ seed: number; verdict: string; gain: number | null; heldOut: APOResult["heldOut"] }> = [];
    for (let seed = 1; seed <= 6; seed++) {
      const { result } = await fitLottery((client) => new APO({ ...LOTTERY_APO, seed, client }), { train: lottery.tasks(8), val: lottery.tasks(30, 100) }, { lottery });
      outcomes.push({ seed, verdict: result.verdict, gain: result.improvement?.mean ?? null, heldOut: result.heldOut });
      if (result.verdict !== "improved") expect(result.published?.candidate).toBe("seed");
    }
    expect(outcomes.filter((o) => o.verdict === "improved"), JSON.stringify(outcomes)).toEqual([]);
    for (const o of outcomes) expect(o.heldOut).toEqual({ source: "val", n: 10 });
  }, 180_000);

  it("runs the final check on exactly the test tasks when fit is given them, and the search never runs them", async () => {
    const test = lottery.tasks(12, 500);
    const { result, store } = await fitLottery(apo({ runId: "given-test", seed: 3 }), { train: lottery.tasks(6), val: lottery.tasks(10, 100), test }, { lottery });
    expect(result.heldOut).toEqual({ source: "test", n: 12 });
    expect(result.seed.n).toBe(12);
    const runs = await runsOf(store, "given-test");
    const check = runs.filter((r) => r.purpose === "held-out check");
    const arms = result.best.candidateId === "seed" ? ["seed"] : [result.best.candidateId, "seed"];
    expect(check).toHaveLength(12 * arms.length);
    expect(check.every((r) => r.mode === "test")).toBe(true);
    for (const arm of arms) expect(ids(check.filter((r) => r.candidate === arm))).toEqual(test.map((t) => t.id));
    const search = runs.filter((r) => r.purpose !== "held-out check");
    expect(search.every((r) => r.mode !== "test" && r.id < 500)).toBe(true);
    // With a test split the search may use every validation task.
    expect(ids(search.filter((r) => r.mode === "val"))).toEqual(lottery.tasks(10, 100).map((t) => t.id));
    expect(result.summary).toMatch(/12 held-out test task\(s\)/);
  });

  it("holds a seeded third of val out of the search when no test split is given", async () => {
    const val = lottery.tasks(15, 100);
    const { result, store } = await fitLottery(apo({ runId: "no-test", seed: 4, evaluation: { startTasks: 2 } }), { train: lottery.tasks(6), val }, { lottery });
    expect(result.heldOut).toEqual({ source: "val", n: 5 });
    const runs = await runsOf(store, "no-test");
    const held = ids(runs.filter((r) => r.purpose === "held-out check"));
    expect(held).toHaveLength(5);
    expect(runs.filter((r) => r.purpose === "held-out check").every((r) => r.mode === "val")).toBe(true);
    const searched = ids(runs.filter((r) => r.purpose === "evaluate"));
    expect(searched.filter((id) => held.includes(id))).toEqual([]);
    // The search used the other ten, and nothing else.
    expect(searched).toEqual(val.map((t) => t.id).filter((id) => !held.includes(id)));
    // The same seed holds out the same tasks.
    const plan = planHeldOut({ val, test: [] }, 4);
    expect(plan.tasks.map((t) => (t as LotteryTask).id).sort((a, b) => a - b)).toEqual(held);
  });

  it("says 'not checked', why, and how to fix it with fewer than six validation tasks and no test split", async () => {
    const { result, store } = await fitLottery(apo({ runId: "too-few", seed: 2, evaluation: { startTasks: 2 } }), { train: lottery.tasks(4), val: lottery.tasks(5, 100) }, { lottery });
    expect(result.verdict).toBe("not checked");
    expect(result.heldOut).toEqual({ source: "none", n: 0 });
    expect(result.improvement).toBeNull();
    expect(result.summary).toMatch(/^not checked: no test split was given, and 5 validation task\(s\) are too few to hold some out \(it takes 6\); pass test tasks to fit, or more validation tasks/);
    expect(result.stoppedBecause).toBe("completed");
    expect(result.published).toEqual({ resourcesId: "too-few.best", candidate: "seed" });
    expect((await runsOf(store, "too-few")).filter((r) => r.purpose === "held-out check")).toEqual([]);
  });

  it("plans the held-out tasks: test first, else a third of val from six tasks on, else none", () => {
    const tasks = (n: number) => Array.from({ length: n }, (_, id) => ({ id }));
    const withTest = planHeldOut({ val: tasks(4), test: tasks(3) }, 1);
    expect(withTest).toMatchObject({ source: "test", searchIndices: [0, 1, 2, 3], keys: ["test0", "test1", "test2"], mode: "test", rollouts: 6 });
    const fromVal = planHeldOut({ val: tasks(7), test: [] }, 1);
    expect(fromVal.source).toBe("val");
    expect(fromVal.tasks).toHaveLength(3);
    expect(fromVal.searchIndices).toHaveLength(4);
    expect([...fromVal.searchIndices, ...fromVal.tasks.map((t) => (t as { id: number }).id)].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(fromVal.note).toMatch(/3 of the 7 validation tasks are held out/);
    expect(planHeldOut({ val: tasks(7), test: [] }, 2).tasks).not.toEqual(fromVal.tasks);
    expect(planHeldOut({ val: tasks(5), test: [] }, 1)).toMatchObject({ source: "none", tasks: [], rollouts: 0, searchIndices: [0, 1, 2, 3, 4] });
  });

  it("publishes nothing when a budget or an interruption cuts the check short, and needs no rollout without held-out tasks", async () => {
    const store = new MemoryStore();
    const arm = (id: string) => ({ id, resourcesId: `r.${id}`, resources: {} });
    const check = async (options: { maxRollouts?: number; aborted?: boolean; val?: number; test?: number }) => {
      const controller = new AbortController();
      if (options.aborted) controller.abort();
      const ctx = { store, progress: { phase() {}, expect() {}, rolloutEnded() {}, note() {} }, signal: controller.signal } as unknown as AlgorithmContext;
      const rollouts = await MeteredRollouts.open(ctx, "cut", new Budget({ maxRollouts: options.maxRollouts }, {}));
      const plan = planHeldOut({ val: lottery.tasks(options.val ?? 4), test: lottery.tasks(options.test ?? 0, 500) }, 1);
      return heldOutCheck({ ctx, rollouts, plan, best: arm("r1.0"), seed: arm("seed"), metadata: { test: "cut" } });
    };
    expect(await check({ test: 3, maxRollouts: 5 })).toMatchObject({ verdict: "not checked", winner: null, stoppedBy: "maxRollouts", heldOut: { source: "test", n: 3 }, summary: "the maxRollouts budget left no room for the final check: nothing was published" });
    expect(await check({ test: 3, aborted: true })).toMatchObject({ verdict: "not checked", winner: null, stoppedBy: "interrupted", summary: "interrupted before the final check: nothing was published" });
    const none = await check({ val: 4, maxRollouts: 0 });
    expect(none).toMatchObject({ verdict: "not checked", winner: { id: "seed" }, heldOut: { source: "none", n: 0 } });
    expect(none.stoppedBy).toBeUndefined();
    expect(none.summary).toMatch(/the search's best, r1\.0, is not published; the seed is published$/);
    expect((await store.queryRollouts({ limit: 10 })).items).toEqual([]);
  });

  it("rotates successive halving's start tasks from round to round", async () => {
    expect(rotateOrder([5, 6, 7, 8, 9, 10], 1, 4)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(rotateOrder([5, 6, 7, 8, 9, 10], 2, 4)).toEqual([9, 10, 5, 6, 7, 8]);
    expect(rotateOrder([5, 6, 7, 8, 9, 10], 3, 4)).toEqual([7, 8, 9, 10, 5, 6]);
    // In a run: the tasks every new candidate of a round was screened on differ between rounds 1 and 2.
    const { result, store } = await fitLottery(apo({ runId: "rotating", seed: 5, branchFactor: 3 }), { train: lottery.tasks(6), val: lottery.tasks(24, 100) }, { lottery });
    const runs = (await runsOf(store, "rotating")).filter((r) => r.purpose === "evaluate");
    const screened = (round: number) => {
      const children = result.history[round - 1]!.children.filter((c) => c.status === "evaluated").map((c) => c.id);
      expect(children.length).toBeGreaterThan(1);
      return children.map((id) => ids(runs.filter((r) => r.candidate === id))).reduce((common, mine) => common.filter((t) => mine.includes(t)));
    };
    const [first, second] = [screened(1), screened(2)];
    expect(first).toHaveLength(4);
    expect(second).toHaveLength(4);
    expect(second).not.toEqual(first);
  });
});
