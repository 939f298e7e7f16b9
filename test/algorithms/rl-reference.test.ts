/**
 * The reference training backend, driven as an agent and a trainer would drive it: the real
 * `openai` SDK over loopback HTTP for sampling, `train` for updates, and tracetrain's gateway in
 * front for recording. The learning test is the project demo's task ("treasure boxes").
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionCreateParamsNonStreaming, ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterEach, describe, expect, it } from "vitest";
import { ReferenceBackend, type ReferenceBackendOptions } from "../../src/algorithms/rl/reference/index.js";
import type { TrainRequest, TrainSample } from "../../src/algorithms/rl/protocol.js";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { ConflictError, ValidationError } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { startGateway } from "tracetrain/gateway";
import { randomFor } from "../../src/util/random.js";

const BOXES = ["1", "2", "3", "4", "5", "6"] as const;
const COLOURS = ["red", "blue", "green", "yellow", "purple", "orange"] as const;
const ACTIONS = [...BOXES, ...COLOURS];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const backends: ReferenceBackend[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const backend of backends.splice(0)) await backend.close();
});

async function start(options: Partial<ReferenceBackendOptions> = {}): Promise<ReferenceBackend> {
  const backend = await ReferenceBackend.start({ actions: ACTIONS, ...options });
  backends.push(backend);
  return backend;
}

function client(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
}

/** vLLM's request and response extensions, which the SDK's types do not know. */
type VllmParams = ChatCompletionCreateParamsNonStreaming & { return_token_ids?: boolean };
type VllmCompletion = Omit<ChatCompletion, "choices"> & { prompt_token_ids?: number[]; choices: Array<ChatCompletion.Choice & { token_ids?: number[] }> };

async function create(openai: OpenAI, params: VllmParams): Promise<VllmCompletion> {
  return (await openai.chat.completions.create(params)) as VllmCompletion;
}

/** The HTTP status and OpenAI error body of a failed call. */
async function failure(call: Promise<unknown>): Promise<{ status: number | undefined; error: unknown }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return { status: error.status, error: error.error };
    throw error;
  }
  throw new Error("the call succeeded");
}

// ---------------------------------------------------------------------------------------------
// The treasure-box task and its agent
// ---------------------------------------------------------------------------------------------

interface TreasureTask {
  box: number;
  /** Colour of the gem in box 1..6 (index 0 unused). */
  colours: string[];
}

const SYSTEM = "You open boxes and report gem colours.";
const TOOLS: ChatCompletionTool[] = [
  { type: "function", function: { name: "open_box", parameters: { type: "object", properties: { box: { type: "integer" } }, required: ["box"] } } },
];

function makeTasks(seed: number, count: number): TreasureTask[] {
  const random = randomFor(seed, "treasure-tasks");
  return Array.from({ length: count }, () => ({ box: 1 + random.below(6), colours: ["", ...random.shuffle(COLOURS)] }));
}

/** One LLM call as the trainer needs it: exactly what the engine saw and sampled. */
interface RecordedCall {
  promptIds: number[];
  tokenIds: number[];
  logprobs: number[];
}

interface Rollout {
  reward: number;
  calls: RecordedCall[];
}

function recorded(completion: VllmCompletion): RecordedCall {
  const choice = completion.choices[0]!;
  return { promptIds: completion.prompt_token_ids!, tokenIds: choice.token_ids!, logprobs: choice.logprobs!.content!.map((t) => t.logprob) };
}

/** The tool, run by the agent itself. */
function openBox(task: TreasureTask, argumentsJson: string): { opened: number | undefined; text: string } {
  const box: unknown = (JSON.parse(argumentsJson) as { box?: unknown }).box;
  if (typeof box === "number" && Number.isInteger(box) && box >= 1 && box <= 6) return { opened: box, text: `Box ${box} holds a ${task.colours[box]} gem.` };
  return { opened: undefined, text: `There is no box ${String(box)}.` };
}

/** The agent: ask, run the tool the model calls, ask again, score the answer. Seeds make each call reproducible. */
async function runAgent(openai: OpenAI, model: string, task: TreasureTask, seed: number): Promise<Rollout> {
  const common = { model, tools: TOOLS, logprobs: true, return_token_ids: true } as const;
  const messages: ChatCompletionMessageParam[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: `The treasure's colour is in box ${task.box}. Open it and tell me the colour.` },
  ];
  const first = await create(openai, { ...common, messages, seed });
  const call = first.choices[0]!.message.tool_calls?.[0];
  if (call === undefined || call.type !== "function") return { reward: 0, calls: [recorded(first)] };
  const tool = openBox(task, call.function.arguments);
  messages.push(first.choices[0]!.message, { role: "tool", tool_call_id: call.id, content: tool.text });
  const second = await create(openai, { ...common, messages, seed: seed + 1 });
  const answer = second.choices[0]!.message.content;
  const reward = (tool.opened === task.box ? 0.5 : 0) + (answer === task.colours[task.box] ? 0.5 : 0);
  return { reward, calls: [recorded(first), recorded(second)] };
}

/** GRPO: advantage = (reward − group mean) / group std; one sample per LLM call, each rollout weighing the same. */
function grpoSamples(groups: Rollout[][], step: number, policyVersion: number): TrainSample[] {
  const rollouts = groups.reduce((sum, group) => sum + group.length, 0);
  return groups.flatMap((group, g) => {
    const mean = group.reduce((sum, r) => sum + r.reward, 0) / group.length;
    const std = Math.sqrt(group.reduce((sum, r) => sum + (r.reward - mean) ** 2, 0) / group.length);
    return group.flatMap((rollout, r) =>
      rollout.calls.map(
        (call): TrainSample => ({
          rollout_id: `s${step}-g${g}-r${r}`,
          group_id: `s${step}-g${g}`,
          prompt_ids: call.promptIds,
          response_ids: call.tokenIds,
          response_mask: call.tokenIds.map(() => 1 as const),
          logprobs: call.logprobs,
          advantage: (rollout.reward - mean) / (std + 1e-6),
          reward: rollout.reward,
          // Per-rollout token mean: each generated token of the rollout weighs 1 / (its tokens × the step's rollouts).
          token_weight: 1 / (rollout.calls.reduce((sum, c) => sum + c.tokenIds.length, 0) * rollouts),
          policy_version: policyVersion,
        }),
      ),
    );
  });
}

function oneSample(backend: ReferenceBackend, call: RecordedCall, overrides: Partial<TrainSample> = {}): TrainSample {
  return {
    rollout_id: "r",
    group_id: "g",
    prompt_ids: call.promptIds,
    response_ids: call.tokenIds,
    response_mask: call.tokenIds.map(() => 1 as const),
    logprobs: call.logprobs,
    advantage: 1,
    reward: 1,
    token_weight: 1,
    policy_version: backend.policyVersion,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------

describe("the reference endpoint", () => {
  it("answers in OpenAI's format with vLLM's exact token ids and logprobs", async () => {
    const backend = await start();
    const openai = client(backend.baseUrl);
    const answer = await create(openai, {
      model: backend.model,
      messages: [{ role: "user", content: "Pick a colour." }],
      logprobs: true,
      top_logprobs: 3,
      return_token_ids: true,
    });
    expect(answer).toMatchObject({ object: "chat.completion", model: "tracetrain-reference" });
    expect(answer.id).toMatch(/^chatcmpl-/);
    const choice = answer.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(ACTIONS).toContain(choice.message.content);
    // The prompt's ids are the ChatML rendering tokenized with o200k; the response is the action's token.
    expect(answer.prompt_token_ids!.length).toBe(answer.usage!.prompt_tokens);
    expect(choice.token_ids).toHaveLength(1);
    expect(answer.usage).toMatchObject({ completion_tokens: 1, total_tokens: answer.usage!.prompt_tokens + 1 });
    const [entry] = choice.logprobs!.content!;
    expect(entry!.token).toBe(choice.message.content);
    expect(entry!.bytes).toEqual(Array.from(Buffer.from(choice.message.content!)));
    // The untrained policy is uniform over the 12 actions.
    expect(entry!.logprob).toBeCloseTo(-Math.log(ACTIONS.length), 10);
    expect(entry!.top_logprobs).toHaveLength(3);
    // Without the extensions, the answer is plain OpenAI.
    const plain = await create(openai, { model: backend.model, messages: [{ role: "user", content: "Pick a colour." }] });
    expect(plain).not.toHaveProperty("prompt_token_ids");
    expect(plain.choices[0]!.logprobs).toBeNull();
    expect(plain.choices[0]).not.toHaveProperty("token_ids");
    // n choices are n independent samples, each with its token.
    const three = await create(openai, { model: backend.model, messages: [{ role: "user", content: "Pick." }], n: 3, seed: 5, return_token_ids: true });
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(three.choices.every((c) => c.token_ids!.length === 1)).toBe(true);
    expect(three.usage!.completion_tokens).toBe(3);
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["tracetrain-reference"]);
  });

  it("writes a Hermes-style tool call whose argument is a choice among the values the schema allows, then answers in text", async () => {
    const backend = await start();
    const openai = client(backend.baseUrl);
    const task: TreasureTask = { box: 3, colours: ["", "red", "blue", "green", "yellow", "purple", "orange"] };
    const messages: ChatCompletionMessageParam[] = [
      { role: "system", content: SYSTEM },
      { role: "user", content: "The treasure's colour is in box 3. Open it and tell me the colour." },
    ];
    const first = await create(openai, { model: backend.model, messages, tools: TOOLS, tool_choice: "required", seed: 7, logprobs: true, top_logprobs: 6, return_token_ids: true });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type === "function" && call.function.name).toBe("open_box");
    const args = JSON.parse(call.type === "function" ? call.function.arguments : "{}") as { box: unknown };
    // The schema says integer: only the actions that are integers are candidates, uniform at first.
    expect([1, 2, 3, 4, 5, 6]).toContain(args.box);
    const tokens = choice.logprobs!.content!;
    expect(tokens.map((t) => t.token).join("")).toBe(`<tool_call>{"name": "open_box", "arguments": {"box": ${String(args.box)}}}</tool_call>`);
    expect(choice.token_ids).toHaveLength(tokens.length);
    const chosen = tokens.filter((t) => t.logprob !== 0);
    expect(chosen).toHaveLength(1);
    expect(chosen[0]!.logprob).toBeCloseTo(-Math.log(6), 10);
    expect(chosen[0]!.top_logprobs.map((t) => t.token).sort()).toEqual(["1", "2", "3", "4", "5", "6"]);
    // The same seed samples the same call.
    const again = await create(openai, { model: backend.model, messages, tools: TOOLS, tool_choice: "required", seed: 7 });
    expect(again.choices[0]!.message.tool_calls![0]).toMatchObject({ function: call.type === "function" ? call.function : {} });

    messages.push(choice.message, { role: "tool", tool_call_id: call.id, content: openBox(task, call.type === "function" ? call.function.arguments : "{}").text });
    const second = await create(openai, { model: backend.model, messages, tools: TOOLS, tool_choice: "none", return_token_ids: true });
    expect(second.choices[0]!.finish_reason).toBe("stop");
    expect(ACTIONS).toContain(second.choices[0]!.message.content);
    // The next prompt renders the tool call and the tool result.
    expect(second.prompt_token_ids!.length).toBeGreaterThan(first.prompt_token_ids!.length);
    // temperature 0 is argmax: with a uniform policy, the first action.
    const greedy = await create(openai, { model: backend.model, messages, temperature: 0 });
    expect(greedy.choices[0]!.message.content).toBe(ACTIONS[0]);
  });

  it("streams server-sent chunks with the token ids and logprobs", async () => {
    const backend = await start();
    const stream = await client(backend.baseUrl).chat.completions.create({
      model: backend.model,
      messages: [{ role: "user", content: "Pick." }],
      stream: true,
      stream_options: { include_usage: true },
      logprobs: true,
      return_token_ids: true,
    } as never);
    const chunks: Array<Record<string, unknown> & { choices: Array<{ delta: { content?: string | null }; token_ids?: number[]; finish_reason: string | null }> }> = [];
    for await (const chunk of stream as unknown as AsyncIterable<(typeof chunks)[number]>) chunks.push(chunk);
    expect(Array.isArray(chunks[0]!.prompt_token_ids)).toBe(true);
    const text = chunks.flatMap((c) => c.choices.map((x) => x.delta.content ?? "")).join("");
    expect(ACTIONS).toContain(text);
    expect(chunks.flatMap((c) => c.choices.flatMap((x) => x.token_ids ?? []))).toHaveLength(1);
    expect(chunks.flatMap((c) => c.choices.map((x) => x.finish_reason)).filter(Boolean)).toEqual(["stop"]);
    expect(chunks[chunks.length - 1]!.usage).toMatchObject({ completion_tokens: 1 });
  });

  it("answers bad requests with OpenAI-style errors that name the field", async () => {
    const backend = await start();
    const openai = client(backend.baseUrl);
    const missing = await failure(openai.chat.completions.create({ model: backend.model } as never));
    expect(missing.status).toBe(400);
    expect(missing.error).toEqual({ message: "Missing required parameter: 'messages'.", type: "invalid_request_error", param: "messages", code: "missing_required_parameter" });
    const hot = await failure(openai.chat.completions.create({ model: backend.model, messages: [{ role: "user", content: "hi" }], temperature: 5 }));
    expect(hot.status).toBe(400);
    expect(hot.error).toMatchObject({ type: "invalid_request_error", param: "temperature", code: "invalid_value" });
    const badMessage = await failure(openai.chat.completions.create({ model: backend.model, messages: [{ role: "user" }] } as never));
    expect(badMessage.error).toMatchObject({ message: "Missing required parameter: 'messages[0].content'.", param: "messages[0].content" });
    const model = await failure(openai.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "hi" }] }));
    expect(model.status).toBe(404);
    expect(model.error).toMatchObject({ param: "model", code: "model_not_found" });
    const route = await fetch(`${backend.baseUrl}/embeddings`, { method: "POST", body: "{}" });
    expect(route.status).toBe(404);
    expect(await route.json()).toEqual({ error: { message: "Invalid URL (POST /v1/embeddings)", type: "invalid_request_error", param: null, code: null } });
    const notJson = await fetch(`${backend.baseUrl}/chat/completions`, { method: "POST", body: "{nope" });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });
});

describe("ReferenceBackend", () => {
  it("describes itself and its endpoint, and refuses repeated actions", async () => {
    const backend = await start();
    expect(await backend.info()).toMatchObject({ protocol: "tracetrain-rl/2", model: "tracetrain-reference", policy_version: 0, capabilities: { token_ids: true, logprobs: true, checkpoint: true } });
    const { endpoints, policy_version } = await backend.endpoints();
    expect(policy_version).toBe(0);
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]!.base_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const refused = ReferenceBackend.start({ actions: ["1", "1"] });
    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    await expect(refused).rejects.toMatchObject({ issues: [{ path: "actions[1]" }] });
  });

  it("rejects malformed batches naming the field, tokens that are not actions, and a repeated step", async () => {
    const backend = await start();
    const first = await create(client(backend.baseUrl), { model: backend.model, messages: [{ role: "user", content: "hi" }], logprobs: true, return_token_ids: true });
    const call = recorded(first);
    const batch = (samples: unknown[], step = 0) => ({ step, policy_version: 0, samples }) as TrainRequest;

    const noSamples = backend.train(batch([]));
    await expect(noSamples).rejects.toBeInstanceOf(ValidationError);
    await expect(noSamples).rejects.toMatchObject({ issues: [{ path: "samples" }] });
    const badMask = backend.train(batch([{ ...oneSample(backend, call), response_mask: [1, 0] }]));
    await expect(badMask).rejects.toMatchObject({ issues: [{ path: "samples[0].response_mask" }] });
    const noAdvantage = backend.train(batch([{ ...oneSample(backend, call), advantage: "high" }]));
    await expect(noAdvantage).rejects.toMatchObject({ issues: [{ path: "samples[0].advantage" }] });
    // A generated token the policy cannot have produced ("hello" is not an action).
    const notAnAction = backend.train(batch([oneSample(backend, call), oneSample(backend, call, { response_ids: [24912], logprobs: [-1] })]));
    await expect(notAnAction).rejects.toBeInstanceOf(ValidationError);
    await expect(notAnAction).rejects.toMatchObject({ issues: [{ path: "samples[1].response_ids[0]" }] });
    expect(backend.policyVersion).toBe(0);

    const applied = await backend.train(batch([oneSample(backend, call)], 0));
    expect(applied.policy_version).toBe(1);
    expect(applied.metrics).toMatchObject({ choice_tokens: 1, forced_tokens: 0, samples: 1, mean_ratio: 1, clip_fraction: 0 });
    await expect(backend.train(batch([oneSample(backend, call)], 0))).rejects.toBeInstanceOf(ConflictError);
    expect(backend.policyVersion).toBe(1);
  });

  it("advances the policy version with each update, and the endpoint serves the new policy", async () => {
    const backend = await start({ learningRate: 0.2 });
    const openai = client(backend.baseUrl);
    const params: VllmParams = { model: backend.model, messages: [{ role: "user", content: "hi" }], logprobs: true, top_logprobs: ACTIONS.length, return_token_ids: true, seed: 1 };
    const before = await create(openai, params);
    const call = recorded(before);
    for (let step = 0; step < 3; step++) {
      const response = await backend.train({ step, policy_version: step, samples: [oneSample(backend, call)] });
      expect(response.policy_version).toBe(step + 1);
      expect((await backend.endpoints()).endpoints[0]!.policy_version).toBe(step + 1);
    }
    expect((await backend.info()).policy_version).toBe(3);
    // A positive advantage made the sampled action more likely.
    const after = await create(openai, params);
    const trained = before.choices[0]!.logprobs!.content![0]!.token;
    const now = after.choices[0]!.logprobs!.content![0]!.top_logprobs.find((t) => t.token === trained)!;
    expect(now.logprob).toBeGreaterThan(call.logprobs[0]!);
    expect(after.system_fingerprint).toBe("policy-v3");
  });

  it("restores a checkpoint to the same logprobs", async () => {
    const backend = await start();
    const openai = client(backend.baseUrl);
    const tasks = makeTasks(11, 4);
    const rollouts = await Promise.all(tasks.map((task, i) => runAgent(openai, backend.model, task, 100 * i)));
    await backend.train({ step: 0, policy_version: 0, samples: grpoSamples([rollouts], 0, 0) });
    const saved = await backend.checkpoint({ name: "after-one-step" });
    expect(saved).toMatchObject({ checkpoint_id: "after-one-step", policy_version: 1 });
    const state = JSON.parse(JSON.stringify(backend.state(saved.checkpoint_id))) as ReturnType<ReferenceBackend["state"]>;
    const probe = { model: backend.model, messages: [{ role: "system" as const, content: SYSTEM }, { role: "user" as const, content: "The treasure's colour is in box 2. Open it and tell me the colour." }], tools: TOOLS, logprobs: true, top_logprobs: 12, seed: 3 };
    const original = await create(openai, probe);
    // Training on moves the policy away from the checkpoint ...
    await backend.train({ step: 1, policy_version: 1, samples: grpoSamples([rollouts.map((r, i) => ({ ...r, reward: i % 2 }))], 1, 1) });
    const moved = await create(openai, probe);
    expect(moved.choices[0]!.logprobs).not.toEqual(original.choices[0]!.logprobs);
    // ... and a backend restored from it samples exactly as the original did.
    const restored = await start({ restore: state });
    expect(restored.policyVersion).toBe(1);
    const again = await create(client(restored.baseUrl), probe);
    expect(again.choices[0]!.logprobs).toEqual(original.choices[0]!.logprobs);
    // The same seeded sample, too (only the per-server response ids differ).
    const callOf = (c: VllmCompletion) => [c.choices[0]!.message.content, ...(c.choices[0]!.message.tool_calls ?? []).map((t) => (t.type === "function" ? t.function : undefined))];
    expect(callOf(again)).toEqual(callOf(original));
    // The restored backend remembers which steps it applied.
    await expect(restored.train({ step: 0, policy_version: 1, samples: grpoSamples([rollouts], 0, 1) })).rejects.toBeInstanceOf(ConflictError);
    await expect(start({ actions: [...COLOURS], restore: state })).rejects.toMatchObject({ issues: [{ path: "restore.actions" }] });
  });

  it("writes checkpoints to checkpointDir as JSON that restores", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tracetrain-reference-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const backend = await start({ checkpointDir: dir });
    const saved = await backend.checkpoint();
    expect(saved).toEqual({ checkpoint_id: "policy-v0", policy_version: 0, location: join(dir, "policy-v0.json") });
    // The same version checkpointed again is the same checkpoint; a taken name holding another version is a conflict.
    expect(await backend.checkpoint()).toEqual(saved);
    await backend.train({ step: 0, policy_version: 0, samples: [oneSample(backend, recorded(await create(client(backend.baseUrl), { model: backend.model, messages: [{ role: "user", content: "hi" }], logprobs: true, return_token_ids: true })))] });
    await expect(backend.checkpoint({ name: "policy-v0" })).rejects.toBeInstanceOf(ConflictError);
    const restored = await start({ restore: JSON.parse(readFileSync(saved.location!, "utf8")) as ReturnType<ReferenceBackend["state"]> });
    expect((await restored.info()).policy_version).toBe(0);
  });

  it("learns the treasure-box task by GRPO over real HTTP", async () => {
    const started = performance.now();
    const backend = await start({ seed: 1 });
    const openai = client(backend.baseUrl);
    const rewards: number[] = [];
    const MAX_STEPS = 40;
    const TASKS = 8;
    const GROUP = 8;
    for (let step = 0; step < MAX_STEPS; step++) {
      const tasks = makeTasks(1000 + step, TASKS);
      const groups = await Promise.all(
        tasks.map((task, t) => Promise.all(Array.from({ length: GROUP }, (_, r) => runAgent(openai, backend.model, task, 1_000_000 * step + 1000 * t + 10 * r)))),
      );
      const mean = groups.flat().reduce((sum, r) => sum + r.reward, 0) / (TASKS * GROUP);
      rewards.push(mean);
      if (mean >= 0.9) break;
      const version = backend.policyVersion;
      const response = await backend.train({ step, policy_version: version, samples: grpoSamples(groups, step, version) });
      expect(response.policy_version).toBe(version + 1);
    }
    // Not a lucky batch: 64 tasks it never saw, one rollout each.
    const heldOut = await Promise.all(makeTasks(99, 64).map((task, t) => runAgent(openai, backend.model, task, 7_000_000 + 10 * t)));
    const heldOutMean = heldOut.reduce((sum, r) => sum + r.reward, 0) / heldOut.length;
    const seconds = (performance.now() - started) / 1000;
    process.stderr.write(`treasure boxes: mean reward by step ${rewards.map((r) => r.toFixed(2)).join(" ")}; ${rewards.length - 1} updates; held out ${heldOutMean.toFixed(2)}; ${seconds.toFixed(1)} s\n`);
    expect(rewards[0]).toBeLessThan(0.3);
    expect(rewards[rewards.length - 1]).toBeGreaterThanOrEqual(0.9);
    expect(heldOutMean).toBeGreaterThanOrEqual(0.85);
  }, 180_000);
});

describe("behind tracetrain's gateway", () => {
  it("is probed for token ids and logprobs, and train-mode calls are recorded with the exact ids and logprobs", async () => {
    const backend = await start();
    const store = new MemoryStore({ watchdogIntervalMs: false });
    const gateway = await startGateway({ store, upstreams: [{ name: "ref", url: backend.baseUrl }], port: 0, logger: quiet });
    cleanups.push(async () => {
      await gateway.close();
      await store.close();
    });
    expect(gateway.upstreams()[0]!.capabilities).toEqual({ tokenIds: true, logprobs: true });

    const started = await store.startRollout({ input: { box: 3 }, mode: "train" });
    const scope = { rolloutId: started.rollout.rolloutId, attemptId: started.attempt.attemptId };
    const params: VllmParams = {
      model: backend.model,
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "The treasure's colour is in box 3. Open it and tell me the colour." },
      ],
      tools: TOOLS,
      tool_choice: "required",
      seed: 42,
    };
    const viaGateway = await create(client(gateway.baseUrlFor(scope)), params);
    // The agent gets a plain OpenAI answer: what the gateway asked for on its own is taken out.
    expect(viaGateway).not.toHaveProperty("prompt_token_ids");
    expect(viaGateway.choices[0]!.logprobs).toBeNull();
    expect(viaGateway.choices[0]!.finish_reason).toBe("tool_calls");

    // The same seeded call, asked directly with the extensions: what the engine really sampled.
    const exact = await create(client(backend.baseUrl), { ...params, logprobs: true, return_token_ids: true });
    await gateway.flush();
    const spans = (await store.querySpans({ rolloutId: scope.rolloutId, attemptId: scope.attemptId, limit: 100 })).items.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm);
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.attributes[Attr.promptTokenIds]).toEqual(exact.prompt_token_ids);
    expect(span.attributes[Attr.responseTokenIds]).toEqual([exact.choices[0]!.token_ids]);
    expect(span.attributes[Attr.logprobs]).toEqual([exact.choices[0]!.logprobs!.content!.map((t) => t.logprob)]);
    expect(span.attributes[Attr.textOnly]).toBeUndefined();

    // A streamed call is recorded with the same exactness.
    const stream = await client(gateway.baseUrlFor(scope)).chat.completions.create({ ...params, seed: 43, stream: true });
    for await (const chunk of stream) expect(chunk).not.toHaveProperty("prompt_token_ids");
    const streamedExact = await create(client(backend.baseUrl), { ...params, seed: 43, logprobs: true, return_token_ids: true });
    await gateway.flush();
    const all = (await store.querySpans({ rolloutId: scope.rolloutId, attemptId: scope.attemptId, limit: 100 })).items.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm);
    const streamed = all.find((s) => s.spanId !== span.spanId)!;
    expect(streamed.attributes[Attr.promptTokenIds]).toEqual(streamedExact.prompt_token_ids);
    expect(streamed.attributes[Attr.responseTokenIds]).toEqual([streamedExact.choices[0]!.token_ids]);
    expect(streamed.attributes[Attr.logprobs]).toEqual([streamedExact.choices[0]!.logprobs!.content!.map((t) => t.logprob)]);
  });
});
