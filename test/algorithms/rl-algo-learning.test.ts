/**
 * What the RL algorithm does with a real (CPU reference) policy: a pure-noise reward is not
 * called learning; a run whose groups all score alike recovers by refilling them (and stays stuck
 * without); the asynchronous mode learns from samples one version old, and drops older ones.
 */
import { createHash } from "node:crypto";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryStore } from "tracetrain/store";
import { ReferenceBackend, type TrainingBackend } from "tracetrain/rl";
import { agent, RL, Trainer, type RLOptions } from "tracetrain";
import type { TrainRequest } from "../../src/algorithms/rl/protocol.js";
import { untilRollouts } from "./fixtures/rl-algo-wait.js";

const warnings: string[] = [];
const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} };

/** 64 answers, each one o200k token: a policy picking at random is right 1 time in 64. */
const NUMBERS = Array.from({ length: 64 }, (_, i) => String(100 + i));

interface EchoTask {
  id: string;
  target: string;
  /** Score a coin flip of the rollout id instead of the answer. */
  noise?: boolean;
}

function tasks(count: number, offset: number, noise = false): EchoTask[] {
  return Array.from({ length: count }, (_, i) => ({ id: `t${offset + i}`, target: NUMBERS[(offset + i * 7) % NUMBERS.length]!, ...(noise ? { noise } : {}) }));
}

/** A bit of the rollout id's SHA-256: a reward that has nothing to do with the answer. */
function coin(text: string): number {
  return createHash("sha256").update(text).digest()[0]! & 1;
}

const echo = agent(
  async (task: EchoTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "none", maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: llm.model, messages: [{ role: "user", content: `Reply with the number ${task.target} and nothing else.` }] }, { signal: ctx.signal });
    if (task.noise) return coin(ctx.rollout.rolloutId);
    return reply.choices[0]?.message.content?.trim() === task.target ? 1 : 0;
  },
  { name: "echo" },
);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
  warnings.length = 0;
});

async function fit(options: Omit<RLOptions, "backend"> & { backend?: TrainingBackend }, data: { train: EchoTask[]; val: EchoTask[] }) {
  const reference = await ReferenceBackend.start({ actions: NUMBERS, seed: 5 });
  const store = new MemoryStore();
  cleanups.push(async () => {
    await store.close();
    await reference.close();
  });
  const trainer = new Trainer({ store, runners: 32, progress: false, logger, handleSignals: false, algorithm: new RL({ backend: reference, ...options }) });
  cleanups.push(() => trainer.close());
  return { ...(await trainer.fit(echo, data)).result, reference, store };
}

describe("RL's verdict", () => {
  it("claims no learning from a pure-noise reward", async () => {
    const result = await fit(
      { steps: 6, tasksPerStep: 4, groupSize: 4, evalEvery: 6, runId: "noise", seed: 1 },
      { train: tasks(16, 0, true), val: tasks(32, 16, true) },
    );
    // The coin gives most groups a signal, so the policy did take updates…
    expect(result.policyVersion).toBeGreaterThanOrEqual(5);
    // …and the verdict still says nothing was learned.
    expect(result.verdict).toMatchObject({ outcome: "no significant change", tasks: 32 });
    expect(result.verdict!.summary).toMatch(/no significant change.*no evidence of learning/);
    expect(Math.abs(result.verdict!.meanDifference)).toBeLessThan(result.verdict!.ci95);
  }, 60_000);
});

describe("dynamic sampling", () => {
  // One try in 64 is right: two rollouts of a group nearly always both fail, and a group that
  // scored alike teaches nothing. Only refilled groups find the rare success that starts learning.
  const data = { train: tasks(32, 0), val: tasks(24, 32) };
  const common = { steps: 8, tasksPerStep: 1, groupSize: 2, evalEvery: 8, seed: 2 } as const;

  it("stays stuck without refilling: (nearly) every step has no signal, and the run is said to have collapsed", async () => {
    const result = await fit({ ...common, runId: "stuck", dynamicSampling: false }, data);
    expect(result.steps.filter((s) => s.skipped === "no signal").length).toBeGreaterThanOrEqual(7);
    expect(result.steps.every((s) => s.refill.groups === 0)).toBe(true);
    expect(result.finalValReward).toBeLessThan(0.3);
    expect(result.verdict?.outcome).not.toBe("improved");
    expect(warnings.some((w) => /collapsed: 3 consecutive steps without a single group/.test(w) && /temperature/.test(w))).toBe(true);
  }, 60_000);

  it("recovers by refilling groups without signal within the step", async () => {
    const result = await fit({ ...common, runId: "refilled", dynamicSampling: { maxExtraRounds: 24 } }, data);
    expect(result.initialValReward).toBeLessThan(0.1);
    expect(result.finalValReward).toBeGreaterThanOrEqual(0.8);
    expect(result.verdict?.outcome).toBe("improved");
    const refilled = result.steps.filter((s) => s.refill.groups > 0);
    expect(refilled.length).toBeGreaterThan(0);
    for (const s of result.steps) {
      // Each refill round runs as many groups as signal groups are missing (one here), two rollouts each.
      expect(s.refill.rollouts).toBe(2 * s.refill.groups);
      expect(s.rollouts).toBe(2 + s.refill.rollouts);
      expect(s.groups).toBe(1 + s.refill.groups);
      expect(s.refill.initialZeroAdvantageShare === 0 || s.refill.initialZeroAdvantageShare === 1).toBe(true);
    }
    // Learning started in a step whose own group had no signal: a refill found it.
    const first = result.steps.find((s) => s.skipped === undefined)!;
    expect(first.refill.initialZeroAdvantageShare).toBe(1);
    expect(first.refill.groups).toBeGreaterThan(0);
    expect(first.zeroAdvantageShare).toBeLessThan(1);
    expect(result.steps.filter((s) => s.skipped === undefined).length).toBeGreaterThanOrEqual(3);
    // Once the group scores the best reward seen, it is solved: no more refills are paid for it.
    for (const s of result.steps.filter((s) => s.trainReward === 1 && s.refill.initialZeroAdvantageShare === 1)) expect(s.refill.groups).toBe(0);
  }, 60_000);
});

/** The reference backend, declared able to serve while it trains; each update waits until `before(step)` says so. */
class OverlappingBackend implements TrainingBackend {
  readonly requests: TrainRequest[] = [];
  constructor(
    private readonly inner: ReferenceBackend,
    private readonly before: (step: number) => Promise<void>,
  ) {}
  async info() {
    const info = await this.inner.info();
    return { ...info, capabilities: { ...info.capabilities, serves_while_training: true } };
  }
  endpoints() {
    return this.inner.endpoints();
  }
  async train(request: TrainRequest) {
    this.requests.push(request);
    await this.before(request.step);
    return this.inner.train(request);
  }
  checkpoint() {
    return this.inner.checkpoint();
  }
  close() {
    return this.inner.close();
  }
}

describe("asynchronous mode", () => {
  it("learns from samples one version old while the next step's rollouts run during each update", async () => {
    const reference = await ReferenceBackend.start({ actions: NUMBERS, seed: 5 });
    const store = new MemoryStore();
    cleanups.push(async () => {
      await store.close();
      await reference.close();
    });
    const steps = 10;
    const runId = "async";
    // Every update waits until the next step's first groups have all ended: they ran on the old
    // policy while this one trained (a gateway paused for the update would never let them end).
    const nextStepDone = async (step: number) => {
      if (step >= steps) return;
      await untilRollouts(store, async () => {
        const ended = await store.queryRollouts({ idPrefix: `${runId}.s${step + 1}.`, status: ["succeeded", "failed", "cancelled"], limit: 1000 });
        return ended.items.filter((r) => !r.rolloutId.includes(".r")).length >= 2 * 4;
      });
    };
    const backend = new OverlappingBackend(reference, nextStepDone);
    const trainer = new Trainer({
      store,
      runners: 32,
      progress: false,
      logger,
      handleSignals: false,
      algorithm: new RL({ backend, mode: "async", maxStaleness: 1, steps, tasksPerStep: 2, groupSize: 4, evalEvery: steps, runId, seed: 4, dynamicSampling: { maxExtraRounds: 8 } }),
    });
    cleanups.push(() => trainer.close());
    const { result } = await trainer.fit(echo, { train: tasks(32, 0), val: tasks(24, 32) });
    expect(result.finalValReward).toBeGreaterThanOrEqual(0.8);
    expect(result.verdict?.outcome).toBe("improved");
    for (const request of backend.requests.filter((r) => r.step > 1)) {
      const versions = new Set(request.samples.map((s) => s.policy_version));
      // Stamped with the version that sampled them: one behind the update at most, never more.
      for (const v of versions) expect((request.policy_version as number) - (v as number)).toBeLessThanOrEqual(1);
    }
    // Steps after the first trained on samples from the policy before the previous update.
    expect(result.steps.slice(1).some((s) => s.staleness > 0)).toBe(true);
    expect(result.steps.every((s) => s.dropped.stale === 0)).toBe(true);
  }, 60_000);
});
