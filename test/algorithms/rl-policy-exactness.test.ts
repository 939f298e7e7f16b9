/**
 * The reference backend's exactness, over real HTTP: tool calls re-render as sampled (so calls
 * merge), processed logprobs under the sampling settings, weighting that does not depend on
 * merging, restore, chunked steps, per-step hyperparameters, and sampling while a step trains.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterEach, describe, expect, it } from "vitest";
import { ReferenceBackend, type ReferenceBackendOptions, type ReferenceState } from "../../src/algorithms/rl/reference/index.js";
import { processedLogProbGradient, processedLogProbs } from "../../src/algorithms/rl/reference/policy.js";
import type { TrainRequest, TrainSample } from "../../src/algorithms/rl/protocol.js";
import { TrainChunkAssembler } from "../../src/algorithms/rl/train-chunks.js";
import { TracetrainError, ValidationError } from "tracetrain";

const COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"];
const ACTIONS = ["1", "2", "3", "4", "5", "6", ...COLOURS];
const TOOLS: ChatCompletionTool[] = [
  { type: "function", function: { name: "open_box", parameters: { type: "object", properties: { box: { type: "integer" } }, required: ["box"] } } },
];

type VllmParams = ChatCompletionCreateParamsNonStreaming & { return_token_ids?: boolean; top_k?: number };
type VllmCompletion = Omit<ChatCompletion, "choices"> & { prompt_token_ids?: number[]; choices: Array<ChatCompletion.Choice & { token_ids?: number[] }> };

const backends: ReferenceBackend[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const backend of backends.splice(0)) await backend.close();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function start(options: Partial<ReferenceBackendOptions> = {}): Promise<ReferenceBackend> {
  const backend = await ReferenceBackend.start({ actions: ACTIONS, seed: 1, ...options });
  backends.push(backend);
  return backend;
}

async function create(backend: ReferenceBackend, params: Omit<VllmParams, "model">): Promise<VllmCompletion> {
  const openai = new OpenAI({ baseURL: backend.baseUrl, apiKey: "unused", maxRetries: 0 });
  return (await openai.chat.completions.create({ model: backend.model, logprobs: true, return_token_ids: true, ...params } as VllmParams)) as VllmCompletion;
}

interface Call {
  prompt: number[];
  response: number[];
  logprobs: number[];
}

function callOf(completion: VllmCompletion): Call {
  const choice = completion.choices[0]!;
  return { prompt: completion.prompt_token_ids!, response: choice.token_ids!, logprobs: choice.logprobs!.content!.map((t) => t.logprob) };
}

function sample(call: Call, overrides: Partial<TrainSample> = {}): TrainSample {
  return {
    rollout_id: "r",
    group_id: "g",
    prompt_ids: call.prompt,
    response_ids: call.response,
    response_mask: call.response.map(() => 1 as const),
    logprobs: call.logprobs,
    advantage: 1,
    reward: 1,
    token_weight: 1 / call.response.length,
    policy_version: 0,
    ...overrides,
  };
}

const treasure = (box: number): ChatCompletionMessageParam[] => [
  { role: "system", content: "You open boxes and report gem colours." },
  { role: "user", content: `The treasure's colour is in box ${box}. Open it and tell me the colour.` },
];

/**
 * The demo's two calls: open a box (a tool call), then whatever the policy does after its result.
 * Both calls offer the tool with the default `tool_choice` ("auto"), as the demo does; the first
 * seed from `seed` on whose first call is a tool call is used (sampling is deterministic per seed).
 */
async function twoCalls(backend: ReferenceBackend, box: number, seed: number): Promise<[Call, Call]> {
  for (let s = seed; ; s += 1000) {
    const messages = treasure(box);
    const first = await create(backend, { messages, tools: TOOLS, seed: s });
    const call = first.choices[0]!.message.tool_calls?.[0];
    if (call === undefined) continue;
    messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: `Box ${box} holds a red gem.` });
    const second = await create(backend, { messages, tools: TOOLS, seed: s + 1 });
    return [callOf(first), callOf(second)];
  }
}

/** A few random updates, so that the policy is not uniform and every logprob means something. */
async function trainedState(steps = 3): Promise<ReferenceState> {
  const backend = await start();
  for (let step = 0; step < steps; step++) {
    const samples = await Promise.all(
      [1, 2, 3, 4].map(async (box, i) => {
        const [a, b] = await twoCalls(backend, box, 100 * step + 10 * i);
        const weight = 1 / (4 * (a.response.length + b.response.length));
        const advantage = i % 2 === 0 ? 1 : -1;
        return [sample(a, { advantage, token_weight: weight, policy_version: step }), sample(b, { advantage, token_weight: weight, policy_version: step })];
      }),
    );
    await backend.train({ step, policy_version: step, samples: samples.flat() });
  }
  return backend.state();
}

describe("processed logprobs", () => {
  it("are the sampler's distribution after temperature, top-k and top-p, with the gradient of that log-probability", () => {
    const logits = Float64Array.from([2, 1, 0.5, -1]);
    const settings = { temperature: 0.7, topP: 0.8, topK: 3 };
    // By hand: softmax(logits / 0.7) = […]; top-3 drops the last; top-p 0.8 keeps the two most likely (0.73 + 0.17 ≥ 0.8).
    const z = [2 / 0.7, 1 / 0.7, 0.5 / 0.7, -1 / 0.7];
    const total = z.reduce((s, x) => s + Math.exp(x), 0);
    const p = z.map((x) => Math.exp(x) / total);
    expect(p[0]! + p[1]!).toBeGreaterThanOrEqual(0.8);
    expect(p[0]!).toBeLessThan(0.8);
    const kept = Math.exp(z[0]!) + Math.exp(z[1]!);
    const processed = processedLogProbs(logits, settings);
    expect(processed[0]).toBeCloseTo(z[0]! - Math.log(kept), 12);
    expect(processed[1]).toBeCloseTo(z[1]! - Math.log(kept), 12);
    expect(processed[2]).toBe(-Infinity);
    expect(processed[3]).toBe(-Infinity);
    // d log p̃(1) / d logit_j = (onehot − p̃)/T on the kept candidates: checked against finite differences.
    const gradient = processedLogProbGradient(processed, 1, settings);
    for (let j = 0; j < 4; j++) {
      const h = 1e-6;
      const bumped = Float64Array.from(logits, (x, i) => (i === j ? x + h : x));
      const numeric = (processedLogProbs(bumped, settings)[1]! - processed[1]!) / h;
      expect(gradient[j]).toBeCloseTo(numeric, 5);
    }
    expect(gradient[0]).toBeCloseTo(-Math.exp(processed[0]!) / 0.7, 12);
    // Greedy: the argmax has probability 1 and no gradient.
    expect(Array.from(processedLogProbs(logits, { temperature: 0, topP: 1, topK: 0 }))).toEqual([0, -Infinity, -Infinity, -Infinity]);
  });

  it("make the importance ratio exact at temperature 0.7: the recorded and recomputed behaviour logprobs agree", async () => {
    const state = await trainedState();
    const backend = await start({ restore: state });
    expect((await backend.info()).capabilities).toMatchObject({ logprobs_mode: "processed" });
    const version = backend.policyVersion;
    const calls = await Promise.all([1, 2, 3, 4, 5, 6].map((box) => create(backend, { messages: treasure(box), tools: TOOLS, temperature: 0.7, seed: box })));
    const samples = calls.map((c) => sample(callOf(c), { policy_version: version, token_weight: 1 / 6 / c.choices[0]!.token_ids!.length, sampling: { temperature: 0.7 } }));
    // A recorded logprob is the tempered one, not the raw one.
    const raw = await start({ restore: state, logprobsMode: "raw" });
    const rawCall = await create(raw, { messages: treasure(1), tools: TOOLS, temperature: 0.7, seed: 1 });
    expect(rawCall.choices[0]!.token_ids).toEqual(calls[0]!.choices[0]!.token_ids);
    expect(rawCall.choices[0]!.logprobs!.content!.map((t) => t.logprob)).not.toEqual(calls[0]!.choices[0]!.logprobs!.content!.map((t) => t.logprob));

    const twin = await start({ restore: state });
    const exact = await backend.train({ step: version, policy_version: version, samples });
    expect(exact.metrics.max_behaviour_gap).toBeLessThan(1e-9);
    expect(exact.metrics.mean_ratio).toBeCloseTo(1, 9);
    // Without the settings, the backend recomputes at temperature 1 and sees the difference.
    const wrong = await twin.train({ step: version, policy_version: version, samples: samples.map(({ sampling: _, ...s }) => s) });
    expect(wrong.metrics.max_behaviour_gap).toBeGreaterThan(0.01);
  });
});

describe("tool calls rendered from the sampled tokens", () => {
  it("re-render in the next prompt as exactly the sampled ids, so the two calls of a rollout form one exact prefix", async () => {
    const backend = await start({ restore: await trainedState(1) });
    const [a, b] = await twoCalls(backend, 3, 5);
    expect(a.response.length).toBeGreaterThan(5);
    expect(b.prompt.slice(0, a.prompt.length + a.response.length)).toEqual([...a.prompt, ...a.response]);
    // The forced tokens carry probability 1.
    expect(a.logprobs.filter((lp) => lp === 0).length).toBeGreaterThan(a.logprobs.length - 3);
  });

  it("weigh a rollout the same whether its calls arrive merged into one sample or split per call", async () => {
    const state = await trainedState();
    const [merged, split] = [await start({ restore: state }), await start({ restore: state })];
    const version = merged.policyVersion;
    const [a, b] = await twoCalls(merged, 4, 9);
    const between = b.prompt.slice(a.prompt.length + a.response.length);
    const weight = 1 / (a.response.length + b.response.length);
    const one = sample(a, {
      response_ids: [...a.response, ...between, ...b.response],
      response_mask: [...a.response.map(() => 1 as const), ...between.map(() => 0 as const), ...b.response.map(() => 1 as const)],
      logprobs: [...a.logprobs, ...between.map(() => null), ...b.logprobs],
      token_weight: weight,
      policy_version: version,
      advantage: 0.7,
    });
    const two = [a, b].map((c) => sample(c, { token_weight: weight, policy_version: version, advantage: 0.7 }));
    const m = await merged.train({ step: version, policy_version: version, samples: [one] });
    const s = await split.train({ step: version, policy_version: version, samples: two });
    expect(merged.state().policy).toEqual(split.state().policy);
    expect(m.metrics.choice_tokens).toBe(s.metrics.choice_tokens);
  });
});

describe("ReferenceBackend protocol /2", () => {
  it("describes what it can do", async () => {
    const backend = await start();
    const info = await backend.info();
    expect(info).toMatchObject({
      protocol: "tracetrain-rl/2",
      capabilities: { restore: true, chunked_train: true, serves_while_training: true, logprobs_mode: "processed" },
      hyperparameters: ["learning_rate", "entropy_coef", "clip_low", "clip_high", "epochs", "tis_cap"],
    });
    expect(info.name).toMatch(/REINFORCE/);
    expect((await (await start({ epochs: 2 })).info()).name).toMatch(/PPO-clip over 2 passes/);
  });

  it("restores a checkpoint from memory or from checkpointDir: same logprobs, the last step kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tracetrain-policy-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const backend = await start({ restore: await trainedState(1), checkpointDir: dir });
    const probe = { messages: treasure(2), tools: TOOLS, top_logprobs: 5, seed: 3 };
    const saved = await backend.checkpoint({ name: "one" });
    const before = await create(backend, probe);
    const [a] = await twoCalls(backend, 2, 1);
    await backend.train({ step: 5, policy_version: backend.policyVersion, samples: [sample(a, { policy_version: backend.policyVersion })] });
    expect((await create(backend, probe)).choices[0]!.logprobs).not.toEqual(before.choices[0]!.logprobs);
    const restored = await backend.restore({ checkpoint_id: "one" });
    expect(restored).toEqual({ policy_version: saved.policy_version, last_step: 5 });
    expect(backend.policyVersion).toBe(saved.policy_version);
    expect((await create(backend, probe)).choices[0]!.logprobs).toEqual(before.choices[0]!.logprobs);
    // A backend that never held it reads it from the directory.
    const other = await start({ checkpointDir: dir });
    expect(await other.restore({ checkpoint_id: "one" })).toEqual({ policy_version: saved.policy_version, last_step: 0 });
    expect((await create(other, probe)).choices[0]!.logprobs).toEqual(before.choices[0]!.logprobs);
    const missing = other.restore({ checkpoint_id: "nope" });
    await expect(missing).rejects.toBeInstanceOf(TracetrainError);
    await expect(missing).rejects.toMatchObject({ code: "not_found" });
  });

  it("applies a step sent in chunks exactly as the same step sent whole", async () => {
    const state = await trainedState();
    const [whole, chunked] = [await start({ restore: state }), await start({ restore: state })];
    const version = whole.policyVersion;
    const calls = await Promise.all([1, 2, 3, 4, 5].map((box) => twoCalls(whole, box, box)));
    const samples = calls.flatMap(([a, b], i) => {
      const weight = 1 / (5 * (a.response.length + b.response.length));
      return [a, b].map((c) => sample(c, { token_weight: weight, advantage: i - 2, policy_version: version }));
    });
    const request: TrainRequest = { step: version, policy_version: version, samples, hyperparameters: { learning_rate: 20 } };
    await whole.train(request);
    const parts = [samples.slice(0, 3), samples.slice(3, 7), samples.slice(7)];
    for (const [index, part] of parts.entries()) {
      const response = await chunked.train({ ...request, samples: part, chunk: { index, count: 3 } });
      expect(response.pending ?? false).toBe(index < 2);
      expect(response.policy_version).toBe(index < 2 ? version : version + 1);
    }
    expect(chunked.state().policy).toEqual(whole.state().policy);
  });

  it("takes per-step hyperparameters and refuses unknown ones, naming them", async () => {
    const backend = await start({ restore: await trainedState(1) });
    const version = backend.policyVersion;
    const [a] = await twoCalls(backend, 1, 1);
    const request = (hyperparameters: TrainRequest["hyperparameters"]): TrainRequest => ({ step: 9, policy_version: version, samples: [sample(a, { policy_version: version })], hyperparameters });
    await expect(backend.train(request({ momentum: 0.9 }))).rejects.toMatchObject({ issues: [{ path: "hyperparameters.momentum" }] });
    await expect(backend.train(request({ epochs: 0 }))).rejects.toBeInstanceOf(ValidationError);
    // Three passes at a large rate: the ratio moves away from 1 and the clip bites.
    const ppo = await backend.train(request({ epochs: 3, learning_rate: 500, clip_high: 0.01 }));
    expect(ppo.metrics.approx_kl).not.toBe(0);
    expect(backend.policyVersion).toBe(version + 1);
  });

  it("keeps answering while a step trains, from the version it serves until the new one is swapped in", async () => {
    const backend = await start();
    const calls = await Promise.all(Array.from({ length: 40 }, (_, i) => twoCalls(backend, 1 + (i % 6), i)));
    const samples = calls.flatMap(([a, b]) => [a, b].map((c) => sample(c, { token_weight: 1 / 40 / (a.response.length + b.response.length) })));
    let trained = false;
    const training = backend.train({ step: 0, policy_version: 0, samples: [...samples, ...samples, ...samples] }).then((r) => {
      trained = true;
      return r;
    });
    const during = await create(backend, { messages: treasure(1) });
    const answeredWhileTraining = !trained;
    const response = await training;
    expect(response.policy_version).toBe(1);
    // Sampled from version 0 if it was answered before the swap (the update yields to the event loop as it goes).
    if (answeredWhileTraining) expect(during.system_fingerprint).toBe("policy-v0");
    expect((await create(backend, { messages: treasure(1) })).system_fingerprint).toBe("policy-v1");
  });
});

describe("TrainChunkAssembler", () => {
  const part = (index: number, count: number, overrides: Partial<TrainRequest> = {}): TrainRequest => ({
    step: 4,
    policy_version: 2,
    samples: [sample({ prompt: [1], response: [2], logprobs: [0] }, { rollout_id: `r${index}` })],
    chunk: { index, count },
    ...overrides,
  });

  it("holds the parts of a step in order and returns the whole step with the last", () => {
    const assembler = new TrainChunkAssembler();
    expect(assembler.add(part(0, 2))).toEqual({ pending: true });
    expect(assembler.pendingStep).toBe(4);
    const done = assembler.add(part(1, 2));
    expect(done.pending).toBe(false);
    if (!done.pending) {
      expect(done.request.samples.map((s) => s.rollout_id)).toEqual(["r0", "r1"]);
      expect(done.request).not.toHaveProperty("chunk");
    }
    expect(assembler.pendingStep).toBeUndefined();
  });

  it("refuses parts out of order or inconsistent with part 0, naming the field, and keeps what it holds", () => {
    const assembler = new TrainChunkAssembler();
    expect(() => assembler.add(part(1, 2))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "chunk.index" })] }) as Error);
    assembler.add(part(0, 3));
    expect(() => assembler.add(part(2, 3))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "chunk.index" })] }) as Error);
    expect(() => assembler.add(part(1, 4))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "chunk.count" })] }) as Error);
    expect(() => assembler.add(part(1, 3, { step: 5 }))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "step" })] }) as Error);
    expect(() => assembler.add(part(1, 3, { policy_version: 3 }))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "policy_version" })] }) as Error);
    expect(() => assembler.add(part(1, 3, { hyperparameters: { epochs: 2 } }))).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "hyperparameters" })] }) as Error);
    const { chunk: _, ...whole } = part(0, 1);
    expect(() => assembler.add(whole)).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: "chunk" })] }) as Error);
    expect(assembler.add(part(1, 3))).toEqual({ pending: true });
    expect(assembler.add(part(2, 3)).pending).toBe(false);
  });

  it("starts a step over at a new part 0 (the trainer re-split it after a 413), dropping the parts it held", () => {
    const assembler = new TrainChunkAssembler();
    expect(assembler.add(part(0, 2))).toEqual({ pending: true });
    // Part 1 of 2 was too large; the step comes again in 4 parts.
    for (let index = 0; index < 3; index++) expect(assembler.add(part(index, 4))).toEqual({ pending: true });
    const done = assembler.add(part(3, 4));
    expect(done.pending).toBe(false);
    if (!done.pending) expect(done.request.samples.map((s) => s.rollout_id)).toEqual(["r0", "r1", "r2", "r3"]);
  });
});
