/**
 * APO's record in the store, from real runs on the room-selector example against the simulated
 * models: every proposal as a `candidate` entry (published or refused, with its edit and the
 * critique behind it), the scores, the beam after each round, the spend, the held-out check, and
 * the header — and how an interruption, a resumption and a failing store leave it.
 */
import { describe, expect, it } from "vitest";
import { APO, type APOOptions, type APOResult } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { CandidateEntrySchema, EvaluationEntrySchema, ScoreEntrySchema, FrontEntrySchema, RunEntryDataSchemas, SpendEntrySchema, type RunEntry } from "tracetrain/schemas";
import { startMockLlm } from "tracetrain/testing";
import { combinedResponder, runApo, runInterrupted } from "../support/room-apo.js";
import { EntrylessStore, entriesOf } from "../support/run-records.js";

const SMALL = { rounds: 2, beamWidth: 2, branchFactor: 2, gradientBatchSize: 4, evaluation: { maxTasks: 16 } } as const;

/** Every entry parsed with its kind's schema (a kind APO does not write fails the test). */
function parsed(entries: RunEntry[]) {
  return entries.map((e) => {
    expect(e.kind).not.toBe("rl.step");
    const schema = RunEntryDataSchemas[e.kind as keyof typeof RunEntryDataSchemas];
    expect(schema, `kind ${e.kind}`).toBeDefined();
    return { kind: e.kind, key: e.key, data: schema.parse(e.data) as Record<string, unknown> };
  });
}

function expectSpend(entry: RunEntry | undefined, spend: APOResult["spend"]) {
  expect(SpendEntrySchema.parse(entry!.data)).toMatchObject({ rollouts: spend.rollouts, optimizerTokens: spend.optimizerTokens.input + spend.optimizerTokens.output, usd: spend.usd.total });
}

describe("APO's record in the store", () => {
  it("holds every proposal with its edit and critique, the scores and beams the result reports, the spend and the held-out check", async () => {
    const run = await runApo({ ...SMALL, seed: 1, runId: "apo-rec" });
    const { result, store } = run;
    const header = await store.getRun("apo-rec");
    expect(header).toMatchObject({ algorithm: "apo", status: "completed", config: { rounds: 2, beamWidth: 2, seed: 1, client: "[OpenAI]", runId: "apo-rec" } });
    expect(header.summary).toMatchObject({ verdict: result.verdict, stoppedBecause: "completed", best: { candidateId: result.best.candidateId, n: result.best.n }, published: result.published });
    const entries = parsed(await entriesOf(store, "apo-rec"));
    expect(result.record).toEqual({ added: entries.length, duplicates: 0, failedWrites: 0, lost: 0 });
    const candidates = entries.filter((e) => e.kind === "candidate").map((e) => CandidateEntrySchema.parse(e.data));
    // Token figures: the run's, and each minibatch and validation score's (from the usage the mock reported; its model has no price).
    expect(result.tokens).toMatchObject({ source: "usage", costUsd: null, unpricedModels: ["room-agent"] });
    expect(header.summary).toMatchObject({ tokens: { total: result.tokens.total }, tokensPerReward: result.tokensPerReward });
    const searchScores = entries.filter((e) => e.kind === "score").map((e) => ScoreEntrySchema.parse(e.data)).filter((e) => e.on !== "held-out");
    expect(searchScores.length).toBeGreaterThan(0);
    for (const score of searchScores) expect(score.tokens!.calls).toBeGreaterThanOrEqual(score.n);

    // One candidate entry per proposal the optimizer answered: published when evaluated, refused otherwise.
    const children = result.history.flatMap((h) => h.children.map((c) => ({ ...c, round: h.round })));
    const proposed = children.filter((c) => c.status === "evaluated" || c.status === "rejected" || c.status === "duplicate");
    expect(proposed.length).toBeGreaterThan(0);
    expect(candidates.map((c) => c.candidateId)).toEqual(["seed", ...proposed.map((c) => c.id)]);
    expect(candidates[0]).toMatchObject({ origin: "seed", resourcesId: "apo-rec.seed", parents: [], edits: [], accepted: true, iteration: 0 });
    for (const child of proposed) {
      const entry = candidates.find((c) => c.candidateId === child.id)!;
      expect(entry).toMatchObject({ origin: "edit", parents: [child.parent], iteration: child.round, accepted: child.status === "evaluated" });
      if (child.critique) expect(entry.rationale).toBe(child.critique);
      if (child.status !== "evaluated") {
        expect(entry.resourcesId).toBeNull();
        expect(entry.detail).toBe(child.detail);
        continue;
      }
      // The edit is the template the snapshot holds, against the parent's.
      expect(entry.resourcesId).toBe(`apo-rec.${child.id}`);
      expect(entry.edits.map((e) => e.component)).toEqual([child.target]);
      const [edit] = entry.edits;
      const snapshot = await store.getResources(entry.resourcesId!);
      const parent = await store.getResources(`apo-rec.${child.parent}`);
      expect(edit!.after).toBe((snapshot.resources[child.target!] as { template: string }).template);
      expect(edit!.before).toBe((parent.resources[child.target!] as { template: string }).template);
      expect(edit!.after).not.toBe(edit!.before);
    }

    // The beam after each round, and each member's score as the round saw it.
    const fronts = entries.filter((e) => e.kind === "front").map((e) => FrontEntrySchema.parse(e.data));
    expect(fronts.map((f) => [f.iteration, f.candidateIds])).toEqual([[0, ["seed"]], ...result.history.map((h) => [h.round, h.beam.map((b) => b.id)])]);
    const scores = entries.filter((e) => e.kind === "score");
    for (const h of result.history) {
      for (const member of h.beam) {
        const score = scores.find((s) => s.key === `score-${member.id}-val-r${h.round}-${member.n}`);
        expect(score, `${member.id} in round ${h.round}`).toBeDefined();
        expect(score!.data).toMatchObject({ on: "val", mean: member.score, n: member.n });
        expect((score!.data.ci95 as number[])[0]).toBeLessThanOrEqual(member.score);
      }
      for (const parent of h.parents) {
        expect(scores.find((s) => s.key === `score-${parent.id}-minibatch-r${h.round}`)!.data).toMatchObject({ on: "minibatch", mean: parent.minibatchScore, n: parent.rollouts });
      }
    }

    // The held-out check: the seed's and the best's scores, as the result has them.
    const evaluations = entries.filter((e) => e.kind === "evaluation").map((e) => EvaluationEntrySchema.parse(e.data));
    expect(result.heldOut.source).toBe("val");
    const seedCheck = evaluations.find((e) => e.label === "seed")!;
    expect(seedCheck).toMatchObject({ split: "val", mean: result.seed.score, n: result.seed.n });
    expect(seedCheck.ci95).toEqual([result.seed.score - result.seed.ci95, result.seed.score + result.seed.ci95]);
    if (result.best.candidateId !== "seed") expect(evaluations.find((e) => e.label === result.best.candidateId)).toMatchObject({ mean: result.best.score, n: result.best.n });

    // Spend after each round, and at the end exactly the result's.
    const spends = await entriesOf(store, "apo-rec", ["spend"]);
    expect(spends.map((e) => e.key)).toEqual(spends.map((e) => `spend-${e.data.rollouts}-${e.data.optimizerTokens}`));
    expect(spends).toHaveLength(5); // after each round's proposals, after each round, and after the final check
    expectSpend(spends.at(-1), result.spend);
    expect(spends.at(-1)!.data.limits).toEqual({ maxRollouts: null, maxOptimizerTokens: null, maxUsd: null });
  });

  it("ends a run its budget stopped as stopped, with the limit in its spend entries", async () => {
    const run = await runApo({ ...SMALL, rounds: 10, maxRollouts: 120, runId: "apo-capped" });
    expect(run.result.stoppedBecause).toBe("maxRollouts");
    expect(await run.store.getRun("apo-capped")).toMatchObject({ status: "completed", summary: { stoppedBecause: "maxRollouts", stopDetail: "the maxRollouts budget was reached" } });
    const spends = await entriesOf(run.store, "apo-capped", ["spend"]);
    expectSpend(spends.at(-1), run.result.spend);
    for (const spend of spends) expect(spend.data.limits).toEqual({ maxRollouts: 120, maxOptimizerTokens: null, maxUsd: null });
  });

  it("ends an interrupted run as stopped; resumed, it completes and records what it had recorded once", async () => {
    const options = { ...SMALL, seed: 3, runId: "apo-resume" } satisfies Omit<APOOptions, "client">;
    const reference = await runApo(options);
    const referenceCandidates = (await entriesOf(reference.store, "apo-resume", ["candidate"])).map((e) => e.data);

    const llm = await startMockLlm({ responder: combinedResponder({}) });
    const store = new MemoryStore();
    try {
      const stopped = await runInterrupted((client) => new APO({ model: "mock-optimizer", ...options, client }), "apo-resume", (e) => e.kind === "candidate" && e.data.iteration === 1, { llm, store });
      expect(stopped.result.stoppedBecause).toBe("interrupted");
      expect(await store.getRun("apo-resume")).toMatchObject({ status: "stopped", summary: { stoppedBecause: "interrupted" } });
      const before = await entriesOf(store, "apo-resume");

      const resumed = await runApo(options, { llm, store });
      expect(resumed.result.stoppedBecause).toBe("completed");
      expect(await store.getRun("apo-resume")).toMatchObject({ status: "completed" });
      // What the first run recorded was recorded again, and skipped: nothing twice.
      expect(resumed.result.record.duplicates).toBeGreaterThan(0);
      const after = await entriesOf(store, "apo-resume");
      expect(after.slice(0, before.length)).toEqual(before);
      const keys = after.map((e) => e.key);
      expect(new Set(keys).size).toBe(keys.length);
      // The lineage is the uninterrupted run's.
      const candidates = after.filter((e) => e.kind === "candidate").map((e) => e.data);
      const byId = (a: { candidateId?: unknown }, b: { candidateId?: unknown }) => String(a.candidateId).localeCompare(String(b.candidateId));
      expect([...candidates].sort(byId)).toEqual([...referenceCandidates].sort(byId));
      expectSpend((await entriesOf(store, "apo-resume", ["spend"])).at(-1), resumed.result.spend);
    } finally {
      await llm.close();
    }
  });

  it("keeps optimizing when the store refuses the run's entries, and says so once", async () => {
    const store = new EntrylessStore();
    const run = await runApo({ ...SMALL, rounds: 1, seed: 1, runId: "apo-no-log" }, { store });
    expect(run.result.stoppedBecause).toBe("completed");
    expect(run.result.verdict).not.toBe("not checked");
    expect(run.warnings.filter((w) => w.includes("the store did not take the run's record"))).toEqual([expect.stringMatching(/^APO run apo-no-log: the store did not take the run's record \(Error: disk I\/O error/)]);
    expect(run.result.record.failedWrites).toBe(store.attempts);
    expect(run.result.record.added).toBe(0);
    expect(await store.getRun("apo-no-log")).toMatchObject({ status: "completed", entries: 0 });
  });
});
