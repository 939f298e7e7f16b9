/**
 * RL and tokens: the length penalty changes rewards before advantages as stated and is recorded;
 * a step's token figures equal the exact token ids the mock sampled, call for call.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Trainer } from "tracetrain";
import { emptyFigures } from "tracetrain/adapters";
import { MemoryStore } from "tracetrain/store";
import { RLStepEntrySchema } from "tracetrain/schemas";
import { startMockLlm } from "tracetrain/testing";
import type { MergedSample, Rollout } from "../../src/types/index.js";
import { RL } from "../../src/algorithms/rl/rl.js";
import { assembleBatch, type KeptRollout } from "../../src/algorithms/rl/batch.js";
import { LengthPenaltySchema, lengthPenaltyOf } from "../../src/algorithms/rl/length-penalty.js";
import { RLOptionsSchema } from "../../src/algorithms/rl/options.js";
import { caller, type CallerTask, RecordingBackend } from "./fixtures/rl-recording.js";

/** A rollout of group `g` with reward `reward` whose policy sampled `sampled` tokens. */
function kept(id: string, reward: number, sampled: number, g = "g"): KeptRollout {
  const sample: MergedSample = {
    rolloutId: id,
    attemptId: `${id}.a`,
    callIds: [`${id}.c`],
    promptIds: [1, 2, 3],
    responseIds: Array.from({ length: sampled }, (_, i) => 10 + i),
    responseMask: Array.from({ length: sampled }, () => 1 as const),
  };
  const rollout = { rolloutId: id, resourcesId: "r1" } as unknown as Rollout;
  return { rollout, groupId: g, reward, adapted: { trajectories: [], samples: [sample], diagnostics: [], calls: [] }, tokens: emptyFigures() };
}

const base = { advantage: { scaleByStd: false, epsilon: 1e-6 }, current: 0, maxStaleness: undefined, resourcesId: "r1" };

describe("the length penalty", () => {
  it("overlong (DAPO): 0 up to maxTokens − buffer, linear in the buffer, −coefficient past maxTokens", () => {
    const p = LengthPenaltySchema.parse({ kind: "overlong", maxTokens: 100, buffer: 40, coefficient: 0.5 });
    expect(lengthPenaltyOf(60, p)).toBe(0);
    expect(lengthPenaltyOf(80, p)).toBeCloseTo(-0.25, 12);
    expect(lengthPenaltyOf(100, p)).toBeCloseTo(-0.5, 12);
    expect(lengthPenaltyOf(101, p)).toBe(-0.5);
    expect(lengthPenaltyOf(10, LengthPenaltySchema.parse({ kind: "linear", perToken: 0.01, freeTokens: 4 }))).toBeCloseTo(-0.06, 12);
  });

  it("rejects a buffer longer than maxTokens, and unknown fields, naming the path", () => {
    const issues = (value: unknown) => LengthPenaltySchema.safeParse(value).error?.issues.map((i) => i.path.join("."));
    expect(issues({ kind: "overlong", maxTokens: 10, buffer: 20 })).toEqual(["buffer"]);
    expect(issues({ kind: "linear", perToken: 0.1, extra: 1 })).toBeDefined();
    expect(RLOptionsSchema.shape.lengthPenalty.safeParse({ kind: "linear", perToken: -1 }).success).toBe(false);
  });

  it("gives a group that scored alike a signal from length: the shorter rollout gets the positive advantage", () => {
    const group = [kept("a", 1, 10), kept("b", 1, 100)];
    const plain = assembleBatch(group, base);
    expect(plain.samples).toHaveLength(0);
    expect(plain.zeroAdvantageGroups).toBe(1);
    expect(plain.lengthPenalty).toBeUndefined();

    const penalized = assembleBatch(group, { ...base, lengthPenalty: LengthPenaltySchema.parse({ kind: "overlong", maxTokens: 50, buffer: 40 }) });
    const byRollout = new Map(penalized.samples.map((s) => [s.rollout_id, s]));
    expect(byRollout.get("a")).toMatchObject({ reward: 1, shaped_reward: 1, advantage: 0.5 });
    expect(byRollout.get("b")).toMatchObject({ reward: 1, shaped_reward: 0, advantage: -0.5 });
    expect(penalized.lengthPenalty).toEqual({ mean: -0.5, penalizedShare: 0.5 });
    // The train reward stays the original.
    expect(penalized.meanReward).toBe(1);
  });

  it("linear: shifts advantages by the length difference within a group, and leaves rewards as recorded", () => {
    const group = [kept("a", 1, 10), kept("b", 0, 30)];
    const plain = assembleBatch(group, base);
    const penalized = assembleBatch(group, { ...base, lengthPenalty: LengthPenaltySchema.parse({ kind: "linear", perToken: 0.01 }) });
    const adv = (b: typeof plain, id: string) => b.samples.find((s) => s.rollout_id === id)!.advantage;
    expect(adv(plain, "a")).toBeCloseTo(0.5, 12);
    expect(adv(penalized, "a")).toBeCloseTo(0.5 + 0.1, 12); // shaped 0.9 vs −0.3: mean 0.3
    expect(adv(penalized, "b")).toBeCloseTo(-0.6, 12);
    expect(plain.samples.every((s) => s.shaped_reward === undefined)).toBe(true);
    expect(penalized.samples.find((s) => s.rollout_id === "b")).toMatchObject({ reward: 0, shaped_reward: -0.3 });
    expect(penalized.lengthPenalty).toEqual({ mean: expect.closeTo(-0.2, 12), penalizedShare: 1 });
  });
});

describe("an RL run's token figures", () => {
  let cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups = [];
  });

  it("equal the token ids the mock sampled, per step and for the run; the penalty is recorded per step", async () => {
    const upstream = await startMockLlm();
    const store = new MemoryStore();
    cleanups.push(() => upstream.close(), () => store.close());
    const backend = new RecordingBackend(upstream);
    const rl = new RL({ backend, steps: 2, tasksPerStep: 2, groupSize: 2, evalEvery: 0, runId: "rl-tok", lengthPenalty: { kind: "linear", perToken: 0.001 }, prices: { policy: { input: 1, output: 2 } } });
    const trainer = new Trainer({ store, runners: 4, progress: false, logger: { debug() {}, info() {}, warn() {}, error() {} }, handleSignals: false, algorithm: rl });
    const train: CallerTask[] = [{ calls: 1 }, { calls: 2 }];
    let result;
    try {
      result = (await trainer.fit(caller, { train })).result;
    } finally {
      await trainer.close();
    }
    // Every group has signal (rewards 0 and 1), each call is its own sample: the step's samples are all its calls.
    for (const [i, step] of result.steps.entries()) {
      const samples = backend.requests[i]!.samples;
      const input = samples.reduce((n, s) => n + s.prompt_ids.length, 0);
      const output = samples.reduce((n, s) => n + s.response_mask.filter((m) => m === 1).length, 0);
      expect(step.tokens).toMatchObject({ input, output, total: input + output, calls: samples.length, source: "usage", unpricedModels: [] });
      expect(step.tokens!.costUsd).toBeCloseTo((input + 2 * output) / 1e6, 12);
      // Rewards 0 and 1 per group: Σ reward = groups.
      expect(step.totalTokensPerReward).toBeCloseTo((input + output) / 2, 9);
      expect(step.lengthPenalty!.penalizedShare).toBe(1);
      expect(step.lengthPenalty!.mean).toBeCloseTo(-0.001 * (output / 4), 12);
      expect(samples.every((s) => s.shaped_reward !== undefined && s.shaped_reward < s.reward)).toBe(true);
    }
    const total = result.steps.reduce((n, s) => n + s.tokens!.total, 0);
    expect(result.tokens.total).toBe(total);
    expect(result.tokensPerReward).toBeCloseTo(total / 4, 9);
    const run = await store.getRun("rl-tok");
    expect(run.summary).toMatchObject({ tokens: { total }, tokensPerReward: result.tokensPerReward });
    const entries = await store.queryRunEntries({ runId: "rl-tok", kind: ["rl.step"] });
    expect(entries.items.map((e) => RLStepEntrySchema.parse(e.data).tokens!.total)).toEqual(result.steps.map((s) => s.tokens!.total));
  });
});
