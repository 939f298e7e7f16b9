/**
 * RL's record in the store: the run header, one `rl.step` entry per step as soon as it ends, the
 * validations before the first and after the last step, and what happens when the run is
 * interrupted, resumed, or recorded into a store that refuses entries.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Trainer } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { EvaluationEntrySchema, RLStepEntrySchema } from "tracetrain/schemas";
import { startMockLlm } from "tracetrain/testing";
import type { Algorithm } from "tracetrain";
import { RL, type RLResult } from "../../src/algorithms/rl/rl.js";
import type { RLOptions } from "../../src/algorithms/rl/options.js";
import { caller, type CallerTask, RecordingBackend } from "./fixtures/rl-recording.js";
import { EntrylessStore, entriesOf, interruptible, untilEntry } from "../support/run-records.js";

const TRAIN: CallerTask[] = [{ calls: 1 }, { calls: 2 }];
const VAL: CallerTask[] = [{ calls: 1 }, { calls: 1 }, { calls: 2 }];

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function rig(store = new MemoryStore()) {
  const upstream = await startMockLlm();
  const backend = new RecordingBackend(upstream);
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
  cleanups.push(async () => {
    await upstream.close();
    await store.close();
  });
  const fit = async (options: Omit<RLOptions, "backend">, wrap: (rl: RL) => Algorithm<RLResult> = (rl) => rl): Promise<RLResult> => {
    const trainer = new Trainer({ store, runners: 8, progress: false, logger, handleSignals: false, algorithm: wrap(new RL({ backend, ...options })) });
    try {
      return (await trainer.fit(caller, { train: TRAIN, val: VAL })).result;
    } finally {
      await trainer.close();
    }
  };
  return { store, backend, warnings, fit };
}

const OPTIONS = { steps: 3, tasksPerStep: 2, groupSize: 2, evalEvery: 2, runId: "rl-rec" } as const;

describe("RL's record in the store", () => {
  it("holds the run, each step as its result reports it, and the validations before and after", async () => {
    const { store, fit } = await rig();
    const result = await fit(OPTIONS);

    const run = await store.getRun("rl-rec");
    expect(run).toMatchObject({ algorithm: "rl", status: "completed" });
    expect(run.config).toMatchObject({ steps: 3, tasksPerStep: 2, groupSize: 2, evalEvery: 2, runId: "rl-rec", backend: "[RecordingBackend]" });
    expect(run.summary).toMatchObject({ steps: 3, stoppedBecause: "completed", policyVersions: { initial: 0, final: 3 }, initialValReward: result.initialValReward, finalValReward: result.finalValReward });
    expect(run.summary!.verdict).toEqual(result.verdict);

    const steps = (await entriesOf(store, "rl-rec", ["rl.step"])).map((e) => RLStepEntrySchema.parse(e.data));
    expect(steps).toEqual(result.steps);
    expect(steps.map((s) => s.trainReward)).toEqual(result.steps.map((s) => s.trainReward));
    // Every call had token ids, and half of each group was rewarded: tokens per unit of reward is known.
    for (const step of steps) expect(step.tokensPerReward).toBeGreaterThan(0);

    const evaluations = (await entriesOf(store, "rl-rec", ["evaluation"])).map((e) => EvaluationEntrySchema.parse(e.data));
    expect(evaluations.map((e) => [e.label, e.split, e.n])).toEqual([
      ["initial", "val", 3],
      ["final", "val", 3],
    ]);
    expect(evaluations[0]!.mean).toBe(result.initialValReward);
    expect(evaluations[1]!.mean).toBe(result.finalValReward);
    expect(result.record).toEqual({ added: 5, duplicates: 0, failedWrites: 0, lost: 0 });
  });

  it("records each step as soon as it ends, while the run is still going", async () => {
    const { store, backend, fit } = await rig();
    // Step 2's update waits until the test has seen step 1 in the store.
    let release!: () => void;
    const seen = new Promise<void>((resolve) => (release = resolve));
    const train = backend.train.bind(backend);
    backend.train = async (request) => {
      if (request.step === 2) await seen;
      return train(request);
    };
    const running = fit({ ...OPTIONS, evalEvery: 0 });
    const first = await untilEntry(store, "rl-rec", (e) => e.kind === "rl.step");
    expect(RLStepEntrySchema.parse(first.data).step).toBe(1);
    expect((await store.getRun("rl-rec")).status).toBe("running");
    expect(await entriesOf(store, "rl-rec", ["rl.step"])).toHaveLength(1);
    release();
    expect((await running).steps).toHaveLength(3);
    expect((await store.getRun("rl-rec")).status).toBe("completed");
    expect(await entriesOf(store, "rl-rec", ["rl.step"])).toHaveLength(3);
  });

  it("ends an interrupted run as stopped, with the steps it made", async () => {
    const { store, fit } = await rig();
    let interrupt!: () => void;
    const stopping = fit({ ...OPTIONS, steps: 20, evalEvery: 0 }, (rl) => {
      const wrapped = interruptible(rl);
      interrupt = wrapped.interrupt;
      return wrapped.algorithm;
    });
    await untilEntry(store, "rl-rec", (e) => e.kind === "rl.step");
    interrupt();
    const result = await stopping;
    expect(result.stoppedBecause).toBe("interrupted");
    expect(result.steps.length).toBeLessThan(20);
    const run = await store.getRun("rl-rec");
    expect(run.status).toBe("stopped");
    expect(run.summary).toMatchObject({ stoppedBecause: "interrupted", steps: result.steps.length });
    // Each step that ended before the interruption, as the result has it; the step it cut short is
    // not recorded (a resumed run records it whole).
    const recorded = (await entriesOf(store, "rl-rec", ["rl.step"])).map((e) => e.data);
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    expect(recorded.length).toBeGreaterThanOrEqual(result.steps.length - 1);
    expect(recorded).toEqual(result.steps.slice(0, recorded.length));
  });

  it("keeps training when the store refuses the run's entries, and says so once", async () => {
    const store = new EntrylessStore();
    const { warnings, fit } = await rig(store);
    const result = await fit(OPTIONS);
    expect(result.steps).toHaveLength(3);
    expect(result.stoppedBecause).toBe("completed");
    const storeWarnings = warnings.filter((w) => w.includes("the store did not take the run's record"));
    expect(storeWarnings).toEqual([expect.stringContaining("RL run rl-rec: the store did not take the run's record (Error: disk I/O error: the run log is full)")]);
    // Every flush tried again (the entries are keyed, so a retry cannot duplicate), and nothing was written.
    expect(result.record.failedWrites).toBe(store.attempts);
    expect(store.attempts).toBeGreaterThanOrEqual(4);
    expect(result.record).toMatchObject({ added: 0, lost: 5 });
    // The header still went through: the run is there, ended, with its summary.
    expect(await store.getRun("rl-rec")).toMatchObject({ status: "completed", entries: 0, summary: { steps: 3 } });
  });

  it("re-records nothing twice when a run is resumed with its runId", async () => {
    const { store, fit } = await rig();
    await fit(OPTIONS);
    const before = await entriesOf(store, "rl-rec");
    const result = await fit(OPTIONS);
    const after = await entriesOf(store, "rl-rec");
    expect(after).toEqual(before);
    expect(result.record).toEqual({ added: 0, duplicates: 5, failedWrites: 0, lost: 0 });
    expect((await store.getRun("rl-rec")).status).toBe("completed");
  });
});

