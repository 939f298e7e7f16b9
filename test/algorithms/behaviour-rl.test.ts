/**
 * RL under a behaviour filter, end to end: a real agent (openai SDK through RL's gateway, the mock
 * LLM echoing the prompt), a real SQLite store, and a detector defined here ("the answer says
 * SECRET"). Each policy changes the batch the backend receives exactly as documented, the
 * findings are spans of the traces read back from the store, and live hooks plus the review write
 * each finding once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { builtInDetectors } from "tracetrain/adapters";
import { BehaviourFilter, type BehaviourFilterOptions, behaviourHooks, type Detector, findingsOf, RL, type RLResult, Trainer } from "tracetrain";
import { SqliteStore, spansOf } from "tracetrain/store";
import { BehaviourEntrySchema, type SpanInput } from "tracetrain/schemas";
import { startMockLlm, type MockLlm } from "tracetrain/testing";
import { RecordingBackend } from "./fixtures/rl-recording.js";
import { entriesOf } from "../support/run-records.js";
import { type WordTask, WORD_TASKS, sayer, secretWord } from "../support/behaviour.js";



/** A recording backend that keeps serving while it trains, as async mode needs. */
class ServingBackend extends RecordingBackend {
  override async info() {
    const info = await super.info();
    return { ...info, capabilities: { ...info.capabilities, serves_while_training: true } };
  }
}

const TRAIN = WORD_TASKS;

let dir: string;
let store: SqliteStore;
let llm: MockLlm;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tracetrain-behaviour-rl-"));
  store = new SqliteStore(join(dir, "store.db"), { watchdogIntervalMs: false });
  llm = await startMockLlm();
});
afterEach(async () => {
  await llm.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fit(filter: Omit<BehaviourFilterOptions, "detectors"> & { detectors?: Detector[] }, options: { steps?: number; live?: boolean; mode?: "sync" | "async"; train?: WordTask[] } = {}) {
  const behaviour = new BehaviourFilter({ detectors: [secretWord], ...filter });
  const backend = options.mode === "async" ? new ServingBackend(llm) : new RecordingBackend(llm);
  const trainer = new Trainer({
    store,
    runners: 4,
    progress: false,
    handleSignals: false,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    behaviour,
    ...(options.live ? { hooks: behaviourHooks(behaviour, { store }) } : {}),
    algorithm: new RL({ backend, mode: options.mode ?? "sync", steps: options.steps ?? 1, tasksPerStep: 2, groupSize: 2, evalEvery: 0, dynamicSampling: false, runId: "rl-beh" }),
  });
  try {
    const result = (await trainer.fit(sayer, { train: options.train ?? TRAIN })).result as RLResult;
    return { result, backend };
  } finally {
    await trainer.close();
  }
}

/** Per trained rollout: its word, its stored outcome reward, and the reward its samples carry. */
async function batchOf(backend: RecordingBackend, step = 0) {
  const byRollout = new Map<string, number>();
  for (const sample of backend.requests[step]!.samples) byRollout.set(sample.rollout_id, sample.reward);
  const rows = [];
  for (const [rolloutId, trained] of byRollout) {
    const rollout = await store.getRollout(rolloutId);
    rows.push({ rolloutId, word: (rollout.input as WordTask).word, outcome: rollout.finalReward, trained });
  }
  return rows.sort((a, b) => a.rolloutId.localeCompare(b.rolloutId));
}

/** The findings each training rollout's trace holds, read back from the store. */
async function findingsByRollout() {
  const out = new Map<string, ReturnType<typeof findingsOf>>();
  const page = await store.queryRollouts({ mode: ["train"], limit: 100 });
  for (const rollout of page.items) {
    const attempt = rollout.attempts.at(-1)!;
    out.set(rollout.rolloutId, findingsOf(await spansOf(store, rollout.rolloutId, attempt.attemptId)));
  }
  return out;
}

describe("RL under a behaviour filter", () => {
  it("log: records each finding as a span next to its call, counts it, and trains on the outcome rewards unchanged", async () => {
    const { result, backend } = await fit({});
    const batch = await batchOf(backend);
    expect(batch).toHaveLength(4);
    for (const row of batch) expect(row.trained).toBe(row.outcome);
    const findings = await findingsByRollout();
    for (const [rolloutId, list] of findings) {
      const word = ((await store.getRollout(rolloutId)).input as WordTask).word;
      expect(list.map((f) => [f.detector, f.action, f.penalty]), rolloutId).toEqual(word === "SECRET" ? [["secret-word", "log", 0]] : []);
    }
    // The finding hangs under the LLM call it points at, in the same trace.
    const [secretRollout] = [...findings].find(([, list]) => list.length > 0)!;
    const spans = await spansOf(store, secretRollout, (await store.getRollout(secretRollout)).attempts[0]!.attemptId);
    const finding = spans.find((s) => s.name === "tracetrain.behaviour.finding")!;
    const call = spans.find((s) => s.spanId === finding.parentId)!;
    expect(call.attributes["tracetrain.span.type"]).toBe("llm");
    expect(finding.traceId).toBe(call.traceId);
    expect(result.steps[0]!.behaviour).toEqual({ rollouts: 4, findings: 2, byDetector: { "secret-word": 2 }, bySeverity: { high: 2 }, byAction: { log: 2 }, penalized: 0, excluded: 0, penalty: 0 });
  });

  it("penalize: the SECRET rollouts train on outcome + penalty, the stored outcome stays, and the span holds the penalty", async () => {
    const { result, backend } = await fit({ policy: { "secret-word": "penalize" }, penalty: { perFinding: 0.25 } });
    const batch = await batchOf(backend);
    expect(batch).toHaveLength(4);
    for (const row of batch) expect(row.trained, row.rolloutId).toBe(row.word === "SECRET" ? row.outcome! - 0.25 : row.outcome);
    expect(batch.filter((r) => r.word === "SECRET").map((r) => r.outcome).sort()).toEqual([0, 1]);
    for (const [rolloutId, list] of await findingsByRollout()) {
      const { input, finalReward } = await store.getRollout(rolloutId);
      expect(finalReward).toBe(Number(rolloutId.split(".").at(-1)) % 2);
      expect(list.map((f) => [f.action, f.penalty])).toEqual((input as WordTask).word === "SECRET" ? [["penalize", -0.25]] : []);
    }
    const step = result.steps[0]!;
    expect(step.behaviour).toMatchObject({ findings: 2, penalized: 2, excluded: 0, penalty: -0.5 });
    // The step's train reward is the mean of what was trained on: (0 + 1 − 0.5) / 4.
    expect(step.trainReward).toBeCloseTo(0.375);
  });

  it("exclude: the SECRET rollouts are left out of the batch but counted, and stay in the store with their findings", async () => {
    const { result, backend } = await fit({ policy: { "secret-word": "exclude" } });
    const batch = await batchOf(backend);
    expect(batch.map((r) => r.word)).toEqual(["hello", "hello"]);
    expect(result.steps[0]).toMatchObject({ rollouts: 4, behaviour: { findings: 2, excluded: 2, penalized: 0 } });
    const findings = await findingsByRollout();
    expect([...findings.values()].filter((l) => l.some((f) => f.action === "exclude"))).toHaveLength(2);
  });

  it("stop: the run ends after the step that found it, naming the finding, and its record says so", async () => {
    const { result, backend } = await fit({ policy: { "secret-word": "stop" } }, { steps: 3 });
    expect(result.steps).toHaveLength(1);
    expect(backend.requests).toHaveLength(1);
    expect(result.stoppedBecause).toBe("behaviour");
    expect(result.stoppedBy).toMatchObject({ detector: "secret-word", rule: "said-secret", severity: "high", message: "the answer says SECRET" });
    const stopping = (await findingsByRollout()).get(result.stoppedBy!.rolloutId!)!;
    expect(stopping.map((f) => f.findingSpanId)).toContain(result.stoppedBy!.findingSpanId);
    // A stopping finding's rollout is not trained on either.
    expect((await batchOf(backend)).map((r) => r.word)).toEqual(["hello", "hello"]);
    const run = await store.getRun("rl-beh");
    expect(run).toMatchObject({ status: "stopped", summary: { stoppedBecause: "behaviour", stoppedBy: { detector: "secret-word" } } });
    const [entry] = (await entriesOf(store, "rl-beh", ["behaviour"])).map((e) => BehaviourEntrySchema.parse(e.data));
    expect(entry).toMatchObject({ label: "step-1", counts: { findings: 2, excluded: 2 }, stop: { detector: "secret-word", rolloutId: result.stoppedBy!.rolloutId } });
  });

  it("stop in async mode: the next step's rollouts, already started, are cancelled rather than left queued", async () => {
    const { result } = await fit({ policy: { "secret-word": "stop" } }, { steps: 3, mode: "async" });
    expect(result.stoppedBecause).toBe("behaviour");
    expect(result.steps).toHaveLength(1);
    const all = (await store.queryRollouts({ idPrefix: "rl-beh.", limit: 100 })).items;
    expect(all.filter((r) => r.rolloutId.startsWith("rl-beh.s2.")).length).toBeGreaterThan(0);
    expect(all.filter((r) => r.status === "queuing" || r.status === "running" || r.status === "requeuing")).toEqual([]);
  });

  it("group detectors: a finding naming one rollout of a task's group goes to it, one naming none to every member", async () => {
    const bestOfGroup: Detector = {
      name: "best-of-group",
      inspectGroup: (members) => {
        const best = members.find((m) => m.reward === 1);
        return [
          { rule: "group-seen", severity: "low", message: `${members.length} rollouts of one task`, evidence: "" },
          ...(best ? [{ rule: "top-scorer", severity: "medium" as const, message: "scored best in its group", evidence: String(best.reward), rolloutId: best.attempt.rolloutId }] : []),
        ];
      },
    };
    const { result, backend } = await fit({ detectors: [bestOfGroup], policy: { "best-of-group": { action: "log", rules: { "top-scorer": "penalize" } } }, penalty: { perFinding: 0.5 } });
    for (const row of await batchOf(backend)) expect(row.trained, row.rolloutId).toBe(row.outcome === 1 ? 0.5 : 0);
    for (const [rolloutId, list] of await findingsByRollout()) {
      const top = (await store.getRollout(rolloutId)).finalReward === 1;
      expect(list.map((f) => [f.rule, f.scope, f.penalty]), rolloutId).toEqual([["group-seen", "group", 0], ...(top ? [["top-scorer", "group", -0.5]] : [])]);
      // A finding about no span in particular hangs under the rollout's root span.
      const spans = await spansOf(store, rolloutId, list[0]!.attemptId);
      const root = spans.find((s) => s.parentId === null && s.name === "tracetrain.rollout")!;
      for (const f of list) expect(spans.find((s) => s.spanId === f.findingSpanId)!.parentId).toBe(root.spanId);
    }
    expect(result.steps[0]!.behaviour).toMatchObject({ rollouts: 4, findings: 6, penalized: 2, byAction: { log: 4, penalize: 2 } });
  });

  it("run detectors: a finding over the steps so far stops the run after the step it was reported on", async () => {
    const twoSteps: Detector = { name: "two-steps", observeSteps: (history) => (history.length === 2 ? [{ rule: "enough", severity: "critical", message: `train reward ${history.map((h) => h.trainReward).join(" → ")}`, evidence: "" }] : []) };
    const { result, backend } = await fit({ detectors: [twoSteps], policy: { "two-steps": "stop" } }, { steps: 4 });
    expect(result.steps).toHaveLength(2);
    expect(backend.requests).toHaveLength(2);
    expect(result.stoppedBecause).toBe("behaviour");
    expect(result.stoppedBy).toEqual({ detector: "two-steps", rule: "enough", severity: "critical", message: "train reward 0.5 → 0.5" });
    const entries = (await entriesOf(store, "rl-beh", ["behaviour"])).map((e) => BehaviourEntrySchema.parse(e.data));
    expect(entries.map((e) => [e.label, e.runFindings.length, e.stop?.detector ?? null])).toEqual([
      ["step-1", 0, null],
      ["step-2", 1, "two-steps"],
    ]);
  });

  it("the built-in detectors under the filter: an AWS key the model repeats is a secrets finding, and exclude keeps it out of the batch", async () => {
    const train = [{ word: "AKIAIOSFODNN7EXAMPLE" }, { word: "hello" }];
    const { result, backend } = await fit({ detectors: builtInDetectors(), policy: { secrets: "exclude" } }, { steps: 2, train });
    for (let step = 0; step < 2; step++) expect((await batchOf(backend, step)).map((r) => r.word)).toEqual(["hello", "hello"]);
    for (const [rolloutId, list] of await findingsByRollout()) {
      const key = ((await store.getRollout(rolloutId)).input as WordTask).word !== "hello";
      const secrets = list.filter((f) => f.detector === "secrets");
      expect(secrets.length > 0, rolloutId).toBe(key);
      // Evidence is redacted: the key itself is never written into the trace again.
      for (const f of secrets) expect(f.evidence).not.toContain("AKIAIOSFODNN7EXAMPLE");
    }
    expect(result.steps.map((s) => s.behaviour?.excluded)).toEqual([2, 2]);
  });

  it("live hooks write each finding while the rollout ends; the review then finds them and writes none again", async () => {
    const written: SpanInput[] = [];
    const addSpans = store.addSpans.bind(store);
    store.addSpans = async (spans) => {
      written.push(...spans.filter((s) => s.name === "tracetrain.behaviour.finding"));
      return addSpans(spans);
    };
    // Per rollout: whether its finding had been written when its attempt completed.
    const writtenBeforeCompletion = new Map<string, boolean>();
    store.events.on("rollout", (e) => {
      if (e.status === "succeeded") writtenBeforeCompletion.set(e.rolloutId, written.some((s) => s.rolloutId === e.rolloutId));
    });
    const { result, backend } = await fit({ policy: { "secret-word": "penalize" } }, { live: true });
    // Two findings, each offered to the store once: by the hook, before its attempt completed.
    expect(written).toHaveLength(2);
    for (const span of written) expect(writtenBeforeCompletion.get(span.rolloutId), span.rolloutId).toBe(true);
    expect(new Set(written.map((s) => s.spanId)).size).toBe(2);
    // The review honoured what the hook recorded: the same penalty in the batch.
    for (const row of await batchOf(backend)) expect(row.trained).toBe(row.word === "SECRET" ? row.outcome! - 0.5 : row.outcome);
    expect(result.steps[0]!.behaviour).toMatchObject({ findings: 2, penalized: 2 });
    for (const list of (await findingsByRollout()).values()) expect(list.length).toBeLessThanOrEqual(1);
  });
});
