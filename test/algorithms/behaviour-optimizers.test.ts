/**
 * APO and GEPA under a behaviour filter, on the room-selector example (openai SDK, tool calls)
 * against its simulated models, with a real SQLite store. The detector, defined here, flags every
 * rollout whose booking request asks for a projector. Penalized scores are what candidates are
 * compared on (checked against the outcome rewards and penalty spans read back from the store),
 * excluded rollouts never reach the critique or the reflection, and `stop` ends the run after
 * its round.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { APO, type APOOptions, BehaviourFilter, type BehaviourFilterOptions, type Detector, findingsOf, GEPA, type GEPAOptions, type GEPAResult } from "tracetrain";
import { SqliteStore, spansOf } from "tracetrain/store";
import { BehaviourEntrySchema } from "tracetrain/schemas";
import { runRoomAlgorithm, type RigRun } from "../support/room-apo.js";
import { entriesOf } from "../support/run-records.js";

/** Flags the first call of an attempt whose request (the user message) asks for a projector. */
const projector: Detector = {
  name: "projector",
  inspect: (attempt) => {
    const call = attempt.calls[0];
    const asks = call?.promptMessages?.some((m) => m.role === "user" && JSON.stringify(m.content).includes("projector"));
    return asks ? [{ rule: "asked-for-projector", severity: "medium", message: "the request asks for a projector", evidence: "projector", spanId: call!.callId }] : [];
  },
};

/** A task of the room data set asks for a projector (how the critique and reflection prompts show a run's task). */
const PROJECTOR_TASK = /"needs":\[[^\]]*"projector"/;

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tracetrain-behaviour-opt-"));
  store = new SqliteStore(join(dir, "store.db"), { watchdogIntervalMs: false });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function filterOf(options: Omit<BehaviourFilterOptions, "detectors">) {
  return new BehaviourFilter({ detectors: [projector], ...options });
}

function apo(options: Omit<APOOptions, "client">, behaviour: BehaviourFilter) {
  return runRoomAlgorithm((client) => new APO({ model: "mock-optimizer", rounds: 2, beamWidth: 2, branchFactor: 2, gradientBatchSize: 6, evaluation: { maxTasks: 12 }, seed: 1, ...options, client }), {
    store,
    trainer: { behaviour },
  });
}

function gepa(options: Omit<GEPAOptions, "client">, behaviour: BehaviourFilter): Promise<RigRun<GEPAResult>> {
  return runRoomAlgorithm((client) => new GEPA({ model: "mock-optimizer", seed: 1, minibatchSize: 4, paretoTasks: 8, maxProposals: 2, ...options, client }), { store, trainer: { behaviour } });
}

/** Per rollout whose id starts with `prefix`: its outcome (0 unless it succeeded), its penalty from the finding spans, and its task. */
async function rolloutsOf(prefix: string) {
  const page = await store.queryRollouts({ idPrefix: prefix, limit: 1000 });
  return Promise.all(
    page.items.map(async (r) => {
      const findings = findingsOf(await spansOf(store, r.rolloutId, r.attempts.at(-1)!.attemptId));
      return { rolloutId: r.rolloutId, outcome: r.status === "succeeded" ? (r.finalReward ?? 0) : 0, penalty: findings.reduce((s, f) => s + f.penalty, 0), findings, projector: JSON.stringify(r.input).includes("projector") };
    }),
  );
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe("APO under a behaviour filter", () => {
  it("penalize: minibatch and evaluation scores are outcome + penalty, as the trace records them", async () => {
    const { result, optimizerPrompts } = await apo({ runId: "apo-pen", rounds: 1 }, filterOf({ policy: { projector: "penalize" }, penalty: { perFinding: 1 } }));
    const minibatch = await rolloutsOf("apo-pen.g1.seed.");
    expect(minibatch).toHaveLength(6);
    // The flagged rollouts (and only they) carry a penalty of −1 on their finding span.
    for (const r of minibatch) expect(r.penalty, r.rolloutId).toBe(r.projector ? -1 : 0);
    expect(minibatch.some((r) => r.projector)).toBe(true);
    const seed = result.history[0]!.parents.find((p) => p.id === "seed")!;
    expect(seed.minibatchScore).toBeCloseTo(mean(minibatch.map((r) => r.outcome + r.penalty)));
    expect(seed.minibatchScore).not.toBeCloseTo(mean(minibatch.map((r) => r.outcome)));
    // The evaluation that ranks the beam, too: each member's score is its validation rollouts' outcome + penalty.
    for (const member of result.history[0]!.beam) {
      const evaluated = await rolloutsOf(`apo-pen.e.${member.id}.`);
      expect(evaluated, member.id).toHaveLength(member.n);
      expect(member.score, member.id).toBeCloseTo(mean(evaluated.map((r) => r.outcome + r.penalty)));
    }
    expect((await rolloutsOf("apo-pen.e.")).some((r) => r.penalty < 0)).toBe(true);
    const recorded = (await entriesOf(store, "apo-pen", ["behaviour"])).map((e) => BehaviourEntrySchema.parse(e.data));
    expect(recorded.map((e) => e.label)).toEqual(["round-1", "final-check"]);
    // The critique is told what was flagged and what it cost, next to the run.
    const critique = optimizerPrompts.find((p) => p.includes("### Run 1"))!;
    expect(critique).toContain("Behaviour flagged (projector/asked-for-projector, medium, penalize): the request asks for a projector");
    expect(critique).toMatch(/reward [01], minus a behaviour penalty of 1: -?[01]/);
    expect(recorded.reduce((n, e) => n + e.counts.penalized, 0)).toBe(result.behaviour!.penalized);
    expect(result.behaviour!.penalized).toBeGreaterThan(0);
    expect(result.behaviour!.findings).toBe(result.behaviour!.penalized);
  });

  it("exclude: the critique never reads an excluded run, which a log-only run's critique does", async () => {
    const logged = await apo({ runId: "apo-log", rounds: 1 }, filterOf({}));
    const critiques = (run: RigRun) => run.optimizerPrompts.filter((p) => p.includes("### Run 1"));
    expect(critiques(logged).some((p) => PROJECTOR_TASK.test(p))).toBe(true);
    const excluded = await apo({ runId: "apo-exc", rounds: 1 }, filterOf({ policy: { projector: "exclude" } }));
    expect(critiques(excluded).length).toBeGreaterThan(0);
    for (const prompt of critiques(excluded)) expect(prompt).not.toMatch(PROJECTOR_TASK);
    // Excluded, not forgotten: counted, and their findings are in the store.
    expect(excluded.result.behaviour!.excluded).toBeGreaterThan(0);
    expect((await rolloutsOf("apo-exc.g1.seed.")).filter((r) => r.projector).every((r) => r.findings[0]?.action === "exclude")).toBe(true);
  });

  it("stop: the run ends after the round that found it, naming the finding", async () => {
    const { result } = await apo({ runId: "apo-stop" }, filterOf({ policy: { projector: "stop" } }));
    expect(result.stoppedBecause).toBe("behaviour");
    expect(result.history).toHaveLength(1);
    expect(result.stoppedBy).toMatchObject({ detector: "projector", rule: "asked-for-projector" });
    expect(await store.getRun("apo-stop")).toMatchObject({ status: "stopped", summary: { stoppedBecause: "behaviour" } });
  });
});

describe("GEPA under a behaviour filter", () => {
  it("penalize: Pareto scores are outcome + penalty, as the trace records them", async () => {
    const { result } = await gepa({ runId: "gepa-pen" }, filterOf({ policy: { projector: "penalize" }, penalty: { perFinding: 1 } }));
    const pareto = await rolloutsOf("gepa-pen.p.seed.");
    expect(pareto).toHaveLength(8);
    expect(pareto.some((r) => r.penalty === -1)).toBe(true);
    const seed = result.pool.find((p) => p.candidateId === "seed")!;
    expect(seed.score).toBeCloseTo(mean(pareto.map((r) => r.outcome + r.penalty)));
    expect(result.behaviour!.penalized).toBeGreaterThan(0);
    const recorded = (await entriesOf(store, "gepa-pen", ["behaviour"])).map((e) => BehaviourEntrySchema.parse(e.data));
    expect(recorded.at(-1)!.label).toBe("final-check");
    expect(recorded.reduce((n, e) => n + e.counts.findings, 0)).toBe(result.behaviour!.findings);
  });

  it("exclude keeps excluded runs out of the reflection; stop ends the run after its proposal", async () => {
    const excluded = await gepa({ runId: "gepa-exc" }, filterOf({ policy: { projector: "exclude" } }));
    const reflections = excluded.optimizerPrompts.filter((p) => p.includes("### Run 1"));
    expect(reflections.length).toBeGreaterThan(0);
    for (const prompt of reflections) expect(prompt).not.toMatch(PROJECTOR_TASK);
    expect(excluded.result.behaviour!.excluded).toBeGreaterThan(0);

    const stopped = await gepa({ runId: "gepa-stop", maxProposals: 4 }, filterOf({ policy: { projector: "stop" } }));
    expect(stopped.result.stoppedBecause).toBe("behaviour");
    expect(stopped.result.proposals).toHaveLength(1);
    expect(stopped.result.stoppedBy).toMatchObject({ detector: "projector" });
    expect(await store.getRun("gepa-stop")).toMatchObject({ status: "stopped" });
  });
});
