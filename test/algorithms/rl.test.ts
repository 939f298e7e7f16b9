/**
 * The RL algorithm with a recording backend in front of the mock LLM: what reaches a batch, how
 * advantages and weights are set, policy versions, and the pause around an update. (Learning
 * itself, with the reference backend, is in rl-learning.test.ts.)
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { MemoryStore } from "tracetrain/store";
import { Trainer, ValidationError } from "tracetrain";
import { startGateway } from "tracetrain/gateway";
import { RL } from "../../src/algorithms/rl/rl.js";
import { type CallerTask as Task, caller, RecordingBackend } from "./fixtures/rl-recording.js";
import { startMockLlm } from "tracetrain/testing";
import { slowCaller } from "./fixtures/rl-worker-agent.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function rig(options: { hold?: Promise<void> } = {}) {
  const upstream = await startMockLlm();
  const backend = new RecordingBackend(upstream);
  if (options.hold) backend.hold = options.hold;
  const store = new MemoryStore();
  cleanups.push(async () => {
    await upstream.close();
    await store.close();
  });
  return { upstream, backend, store };
}

describe("RL", () => {
  it("trains on rollout-level advantages, weighs every rollout the same, and stamps policy versions", async () => {
    const { backend, store } = await rig();
    const trainer = new Trainer({ store, runners: 8, progress: false, logger: quiet, handleSignals: false, algorithm: new RL({ backend, steps: 2, tasksPerStep: 2, groupSize: 4, evalEvery: 0, runId: "rl1" }) });
    const { result } = await trainer.fit(caller, { train: [{ calls: 1 }, { calls: 3 }] });
    await trainer.close();

    expect(backend.requests.map((r) => [r.step, r.policy_version])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    expect(result.policyVersion).toBe(2);
    expect(result.steps.map((s) => [s.policyVersion, s.newPolicyVersion])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    for (const request of backend.requests) {
      const byRollout = groupBy(request.samples, (s) => s.rollout_id);
      expect(byRollout.size).toBe(8);
      for (const samples of byRollout.values()) {
        // One advantage per rollout, and every rollout weighs 1/8 of the step in total however many samples it has.
        expect(new Set(samples.map((s) => s.advantage)).size).toBe(1);
        expect(samples.reduce((sum, s) => sum + s.token_weight * s.response_mask.filter((m) => m === 1).length, 0)).toBeCloseTo(1 / 8, 12);
        expect([1, 3]).toContain(samples.length);
        for (const s of samples) {
          expect(s.response_mask.every((m) => m === 1)).toBe(true);
          expect(s.logprobs.every((l) => typeof l === "number")).toBe(true);
        }
      }
      // GRPO: rewards 0/1 alternate within each group of 4 → advantages ±0.5, summing to zero per group.
      for (const group of groupBy(request.samples, (s) => s.group_id).values()) {
        const perRollout = new Map(group.map((s) => [s.rollout_id, s.advantage]));
        expect([...perRollout.values()].sort()).toEqual([-0.5, -0.5, 0.5, 0.5]);
      }
      const step = request.step;
      expect(request.samples.every((s) => s.policy_version === step - 1)).toBe(true);
    }
    // The recorded calls carry the version that served them.
    const spans = await store.querySpans({ rolloutId: "rl1.s2.2.0", attemptId: "latest" });
    const versions = spans.items.filter((s) => s.attributes[Attr.layer] === "gateway").map((s) => s.attributes[Attr.policyVersion]);
    expect(versions.length).toBeGreaterThan(0);
    expect(new Set(versions)).toEqual(new Set([1]));
    expect(result.steps[0]!.samplesPerRollout).toBe(2);
    expect(result.steps[0]!.zeroAdvantageShare).toBe(0);
  });

  it("leaves rollouts that failed for infrastructure reasons out of the batch", async () => {
    const { backend, store } = await rig();
    const trainer = new Trainer({
      store,
      runners: 8,
      progress: false,
      logger: quiet,
      handleSignals: false,
      // The hanging rollouts time out; the others need a few milliseconds, and 10 s leaves a busy
      // machine all the room it needs to finish them first.
      rolloutConfig: { timeoutMs: 10_000 },
      algorithm: new RL({ backend, steps: 1, tasksPerStep: 2, groupSize: 4, evalEvery: 0, runId: "rl2", dynamicSampling: false }),
    });
    const { result } = await trainer.fit(caller, { train: [{ calls: 1 }, { calls: 1, hang: true }] });
    await trainer.close();
    const [request] = backend.requests;
    const rollouts = new Set(request!.samples.map((s) => s.rollout_id));
    expect(result.steps[0]!.dropped.failed).toBe(4);
    expect(rollouts.size).toBe(4);
    // The hanging rollouts made a call before they timed out; none of it is in the batch.
    for (const id of rollouts) expect((await store.getRollout(id)).status).toBe("succeeded");
  }, 180_000);

  it("scores an agent that failed on the model's answer 0, and drops one that failed before any answer", async () => {
    const { backend, store } = await rig();
    const algorithm = new RL({ backend, steps: 1, tasksPerStep: 3, groupSize: 2, evalEvery: 0, runId: "rl5", dynamicSampling: false });
    const trainer = new Trainer({ store, runners: 8, progress: false, logger: quiet, handleSignals: false, algorithm });
    const { result } = await trainer.fit(caller, { train: [{ calls: 1 }, { calls: 1, throwAfter: true }, { calls: 1, throwBefore: true }] });
    await trainer.close();
    const step = result.steps[0]!;
    expect(step.dropped.failed).toBe(2);
    // Kept and scored 0: the mean over the 4 kept rollouts is (0 + 1 + 0 + 0) / 4. The failed
    // group scored alike (no signal), so only the other group's rollouts are in the batch.
    expect(step.trainReward).toBe(0.25);
    expect(step.zeroAdvantageShare).toBeCloseTo(2 / 3, 12);
    const samples = backend.requests[0]!.samples;
    const inputs = await Promise.all(samples.map(async (s) => (await store.getRollout(s.rollout_id)).input as Task));
    expect(new Set(samples.map((s) => s.rollout_id)).size).toBe(2);
    // The weights are over the rollouts in the batch, not all those run: they add up to 1.
    expect(samples.reduce((sum, s) => sum + s.token_weight * s.response_mask.filter((m) => m === 1).length, 0)).toBeCloseTo(1, 12);
    expect(inputs.every((task) => !task.throwAfter && !task.throwBefore)).toBe(true);
  });

  it("keeps a batch clean when a worker process is killed mid-step", async () => {
    const { backend, store } = await rig();
    const trainer = new Trainer({
      store,
      runners: { processes: 2, concurrency: 4 },
      heartbeatIntervalMs: 100,
      rolloutConfig: { heartbeatTimeoutMs: 800, maxAttempts: 1 },
      progress: false,
      logger: quiet,
      handleSignals: false,
      algorithm: new RL({ backend, steps: 1, tasksPerStep: 6, groupSize: 8, evalEvery: 0, runId: "rl4", dynamicSampling: false }),
    });
    const fitting = trainer.fit(slowCaller, { train: [0, 1, 2, 3, 4, 5] });
    let victim = 0;
    await vi.waitFor(
      async () => {
        const busy = (await store.workers()).filter((w) => w.activeAttempts > 0 && typeof w.stats?.pid === "number");
        expect(busy.length).toBe(2);
        expect((await store.stats()).rollouts.succeeded).toBeGreaterThan(4);
        victim = busy[0]!.stats!.pid as number;
      },
      { timeout: 60_000, interval: 25 },
    );
    process.kill(victim, "SIGKILL");
    const { result } = await fitting;
    await trainer.close();
    const step = result.steps[0]!;
    expect(step.dropped.failed).toBeGreaterThan(0);
    expect(step.rollouts).toBe(48);
    const [request] = backend.requests;
    const inBatch = new Set(request!.samples.map((s) => s.rollout_id));
    expect(inBatch.size).toBe(48 - step.dropped.failed);
    for (const id of inBatch) {
      const rollout = await store.getRollout(id);
      expect(rollout.status).toBe("succeeded");
      expect(rollout.attempts).toHaveLength(1);
    }
    const killed = (await store.queryRollouts({ idPrefix: "rl4.", status: ["failed"], limit: 100 })).items;
    expect(killed.length).toBe(step.dropped.failed);
    expect(killed.every((r) => r.attempts.at(-1)!.status === "unresponsive")).toBe(true);
  }, 180_000);

  it("holds calls while the backend updates, then serves them with the new policy version", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const { backend, store, upstream } = await rig({ hold });
    const gateway = await startGateway({ store, upstreams: [{ url: upstream.baseUrl, capabilities: { tokenIds: true, logprobs: true } }], port: 0, logger: quiet });
    cleanups.push(() => gateway.close());
    const trainer = new Trainer({ store, runners: 8, progress: false, logger: quiet, handleSignals: false, algorithm: new RL({ backend, gateway, steps: 1, tasksPerStep: 1, groupSize: 2, evalEvery: 0, runId: "rl3" }) });
    const fitting = trainer.fit(caller, { train: [{ calls: 1 }] });
    await expect.poll(() => backend.requests.length).toBe(1);

    // An agent elsewhere calls while the update is under way: held, not lost.
    const outside = await store.startRollout({ input: "outside", mode: "train" });
    const client = new OpenAI({ baseURL: gateway.baseUrlFor({ rolloutId: outside.rollout.rolloutId, attemptId: outside.attempt.attemptId }), apiKey: "none", maxRetries: 0 });
    let answered = false;
    const call = client.chat.completions.create({ model: "policy", messages: [{ role: "user", content: "during the update" }] }).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answered).toBe(false);
    expect(gateway.stats().paused).toBe(true);
    release();
    await call;
    await fitting;
    await trainer.close();
    await gateway.flush();
    const spans = await store.querySpans({ rolloutId: outside.rollout.rolloutId });
    expect(spans.items.filter((s) => s.attributes[Attr.spanType] === "llm").map((s) => s.attributes[Attr.policyVersion])).toEqual([1]);
  });

  it("explains bad options", () => {
    try {
      new RL({ backend: {} as never, groupSize: 1, steps: 0 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual(["backend", "groupSize", "steps"]);
    }
  });
});
