/**
 * GEPA's record in the store, from real runs on the room-selector example against the simulated
 * models: the candidate lineage (every proposal, accepted or not, with its edit and the feedback
 * reflected on), minibatch and Pareto scores, the Pareto front with wins, spend, the held-out
 * check and the header — and how an interruption, a resumption and a failing store leave it.
 */
import { describe, expect, it } from "vitest";
import { GEPA, type GEPAOptions, type GEPAResult } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { CandidateEntrySchema, EvaluationEntrySchema, FrontEntrySchema, ScoreEntrySchema, SpendEntrySchema } from "tracetrain/schemas";
import { startMockLlm } from "tracetrain/testing";
import { combinedResponder, type RigOptions, type RigRun, runInterrupted, runRoomAlgorithm } from "../support/room-apo.js";
import { EntrylessStore, entriesOf } from "../support/run-records.js";

function runGepa(options: Omit<GEPAOptions, "client">, rig: RigOptions = {}): Promise<RigRun<GEPAResult>> {
  return runRoomAlgorithm((client) => new GEPA({ model: "mock-optimizer", ...options, client }), rig);
}

function expectSpend(data: unknown, spend: GEPAResult["spend"]) {
  expect(SpendEntrySchema.parse(data)).toMatchObject({ rollouts: spend.rollouts, optimizerTokens: spend.optimizerTokens.input + spend.optimizerTokens.output, usd: spend.usd.total });
}

describe("GEPA's record in the store", () => {
  it("holds the pool's lineage, every proposal, the scores, the Pareto front with its wins, the spend and the held-out check", async () => {
    const { result, store } = await runGepa({ seed: 1, runId: "gepa-rec", minibatchSize: 3, paretoTasks: 12, maxRollouts: 120 });
    expect(result.stoppedBecause).toBe("maxRollouts");
    const header = await store.getRun("gepa-rec");
    expect(header).toMatchObject({ algorithm: "gepa", status: "completed", config: { minibatchSize: 3, paretoTasks: 12, maxRollouts: 120, client: "[OpenAI]" } });
    expect(header.summary).toMatchObject({ stoppedBecause: "maxRollouts", stopDetail: result.stopDetail, verdict: result.verdict, best: { candidateId: result.best.candidateId }, poolSize: result.pool.length });

    const candidates = (await entriesOf(store, "gepa-rec", ["candidate"])).map((e) => CandidateEntrySchema.parse(e.data));
    // The pool's lineage is the accepted candidates' (one that passed its gate as the budget ran out never joined).
    const poolIds = result.pool.map((p) => p.candidateId);
    const accepted = candidates.filter((c) => c.accepted).map((c) => c.candidateId);
    expect(accepted.filter((id) => poolIds.includes(id))).toEqual(poolIds);
    for (const id of accepted.filter((a) => !poolIds.includes(a))) expect(result.stopDetail, id).toContain("is not in the pool");
    for (const member of result.pool) {
      const entry = candidates.find((c) => c.candidateId === member.candidateId)!;
      expect(entry).toMatchObject({ resourcesId: member.resourcesId, origin: member.kind, parents: member.parents, rationale: member.feedback?.text ?? null });
      if (member.kind === "reflection") {
        expect(entry.edits.map((e) => e.component)).toEqual([member.component]);
        const after = (await store.getResources(member.resourcesId)).resources[member.component!] as { template: string };
        expect(entry.edits[0]!.after).toBe(after.template);
      }
    }
    // Every proposal that made a candidate or a refused rewrite has its entry; the gate's verdict is in it.
    const made = result.proposals.filter((p) => p.child !== undefined || p.status === "invalid-edit" || p.status === "duplicate");
    expect(made.length).toBeGreaterThan(1);
    expect(candidates).toHaveLength(1 + made.length);
    for (const p of made) {
      const entry = candidates.find((c) => c.iteration === p.iteration)!;
      expect(entry.accepted).toBe(p.status === "accepted");
      expect(entry.origin).toBe(p.kind);
      if (p.child) expect(entry).toMatchObject({ candidateId: p.child, detail: expect.stringContaining(p.gate!.reason) });
      else expect(entry).toMatchObject({ resourcesId: null, detail: p.detail });
    }
    expect(made.some((p) => p.status === "accepted") && made.some((p) => p.status === "rejected-by-gate")).toBe(true);

    const scores = (await entriesOf(store, "gepa-rec", ["score"])).map((e) => ScoreEntrySchema.parse(e.data));
    for (const member of result.pool) expect(scores.find((s) => s.on === "pareto" && s.candidateId === member.candidateId)).toMatchObject({ mean: member.score, n: 12, ci95: null });
    for (const p of made.filter((m) => m.kind === "reflection" && m.gate)) {
      const minibatch = scores.filter((s) => s.on === "minibatch");
      expect(minibatch.find((s) => s.candidateId === p.child)!.mean).toBe(p.gate!.childMean);
      expect(minibatch.some((s) => s.candidateId === p.parent && s.mean === p.gate!.parentMean)).toBe(true);
    }

    // The front as it ended: the pool's members on it, with the tasks each wins.
    const fronts = (await entriesOf(store, "gepa-rec", ["front"])).map((e) => FrontEntrySchema.parse(e.data));
    const onFront = result.pool.filter((p) => p.onFront);
    expect(fronts.at(-1)).toMatchObject({ candidateIds: onFront.map((p) => p.candidateId), wins: Object.fromEntries(onFront.map((p) => [p.candidateId, p.wins])) });
    expect(fronts[0]).toEqual({ iteration: 0, candidateIds: ["seed"], wins: { seed: expect.any(Number) } });

    const evaluations = (await entriesOf(store, "gepa-rec", ["evaluation"])).map((e) => EvaluationEntrySchema.parse(e.data));
    expect(evaluations.find((e) => e.label === result.best.candidateId)).toMatchObject({ split: "val", mean: result.best.score, n: 13 });
    expect(evaluations.find((e) => e.label === "seed")).toMatchObject({ split: "val", mean: result.seed.score, n: 13 });

    const spends = await entriesOf(store, "gepa-rec", ["spend"]);
    expect(spends.length).toBeGreaterThan(1);
    expectSpend(spends.at(-1)!.data, result.spend);
    expect(spends.at(-1)!.data.limits).toEqual({ maxRollouts: 120, maxOptimizerTokens: null, maxUsd: null });
    // (A proposal the budget stopped before it ran anything leaves the spend as it was: recorded once.)
    expect(result.record).toMatchObject({ added: (await entriesOf(store, "gepa-rec")).length, failedWrites: 0, lost: 0 });
  });

  it("ends an interrupted run as stopped; resumed, it completes with the uninterrupted run's lineage, nothing recorded twice", async () => {
    const options = { seed: 5, minibatchSize: 3, paretoTasks: 8, maxProposals: 6, runId: "gepa-resume" } as const;
    const reference = await runGepa(options);
    const referenceCandidates = (await entriesOf(reference.store, "gepa-resume", ["candidate"])).map((e) => e.data);
    const llm = await startMockLlm({ responder: combinedResponder() });
    const store = new MemoryStore();
    try {
      const stopped = await runInterrupted((client) => new GEPA({ model: "mock-optimizer", ...options, client }), "gepa-resume", (e) => e.kind === "candidate" && e.data.iteration !== 0, { llm, store });
      expect(stopped.result.stoppedBecause).toBe("interrupted");
      expect(await store.getRun("gepa-resume")).toMatchObject({ status: "stopped", summary: { stoppedBecause: "interrupted" } });
      const before = await entriesOf(store, "gepa-resume");

      const resumed = await runGepa(options, { llm, store });
      expect(resumed.result.stoppedBecause).toBe(reference.result.stoppedBecause);
      expect(await store.getRun("gepa-resume")).toMatchObject({ status: "completed" });
      expect(resumed.result.record.duplicates).toBeGreaterThan(0);
      const after = await entriesOf(store, "gepa-resume");
      expect(after.slice(0, before.length)).toEqual(before);
      const candidates = after.filter((e) => e.kind === "candidate").map((e) => e.data);
      // The feedback texts name the mock model's tool-call ids, which count its requests: compared without them.
      const lineage = (entries: Array<Record<string, unknown>>) =>
        entries
          .map((e): Record<string, unknown> => ({ ...e, rationale: typeof e.rationale === "string" ? e.rationale.replace(/call_\d+/g, "call") : e.rationale }))
          .sort((a, b) => String(a.candidateId).localeCompare(String(b.candidateId)));
      expect(lineage(candidates)).toEqual(lineage(referenceCandidates));
      expectSpend((await entriesOf(store, "gepa-resume", ["spend"])).at(-1)!.data, resumed.result.spend);
    } finally {
      await llm.close();
    }
  });

  it("keeps evolving when the store refuses the run's entries, and says so once", async () => {
    const store = new EntrylessStore();
    const run = await runGepa({ seed: 1, runId: "gepa-no-log", minibatchSize: 2, paretoTasks: 6, maxProposals: 3 }, { store });
    expect(run.result.stoppedBecause).toBe("completed");
    expect(run.result.proposals).toHaveLength(3);
    expect(run.warnings.filter((w) => w.includes("the store did not take the run's record"))).toEqual([expect.stringMatching(/^GEPA run gepa-no-log: the store did not take the run's record \(Error: disk I\/O error/)]);
    expect(run.result.record).toMatchObject({ added: 0, failedWrites: store.attempts });
    expect(await store.getRun("gepa-no-log")).toMatchObject({ status: "completed", entries: 0 });
  });
});
