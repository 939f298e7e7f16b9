/**
 * GEPA's verdict is measured on tasks its search never saw — the same held-out check as APO's —
 * so an agent no prompt can improve is never declared improved, whatever the search believed.
 */
import { describe, expect, it } from "vitest";
import { GEPA, type GEPAResult } from "tracetrain";
import { fitLottery, promptLottery } from "../support/prompt-lottery.js";

const lottery = promptLottery();
const LOTTERY_GEPA = { model: "mock-optimizer", minibatchSize: 3, maxProposals: 12, perfectScore: null } as const;

describe("GEPA's held-out verdict", () => {
  it("never calls luck an improvement on the prompt lottery, over six seeds, though its search finds lucky candidates", async () => {
    const outcomes: Array<{ seed: number; verdict: GEPAResult["verdict"]; best: string; pareto: [number, number]; gain: number | null }> = [];
    for (let seed = 1; seed <= 6; seed++) {
      const { result } = await fitLottery((client) => new GEPA({ ...LOTTERY_GEPA, seed, client }), { train: lottery.tasks(9), val: lottery.tasks(30, 100) }, { lottery });
      outcomes.push({ seed, verdict: result.verdict, best: result.best.candidateId, pareto: [result.best.paretoScore, result.seed.paretoScore], gain: result.improvement?.mean ?? null });
      expect(result.heldOut).toEqual({ source: "val", n: 10 });
      expect(result.best.paretoN).toBe(20);
      if (result.verdict !== "improved") expect(result.published?.candidate).toBe("seed");
    }
    if (process.env.GEPA_DEBUG) console.log(JSON.stringify(outcomes));
    expect(outcomes.filter((o) => o.verdict === "improved"), JSON.stringify(outcomes)).toEqual([]);
    // The search is fooled — on the tasks it selected on, its best beats the seed — which is exactly why the check is held out.
    const fooled = outcomes.filter((o) => o.best !== "seed" && o.pareto[0] > o.pareto[1]);
    expect(fooled.length, JSON.stringify(outcomes)).toBeGreaterThan(0);
  }, 240_000);

  it("checks on the test split when fit is given one, and draws its Pareto tasks from all of val", async () => {
    const test = lottery.tasks(12, 500);
    const { result, store } = await fitLottery((client) => new GEPA({ ...LOTTERY_GEPA, maxProposals: 3, seed: 2, runId: "gepa-test-split", client }), { train: lottery.tasks(6), val: lottery.tasks(8, 100), test }, { lottery });
    expect(result.heldOut).toEqual({ source: "test", n: 12 });
    expect(result.seed.n).toBe(12);
    expect(result.best.paretoN).toBe(8);
    const rollouts = (await store.queryRollouts({ idPrefix: "gepa-test-split.", limit: 1000 })).items;
    const check = rollouts.filter((r) => r.metadata?.purpose === "held-out check");
    expect(check.length).toBeGreaterThanOrEqual(12);
    expect(check.every((r) => r.mode === "test" && (r.input as { id: number }).id >= 500)).toBe(true);
    expect(rollouts.filter((r) => r.metadata?.purpose !== "held-out check").every((r) => (r.input as { id: number }).id < 500)).toBe(true);
  });

  it("says 'not checked', why and how to fix it, when val is too small to hold any out and no test split is given", async () => {
    const { result } = await fitLottery((client) => new GEPA({ ...LOTTERY_GEPA, maxProposals: 2, seed: 1, client }), { train: lottery.tasks(4), val: lottery.tasks(5, 100) }, { lottery });
    expect(result.verdict).toBe("not checked");
    expect(result.heldOut).toEqual({ source: "none", n: 0 });
    expect(result.summary).toMatch(/pass test tasks to fit, or more validation tasks/);
    expect(result.published?.candidate).toBe("seed");
  });

  it("merges two front candidates that evolved different components, each component from the side that changed it", async () => {
    // On the lottery every candidate wins its own tasks, so branches that evolved different templates stay on the front together.
    const splits = { train: lottery.tasks(9), val: lottery.tasks(30, 100) };
    const { result, store } = await fitLottery((client) => new GEPA({ ...LOTTERY_GEPA, maxProposals: 16, seed: 1, runId: "gepa-merge", client }), splits, { lottery });
    const merge = result.proposals.find((p) => p.kind === "merge" && p.status === "accepted");
    expect(merge, JSON.stringify(result.proposals.map((p) => [p.iteration, p.kind, p.status]))).toBeDefined();
    const [a, b] = [merge!.parent, merge!.otherParent!];
    const from = merge!.merged!;
    expect(new Set(Object.values(from))).toEqual(new Set([a, b]));
    const resources = async (id: string) => (await store.getResources(`gepa-merge.${id}`)).resources;
    const child = await resources(merge!.child!);
    for (const [component, source] of Object.entries(from)) expect(child[component]).toEqual((await resources(source))[component]);
    const entry = result.pool.find((p) => p.candidateId === merge!.child);
    expect(entry).toMatchObject({ kind: "merge", parents: [a, b], component: null, merged: from, feedback: null });
    // Without merges, the same run makes rewrites only.
    const plain = await fitLottery((client) => new GEPA({ ...LOTTERY_GEPA, maxProposals: 16, seed: 1, maxMerges: 0, client }), splits, { lottery });
    expect(plain.result.proposals.every((p) => p.kind === "reflection")).toBe(true);
  });
});
