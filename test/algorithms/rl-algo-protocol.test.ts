/**
 * The trainer's side of protocol tracetrain-rl/2, against backends written here over the mock LLM:
 * hyperparameters per step, a step split into chunks after a 413, the `restore` option, model
 * names that change with each version, sampling settings per sample, and the asynchronous mode's
 * staleness bound.
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryStore } from "tracetrain/store";
import { agent, ConflictError, RL, Trainer, TracetrainError, ValidationError, type RLOptions } from "tracetrain";
import { startGateway } from "tracetrain/gateway";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { BackendError } from "../../src/algorithms/rl/backend-errors.js";
import type { TrainingBackend } from "../../src/algorithms/rl/training-backend.js";
import { type BackendInfo, type Endpoint, PROTOCOL, type RestoreRequest, type TrainRequest, type TrainResponse } from "../../src/algorithms/rl/protocol.js";
import { mergeTransitions } from "../../src/adapters/merge.js";
import type { Transition } from "../../src/types/index.js";
import { untilRollouts } from "./fixtures/rl-algo-wait.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

type Capabilities = Partial<BackendInfo["capabilities"]>;

/** A backend over the mock LLM that records what it is sent; each version may serve under its own model name. */
class ScriptedBackend implements TrainingBackend {
  version = 0;
  readonly requests: TrainRequest[] = [];
  readonly restores: RestoreRequest[] = [];
  /** The model name served at each version; the train response names it when `announce` says so. */
  modelAt: (version: number) => string = () => "policy";
  announce: (version: number) => boolean = () => false;
  /** Requests with more samples than this are refused as too large (as HttpTrainingBackend raises a 413). */
  maxSamples = Number.POSITIVE_INFINITY;
  before: (request: TrainRequest) => Promise<void> = async () => {};
  private held: TrainRequest[] = [];
  private lastStep: number | null = null;
  constructor(
    private readonly upstream: MockLlm,
    private readonly capabilities: Capabilities = {},
    private readonly hyperparameters: string[] = [],
  ) {}
  async info(): Promise<BackendInfo> {
    return { protocol: PROTOCOL, model: this.modelAt(this.version), policy_version: this.version, capabilities: { token_ids: true, logprobs: true, checkpoint: false, ...this.capabilities }, hyperparameters: this.hyperparameters };
  }
  private endpoint(): Endpoint {
    return { name: "mock", base_url: this.upstream.baseUrl, model: this.modelAt(this.version), policy_version: this.version };
  }
  async endpoints() {
    return { policy_version: this.version, endpoints: [this.endpoint()] };
  }
  async train(request: TrainRequest): Promise<TrainResponse> {
    this.requests.push(request);
    if (this.lastStep !== null && request.step <= this.lastStep) throw new ConflictError(`step ${request.step} was already applied`);
    if (request.samples.length > this.maxSamples) {
      throw new BackendError("payload_too_large", "POST /v2/train", 413, `POST /v2/train → HTTP 413: request body too large — send smaller batches or raise the backend's body limit`);
    }
    await this.before(request);
    if (request.chunk && request.chunk.index < request.chunk.count - 1) {
      if (request.chunk.index === 0) this.held = [];
      this.held.push(request);
      return { policy_version: this.version, metrics: {}, pending: true };
    }
    this.held = [];
    this.version++;
    this.lastStep = request.step;
    return { policy_version: this.version, metrics: { samples: request.samples.length }, ...(this.announce(this.version) ? { endpoints: [this.endpoint()] } : {}) };
  }
  async checkpoint(): Promise<never> {
    throw new Error("no checkpoints");
  }
  async restore(request: RestoreRequest) {
    this.restores.push(request);
    this.version = 7;
    return { policy_version: 7, last_step: null, endpoints: [this.endpoint()] };
  }
  async close() {}
}

/** One call per rollout; rewards every other rollout of a group, so every group has a signal. */
const caller = agent(
  async (_task: string, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "none", maxRetries: 0 });
    await client.chat.completions.create({ model: llm.model, messages: [{ role: "user", content: `from ${ctx.rollout.rolloutId}` }] });
    return Number(ctx.rollout.rolloutId.split(".").at(-1)) % 2;
  },
  { name: "caller" },
);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function rig(capabilities: Capabilities = {}, hyperparameters: string[] = []) {
  const upstream = await startMockLlm();
  const backend = new ScriptedBackend(upstream, capabilities, hyperparameters);
  const store = new MemoryStore();
  cleanups.push(async () => {
    await upstream.close();
    await store.close();
  });
  return { upstream, backend, store };
}

async function fit(store: MemoryStore, options: RLOptions, train: string[] = ["a", "b"]) {
  const trainer = new Trainer({ store, runners: 8, progress: false, logger: quiet, handleSignals: false, algorithm: new RL({ evalEvery: 0, ...options }) });
  cleanups.push(() => trainer.close());
  return (await trainer.fit(caller, { train })).result;
}

/** The model name each rollout's call reached the upstream with, by step. */
function modelsByStep(upstream: MockLlm, runId: string): Map<number, Set<string>> {
  const byStep = new Map<number, Set<string>>();
  for (const request of upstream.requests) {
    const body = request.body as { model?: string; messages?: Array<{ content?: string }> } | undefined;
    const match = new RegExp(`from ${runId}\\.s(\\d+)\\.`).exec(body?.messages?.[0]?.content ?? "");
    if (!match || body?.model === undefined) continue;
    const step = Number(match[1]);
    byStep.set(step, new Set([...(byStep.get(step) ?? []), body.model]));
  }
  return byStep;
}

describe("RL over protocol /2", () => {
  it("sends each step's hyperparameters, and refuses a name the backend does not take before any rollout", async () => {
    const { backend, store } = await rig({}, ["learning_rate", "entropy_coef"]);
    await fit(store, { backend, steps: 3, tasksPerStep: 1, groupSize: 2, runId: "hp", hyperparameters: (step) => ({ learning_rate: 0.1 / step, entropy_coef: 0.01 }) });
    expect(backend.requests.map((r) => r.hyperparameters)).toEqual([
      { learning_rate: 0.1, entropy_coef: 0.01 },
      { learning_rate: 0.05, entropy_coef: 0.01 },
      { learning_rate: 0.1 / 3, entropy_coef: 0.01 },
    ]);

    const other = await rig({}, ["learning_rate"]);
    const failure = await fit(other.store, { backend: other.backend, steps: 1, groupSize: 2, runId: "hp-bad", hyperparameters: { lr: 0.1 } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as ValidationError).issues).toEqual([{ path: "hyperparameters.lr", message: expect.stringContaining("it takes learning_rate") }]);
    expect((await other.store.stats()).rollouts.total).toBe(0);
  });

  it("after a 413, resends the step in chunks (same step, weights of the whole step) to a backend that takes them", async () => {
    const { backend, store } = await rig({ chunked_train: true });
    backend.maxSamples = 3;
    const result = await fit(store, { backend, steps: 2, tasksPerStep: 2, groupSize: 4, runId: "chunks" });
    // Step 1: refused whole (8 samples) and in 2 chunks of 4; accepted in 4 chunks of 2.
    const step1 = backend.requests.filter((r) => r.step === 1);
    expect(step1.map((r) => [r.samples.length, r.chunk?.index, r.chunk?.count])).toEqual([
      [8, undefined, undefined],
      [4, 0, 2],
      [2, 0, 4],
      [2, 1, 4],
      [2, 2, 4],
      [2, 3, 4],
    ]);
    const accepted = step1.filter((r) => r.chunk?.count === 4);
    const samples = accepted.flatMap((r) => r.samples);
    expect(new Set(samples.map((s) => s.rollout_id)).size).toBe(8);
    expect(samples.reduce((sum, s) => sum + s.token_weight * s.response_mask.filter((m) => m === 1).length, 0)).toBeCloseTo(1, 12);
    expect(accepted.every((r) => r.policy_version === 0)).toBe(true);
    // One update per step, however many chunks it took.
    expect(result.steps.map((s) => [s.newPolicyVersion, s.chunks])).toEqual([
      [1, 4],
      [2, 4],
    ]);
  });

  it("after a 413 from a backend without chunked steps, says what to do", async () => {
    const { backend, store } = await rig();
    backend.maxSamples = 3;
    const failure = await fit(store, { backend, steps: 1, tasksPerStep: 2, groupSize: 4, runId: "no-chunks" }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TracetrainError);
    expect((failure as TracetrainError).code).toBe("payload_too_large");
    expect((failure as Error).message).toMatch(/does not take chunked steps.*lower tasksPerStep or groupSize/);
    expect(backend.requests).toHaveLength(1);
  });

  it("starts from a backend checkpoint with `restore`, and refuses it when the backend cannot restore", async () => {
    const { backend, store, upstream } = await rig({ restore: true });
    backend.modelAt = (version) => (version === 7 ? "restored" : `v${version}`);
    await fit(store, { backend, steps: 1, tasksPerStep: 1, groupSize: 2, runId: "restore", restore: "ck-3" });
    expect(backend.restores).toEqual([{ checkpoint_id: "ck-3" }]);
    expect(backend.requests[0]!.policy_version).toBe(7);
    expect(modelsByStep(upstream, "restore").get(1)).toEqual(new Set(["restored"]));

    const other = await rig();
    const failure = await fit(other.store, { backend: other.backend, steps: 1, groupSize: 2, runId: "restore-bad", restore: "ck-3" }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as ValidationError).issues[0]!.path).toBe("restore");
  });

  it("follows the model name of each version: from the train response, else from the endpoints when the version changed", async () => {
    const { backend, store, upstream } = await rig();
    backend.modelAt = (version) => `lora-${version}`;
    // Version 1 is announced in the train response; version 2 only listed by endpoints().
    backend.announce = (version) => version === 1;
    await fit(store, { backend, steps: 3, tasksPerStep: 1, groupSize: 2, runId: "names" });
    const models = modelsByStep(upstream, "names");
    expect([...models.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [1, new Set(["lora-0"])],
      [2, new Set(["lora-1"])],
      [3, new Set(["lora-2"])],
    ]);
  });

  it("carries the sampling settings of the calls into each train sample", async () => {
    const { backend, store } = await rig();
    await fit(store, { backend, steps: 1, tasksPerStep: 1, groupSize: 2, runId: "sampling", sampling: { train: { temperature: 0.7, top_p: 0.9, top_k: 20 } } });
    const samples = backend.requests[0]!.samples;
    expect(samples.length).toBe(2);
    for (const s of samples) expect(s.sampling).toEqual({ temperature: 0.7, top_p: 0.9, top_k: 20 });
  });

  it("needs a backend that serves while training for the asynchronous mode, naming the option", async () => {
    const { backend, store } = await rig();
    const failure = await fit(store, { backend, steps: 1, groupSize: 2, runId: "async-bad", mode: "async" }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ValidationError);
    expect((failure as ValidationError).issues).toEqual([{ path: "mode", message: expect.stringContaining("serves_while_training") }]);
  });
});

describe("RL's asynchronous mode", () => {
  /**
   * Each update waits until the next step's rollouts have all ended — which they can only do if the
   * gateway keeps forwarding calls during the update — so every one of them was sampled from the
   * version before it: one version stale.
   */
  async function overlapping(maxStaleness: number, runId: string) {
    const { backend, store, upstream } = await rig({ serves_while_training: true });
    const gateway = await startGateway({ store, upstreams: [{ url: upstream.baseUrl, capabilities: { tokenIds: true, logprobs: true } }], port: 0, logger: quiet });
    cleanups.push(() => gateway.close());
    const pausedDuringUpdates: boolean[] = [];
    backend.before = async (request) => {
      if (request.step >= 3) return;
      await untilRollouts(store, async () => (await store.queryRollouts({ idPrefix: `${runId}.s${request.step + 1}.`, status: ["succeeded"], limit: 100 })).items.length >= 4);
      pausedDuringUpdates.push(gateway.stats().paused);
    };
    const result = await fit(store, { backend, gateway, mode: "async", maxStaleness, steps: 3, tasksPerStep: 2, groupSize: 2, runId, dynamicSampling: false });
    return { result, backend, pausedDuringUpdates };
  }

  it("keeps samples one version old within maxStaleness 1, stamped with the version that sampled them", async () => {
    const { result, backend, pausedDuringUpdates } = await overlapping(1, "as1");
    expect(pausedDuringUpdates).toEqual([false, false]);
    expect(backend.requests.map((r) => [r.step, r.policy_version, [...new Set(r.samples.map((s) => s.policy_version))]])).toEqual([
      [1, 0, [0]],
      [2, 1, [0]],
      [3, 2, [1]],
    ]);
    expect(result.steps.map((s) => [s.staleness, s.dropped.stale])).toEqual([
      [0, 0],
      [1, 0],
      [1, 0],
    ]);
  });

  it("resumes: steps the backend applied are skipped, rollouts the store has are not run again", async () => {
    const { backend, store } = await rig({ serves_while_training: true });
    const options = { backend, mode: "async", steps: 2, tasksPerStep: 2, groupSize: 2, runId: "resume-async", dynamicSampling: false } as const;
    await fit(store, options);
    const before = (await store.stats()).rollouts.total;
    expect(before).toBe(2 * 4);
    const result = await fit(store, { ...options, steps: 4 });
    expect(result.steps.map((s) => s.skipped)).toEqual(["already applied", "already applied", undefined, undefined]);
    expect((await store.stats()).rollouts.total - before).toBe(2 * 4);
    expect(result.policyVersion).toBe(4);
  });

  it("drops and counts rollouts beyond maxStaleness 0", async () => {
    const { result, backend } = await overlapping(0, "as0");
    // Step 2's rollouts all ran on version 0 while step 1 trained: too old for version 1.
    expect(result.steps[1]).toMatchObject({ dropped: { failed: 0, noReward: 0, stale: 4 }, samples: 0, skipped: "no signal" });
    // Step 3's ran while step 2 (skipped) had nothing to train: current, kept.
    expect(result.steps[2]).toMatchObject({ dropped: { stale: 0 }, staleness: 0 });
    expect(backend.requests.map((r) => r.step)).toEqual([1, 3]);
  });
});

describe("merging and sampling settings", () => {
  it("never merges calls sampled with different settings into one sample", () => {
    const call = (i: number, prompt: number[], response: number[], sampling?: Transition["sampling"]): Transition => ({
      rolloutId: "r",
      attemptId: "a",
      callId: `c${i}`,
      prompt: { tokenIds: prompt },
      response: { tokenIds: response },
      textOnly: false,
      ...(sampling ? { sampling } : {}),
    });
    const same = mergeTransitions([call(0, [1, 2], [3], { temperature: 1 }), call(1, [1, 2, 3, 4], [5])]);
    expect(same.samples).toHaveLength(1);
    const differ = mergeTransitions([call(0, [1, 2], [3], { temperature: 0.7 }), call(1, [1, 2, 3, 4], [5], { temperature: 0.7, topK: 5 })]);
    expect(differ.samples.map((s) => s.sampling)).toEqual([{ temperature: 0.7 }, { temperature: 0.7, topK: 5 }]);
    expect(differ.attempts[0]!.notes.map((n) => n.kind)).toEqual(["sampling_change"]);
  });
});
