/**
 * What protocol `tracetrain-rl/2` added, over loopback HTTP through `serveTrainingBackend` and
 * `HttpTrainingBackend`: restore, chunked steps, per-step hyperparameters, the 501 for what a
 * backend cannot do — and a version-1 client (raw fetch) still served by the same server.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConflictError, ValidationError } from "../../src/types/index.js";
import { BackendAbortedError, BackendUnsupportedError } from "../../src/algorithms/rl/backend-errors.js";
import { type TrainingBackendServer, serveTrainingBackend } from "../../src/algorithms/rl/backend-server.js";
import { HttpTrainingBackend } from "../../src/algorithms/rl/http-backend.js";
import {
  type BackendInfo,
  type CheckpointResponse,
  type EndpointsResponse,
  PROTOCOL,
  type RestoreRequest,
  type RestoreResponse,
  type SuperviseRequest,
  type TrainRequest,
  type TrainResponse,
  type TrainSample,
} from "../../src/algorithms/rl/protocol.js";
import { PROTOCOL_V1 } from "../../src/algorithms/rl/protocol-v1.js";
import type { TrainingBackend } from "../../src/algorithms/rl/training-backend.js";

function sample(rollout: string, mask: Array<0 | 1>, tokenWeight: number): TrainSample {
  return {
    rollout_id: rollout,
    group_id: "g",
    prompt_ids: [1, 2, 3],
    response_ids: mask.map((_, i) => 10 + i),
    response_mask: mask,
    logprobs: mask.map((m) => (m === 1 ? -1 : null)),
    advantage: 0.5,
    reward: 1,
    token_weight: tokenWeight,
    sampling: { temperature: 0.7, top_p: 0.9 },
  };
}

/**
 * A backend with every version-2 capability: it holds chunks until the last, takes two
 * hyperparameters, and restores checkpoints (weights are a number: the version).
 */
class FullBackend implements TrainingBackend {
  version = 0;
  lastStep: number | null = null;
  readonly checkpoints = new Map<string, number>();
  readonly received: TrainRequest[] = [];
  readonly supervised: SuperviseRequest[] = [];
  /** While set, a supervised step waits for it (or for its abort signal). */
  gate: Promise<void> | undefined;
  /** Supervised steps that reached the gate. */
  waiting = 0;
  private held: TrainSample[] = [];

  async info(): Promise<BackendInfo> {
    return {
      protocol: PROTOCOL,
      model: `policy-v${this.version}`,
      policy_version: this.version,
      capabilities: { token_ids: true, logprobs: true, logprobs_mode: "processed", checkpoint: true, restore: true, supervised: true, supervised_chat: true, chunked_train: true, serves_while_training: true },
      hyperparameters: ["learning_rate", "entropy_coef"],
    };
  }

  async endpoints(): Promise<EndpointsResponse> {
    // A LoRA adapter per version: the served model name changes with every update.
    return { policy_version: this.version, endpoints: [{ name: "vllm", base_url: "http://127.0.0.1:9/v1", model: `policy-v${this.version}`, policy_version: this.version }] };
  }

  async train(request: TrainRequest): Promise<TrainResponse> {
    if (this.lastStep !== null && request.step <= this.lastStep) throw new ConflictError(`step ${request.step} was already applied`);
    this.received.push(request);
    this.held.push(...request.samples);
    if (request.chunk !== undefined && request.chunk.index < request.chunk.count - 1) return { policy_version: this.version, metrics: { held: this.held.length }, pending: true };
    const weight = this.held.reduce((sum, s) => sum + s.token_weight * s.response_mask.reduce<number>((a, m) => a + m, 0), 0);
    this.held = [];
    this.version++;
    this.lastStep = request.step;
    return { policy_version: this.version, metrics: { token_weight_sum: weight }, endpoints: (await this.endpoints()).endpoints };
  }

  /** Shares `lastStep` with train, as the protocol wants: one step counter for both routes. */
  async supervise(request: SuperviseRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    if (this.lastStep !== null && request.step <= this.lastStep) throw new ConflictError(`step ${request.step} was already applied`);
    if (this.gate !== undefined) {
      this.waiting++;
      const signal = options.signal;
      await Promise.race([this.gate, new Promise((_, reject) => signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true }))]);
    }
    this.supervised.push(request);
    if (request.chunk !== undefined && request.chunk.index < request.chunk.count - 1) return { policy_version: this.version, metrics: {}, pending: true };
    this.version++;
    this.lastStep = request.step;
    return { policy_version: this.version, metrics: { loss: 1.25 } };
  }

  async checkpoint(): Promise<CheckpointResponse> {
    const id = `ck-${this.version}`;
    this.checkpoints.set(id, this.version);
    return { checkpoint_id: id, policy_version: this.version };
  }

  async restore(request: RestoreRequest): Promise<RestoreResponse> {
    const version = this.checkpoints.get(request.checkpoint_id);
    if (version === undefined) throw new ValidationError("restore request", [{ path: "checkpoint_id", message: `no checkpoint ${request.checkpoint_id}` }]);
    this.version = version;
    return { policy_version: version, last_step: this.lastStep, endpoints: (await this.endpoints()).endpoints };
  }

  async close(): Promise<void> {}
}

/** A version-2 backend with none of the optional capabilities (and no restore method). */
class PlainBackend implements TrainingBackend {
  readonly received: TrainRequest[] = [];
  async info(): Promise<BackendInfo> {
    return { protocol: PROTOCOL, model: "plain", policy_version: 0, capabilities: { token_ids: true, logprobs: true, checkpoint: false } };
  }
  async endpoints(): Promise<EndpointsResponse> {
    return { policy_version: 0, endpoints: [{ name: "e", base_url: "http://127.0.0.1:9/v1", model: "plain", policy_version: 0 }] };
  }
  async train(request: TrainRequest): Promise<TrainResponse> {
    this.received.push(request);
    return { policy_version: 0, metrics: {} };
  }
  async checkpoint(): Promise<CheckpointResponse> {
    throw new Error("no checkpoints here");
  }
  async close(): Promise<void> {}
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, unknown> } } }> {
  const response = await fetch(new URL(path, url), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error("expected the call to fail");
  return outcome;
}

describe("tracetrain-rl/2 over HTTP: a backend with every capability", () => {
  let backend: FullBackend;
  let server: TrainingBackendServer;
  let client: HttpTrainingBackend;

  beforeAll(async () => {
    backend = new FullBackend();
    server = await serveTrainingBackend(backend);
    client = new HttpTrainingBackend(server.url, { retryDelaysMs: [] });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it("negotiates /2 and passes the new sample and info fields through unchanged", async () => {
    const info = await client.info();
    expect(client.protocol).toBe(PROTOCOL);
    expect(info.capabilities).toEqual({ token_ids: true, logprobs: true, logprobs_mode: "processed", checkpoint: true, restore: true, supervised: true, supervised_chat: true, chunked_train: true, serves_while_training: true });
    expect(info.hyperparameters).toEqual(["learning_rate", "entropy_coef"]);
    const request: TrainRequest = { step: 1, policy_version: 0, samples: [sample("a", [1, 1, 0], 0.25), sample("b", [0, 1], 0.5)], hyperparameters: { learning_rate: 1e-6, entropy_coef: 0.01 } };
    const answer = await client.train(request);
    expect(answer.policy_version).toBe(1);
    expect(answer.endpoints?.[0]?.model).toBe("policy-v1");
    expect(backend.received.at(-1)).toEqual(request);
  });

  it("passes a chunked step through: pending until the last chunk, which applies the update once", async () => {
    const before = backend.version;
    const parts = [[sample("a", [1, 1], 0.125), sample("a", [1, 0, 1], 0.125)], [sample("b", [1], 0.25)], [sample("c", [1, 1], 0.125)]];
    const answers: TrainResponse[] = [];
    for (const [index, samples] of parts.entries()) {
      answers.push(await client.train({ step: 2, policy_version: before, samples, chunk: { index, count: parts.length }, hyperparameters: { learning_rate: 2e-6 } }));
    }
    expect(answers.map((a) => [a.pending, a.policy_version])).toEqual([
      [true, before],
      [true, before],
      [false, before + 1],
    ]);
    // The token weights are over the whole step: they add up to 1 across the chunks.
    expect(answers[2]?.metrics.token_weight_sum).toBeCloseTo(1, 12);
    expect(backend.received.slice(-3).map((r) => r.chunk)).toEqual([
      { index: 0, count: 3 },
      { index: 1, count: 3 },
      { index: 2, count: 3 },
    ]);
  });

  it("refuses a hyperparameter the backend does not list, naming it and the accepted ones", async () => {
    const received = backend.received.length;
    const error = await failure(client.train({ step: 3, policy_version: 0, samples: [sample("a", [1], 1)], hyperparameters: { learning_rate: 1e-6, momentum: 0.9 } }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([{ path: "hyperparameters.momentum", message: "not a hyperparameter of this backend: this backend accepts learning_rate, entropy_coef" }]);
    // The server refuses it too, for clients that do not check.
    const raw = await post(server.url, "/v2/train", { step: 3, policy_version: 0, samples: [sample("a", [1], 1)], hyperparameters: { momentum: 0.9 } });
    expect(raw.status).toBe(400);
    expect(raw.json.error?.details).toEqual({ issues: [{ path: "hyperparameters.momentum", message: "not a hyperparameter of this backend: this backend accepts learning_rate, entropy_coef" }] });
    expect(backend.received.length).toBe(received);
  });

  it("restores a checkpoint: the version goes back, the step record does not", async () => {
    const saved = await client.checkpoint();
    const savedVersion = backend.version;
    await client.train({ step: 10, policy_version: savedVersion, samples: [sample("a", [1], 1)] });
    expect(backend.version).toBe(savedVersion + 1);
    const restored = await client.restore({ checkpoint_id: saved.checkpoint_id });
    expect(restored).toEqual({ policy_version: savedVersion, last_step: 10, endpoints: [{ name: "vllm", base_url: "http://127.0.0.1:9/v1", model: `policy-v${savedVersion}`, policy_version: savedVersion }] });
    expect((await client.endpoints()).endpoints[0]?.model).toBe(`policy-v${savedVersion}`);
    // A restore never lowers the last step, so step 10 is still refused.
    expect(await failure(client.train({ step: 10, policy_version: savedVersion, samples: [sample("a", [1], 1)] }))).toBeInstanceOf(ConflictError);
    const unknown = await failure(client.restore({ checkpoint_id: "nope" }));
    expect(unknown).toBeInstanceOf(ValidationError);
    expect((unknown as ValidationError).issues[0]?.path).toBe("checkpoint_id");
  });
  it("passes a supervised step through unchanged — token and chat samples, in chunks — sharing the step counter with train", async () => {
    const start = backend.version;
    const step = (backend.lastStep ?? -1) + 1;
    const tokens = { rollout_id: "best", prompt_ids: [1, 2], response_ids: [3, 4, 5], loss_mask: [1, 0, 1] as Array<0 | 1>, token_weight: 0.25, reward: 1 };
    const chat = {
      rollout_id: "teacher",
      messages: [
        { role: "user" as const, content: "Open box 2." },
        { role: "assistant" as const, content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "open_box", arguments: '{"box":2}' } }] },
        { role: "tool" as const, tool_call_id: "call_1", content: "red" },
        { role: "assistant" as const, content: "red" },
      ],
      tools: [{ type: "function", function: { name: "open_box", parameters: { type: "object", properties: { box: { type: "integer" } } } } }],
      weight: 0.5,
    };
    const first: SuperviseRequest = { step, policy_version: start, samples: [tokens], hyperparameters: { learning_rate: 0.1 }, chunk: { index: 0, count: 2 } };
    const last: SuperviseRequest = { step, policy_version: start, chat: [chat], chunk: { index: 1, count: 2 } };
    expect(await client.supervise(first)).toEqual({ policy_version: start, metrics: {}, pending: true });
    expect(await client.supervise(last)).toEqual({ policy_version: start + 1, metrics: { loss: 1.25 }, pending: false });
    expect(backend.supervised.slice(-2)).toEqual([first, last]);
    // One counter for both routes: the step is taken for train too, and for supervise again.
    expect(await failure(client.train({ step, policy_version: start + 1, samples: [sample("a", [1], 1)] }))).toBeInstanceOf(ConflictError);
    expect(await failure(client.supervise({ ...first, chunk: undefined }))).toBeInstanceOf(ConflictError);
  });

  it("checks a supervised step before sending it, and aborts one in flight", async () => {
    const sent = backend.supervised.length;
    const bad = await failure(client.supervise({ step: 100, policy_version: 0, samples: [{ rollout_id: "r", prompt_ids: [1], response_ids: [2, 3], loss_mask: [1], token_weight: 1 }] }));
    expect((bad as ValidationError).issues).toEqual([{ path: "samples[0].loss_mask", message: "loss_mask must have one entry per response token" }]);
    const hyper = await failure(client.supervise({ step: 100, policy_version: 0, samples: [{ rollout_id: "r", prompt_ids: [1], response_ids: [2], loss_mask: [1], token_weight: 1 }], hyperparameters: { momentum: 0.9 } }));
    expect((hyper as ValidationError).issues[0]?.path).toBe("hyperparameters.momentum");
    expect(backend.supervised).toHaveLength(sent);

    let open!: () => void;
    backend.gate = new Promise((resolve) => (open = resolve));
    const abort = new AbortController();
    const pending = client.supervise({ step: 100, policy_version: backend.version, samples: [{ rollout_id: "r", prompt_ids: [1], response_ids: [2], loss_mask: [1], token_weight: 1 }] }, { signal: abort.signal });
    await vi.waitFor(() => expect(backend.waiting).toBe(1));
    abort.abort();
    const aborted = await failure(pending);
    expect(aborted).toBeInstanceOf(BackendAbortedError);
    expect(aborted.message).toContain("POST /v2/supervise was aborted by the caller; the update may or may not have been applied");
    open();
    backend.gate = undefined;
  });
});

describe("tracetrain-rl/2 over HTTP: a backend without the optional capabilities", () => {
  let backend: PlainBackend;
  let server: TrainingBackendServer;

  beforeAll(async () => {
    backend = new PlainBackend();
    server = await serveTrainingBackend(backend);
  });
  afterAll(async () => {
    await server.close();
  });

  it("fills the capability defaults in its info", async () => {
    const response = await fetch(new URL("/v2/info", server.url));
    expect(await response.json()).toEqual({
      protocol: PROTOCOL,
      model: "plain",
      policy_version: 0,
      capabilities: { token_ids: true, logprobs: true, logprobs_mode: "raw", checkpoint: false, restore: false, supervised: false, supervised_chat: false, chunked_train: false, serves_while_training: false },
      hyperparameters: [],
    });
  });

  it("answers restore and a chunk with 501 not_supported; the client refuses them before sending", async () => {
    const restore = await post(server.url, "/v2/restore", { checkpoint_id: "x" });
    expect(restore.status).toBe(501);
    expect(restore.json.error).toEqual({ code: "not_supported", message: "this backend cannot restore checkpoints (capabilities.restore is false)", details: { feature: "restore" } });
    const chunk = await post(server.url, "/v2/train", { step: 1, policy_version: 0, samples: [sample("a", [1], 1)], chunk: { index: 0, count: 2 } });
    expect(chunk.status).toBe(501);
    expect(chunk.json.error?.code).toBe("not_supported");
    expect(chunk.json.error?.details).toEqual({ feature: "chunked_train" });
    expect(backend.received).toEqual([]);

    const client = new HttpTrainingBackend(server.url, { retryDelaysMs: [] });
    const refused = await failure(client.restore({ checkpoint_id: "x" }));
    expect(refused).toBeInstanceOf(BackendUnsupportedError);
    expect(refused.message).toBe(`POST /v2/restore: the backend at ${server.url} cannot restore checkpoints (info.capabilities.restore is false)`);
    const chunked = await failure(client.train({ step: 1, policy_version: 0, samples: [sample("a", [1], 1)], chunk: { index: 0, count: 2 } }));
    expect(chunked).toBeInstanceOf(BackendUnsupportedError);
    expect((chunked as BackendUnsupportedError).feature).toBe("chunked_train");
    const hyper = await failure(client.train({ step: 1, policy_version: 0, samples: [sample("a", [1], 1)], hyperparameters: { learning_rate: 1 } }));
    expect((hyper as ValidationError).issues[0]?.message).toBe("not a hyperparameter of this backend: this backend accepts none (info.hyperparameters is empty)");
    expect(backend.received).toEqual([]);
  });

  it("answers a supervised step with 501 naming the capability; the client refuses it before sending", async () => {
    const tokens = { rollout_id: "r", prompt_ids: [1], response_ids: [2], loss_mask: [1], token_weight: 1 };
    const raw = await post(server.url, "/v2/supervise", { step: 1, policy_version: 0, samples: [tokens] });
    expect(raw.status).toBe(501);
    expect(raw.json.error).toEqual({ code: "not_supported", message: "this backend takes no supervised steps (it has no supervise method)", details: { feature: "supervised" } });
    const chat = [{ rollout_id: "r", messages: [{ role: "user", content: "hi" }], weight: 1 }];
    expect((await post(server.url, "/v2/supervise", { step: 1, policy_version: 0, chat })).json.error?.details).toEqual({ feature: "supervised_chat" });

    const client = new HttpTrainingBackend(server.url, { retryDelaysMs: [] });
    const refused = await failure(client.supervise({ step: 1, policy_version: 0, samples: [{ ...tokens, loss_mask: [1] }] }));
    expect(refused).toBeInstanceOf(BackendUnsupportedError);
    expect((refused as BackendUnsupportedError).feature).toBe("supervised");
    expect(refused.message).toBe(`POST /v2/supervise: the backend at ${server.url} takes no supervised steps on token samples (info.capabilities.supervised is false)`);
    const refusedChat = await failure(client.supervise({ step: 1, policy_version: 0, chat: [{ rollout_id: "r", messages: [{ role: "user", content: "hi" }], weight: 1 }] }));
    expect((refusedChat as BackendUnsupportedError).feature).toBe("supervised_chat");
    expect(backend.received).toEqual([]);
  });

  it("a backend claiming supervised steps without a supervise method is served as one without them", async () => {
    const claiming = new PlainBackend();
    claiming.info = async () => ({ protocol: PROTOCOL, model: "plain", policy_version: 0, capabilities: { token_ids: true, logprobs: true, checkpoint: false, supervised: true, supervised_chat: true } });
    const claimingServer = await serveTrainingBackend(claiming);
    try {
      const client = new HttpTrainingBackend(claimingServer.url, { retryDelaysMs: [] });
      expect((await client.info()).capabilities).toMatchObject({ supervised: false, supervised_chat: false });
      const raw = await post(claimingServer.url, "/v2/supervise", { step: 1, policy_version: 0, samples: [{ rollout_id: "r", prompt_ids: [1], response_ids: [2], loss_mask: [1], token_weight: 1 }] });
      expect(raw.status).toBe(501);
      expect(raw.json.error?.details).toEqual({ feature: "supervised" });
    } finally {
      await claimingServer.close();
    }
  });

  it("a backend's own BackendUnsupportedError is a 501 that reaches the client typed, with its feature", async () => {
    const partial = new FullBackend();
    partial.restore = async () => {
      throw new BackendUnsupportedError("restore", "restore", "checkpoint ck-0 was saved without optimizer state and cannot be restored");
    };
    const partialServer = await serveTrainingBackend(partial);
    try {
      const client = new HttpTrainingBackend(partialServer.url, { retryDelaysMs: [] });
      const error = await failure(client.restore({ checkpoint_id: "ck-0" }));
      expect(error).toBeInstanceOf(BackendUnsupportedError);
      expect((error as BackendUnsupportedError).feature).toBe("restore");
      expect((error as BackendUnsupportedError).status).toBe(501);
      expect(error.message).toBe("POST /v2/restore → HTTP 501: the backend cannot do this: checkpoint ck-0 was saved without optimizer state and cannot be restored (not_supported)");
    } finally {
      await partialServer.close();
    }
  });
});

describe("a tracetrain-rl/1 client against serveTrainingBackend", () => {
  let backend: FullBackend;
  let server: TrainingBackendServer;

  beforeAll(async () => {
    backend = new FullBackend();
    server = await serveTrainingBackend(backend);
  });
  afterAll(async () => {
    await server.close();
  });

  it("gets /1 info and endpoints", async () => {
    const info = await (await fetch(new URL("/v1/info", server.url))).json();
    expect(info).toEqual({ protocol: PROTOCOL_V1, model: "policy-v0", policy_version: 0, capabilities: { token_ids: true, logprobs: true, checkpoint: true } });
    const endpoints = await (await fetch(new URL("/v1/endpoints", server.url))).json();
    expect(endpoints).toEqual({ policy_version: 0, endpoints: [{ name: "vllm", base_url: "http://127.0.0.1:9/v1", model: "policy-v0", policy_version: 0 }] });
  });

  it("trains with /1 weights turned into token weights that keep its loss, and gets a /1 answer", async () => {
    const v1Sample = (rollout: string, mask: Array<0 | 1>, weight: number) => {
      const { token_weight: _tw, sampling: _s, ...rest } = sample(rollout, mask, 1);
      return { ...rest, weight };
    };
    // Rollout "a" in one sample (weight 1), rollout "b" split in two (weight 1/2 each), and a sample without trained tokens.
    const samples = [v1Sample("a", [1, 1, 0, 1], 1), v1Sample("b", [1, 0], 0.5), v1Sample("b", [0, 1, 1, 1, 1], 0.5), v1Sample("b", [0, 0], 0.5)];
    const answer = await post(server.url, "/v1/train", { step: 1, policy_version: 0, samples });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ policy_version: 1, metrics: { token_weight_sum: expect.closeTo(1, 12) }, endpoints: [{ name: "vllm", base_url: "http://127.0.0.1:9/v1", model: "policy-v1", policy_version: 1 }] });
    expect(answer.json).not.toHaveProperty("pending");

    const got = backend.received.at(-1)!;
    // token_weight = weight / (trained tokens × Σ weight), Σ weight = 2 over the samples that train.
    expect(got.samples.map((s) => s.token_weight)).toEqual([1 / (3 * 2), 0.5 / (1 * 2), 0.5 / (4 * 2)]);
    // Its /2 loss Σ token_weight·ℓ equals the /1 per-sample-mean loss, for any per-token loss ℓ.
    const loss = (t: number) => Math.cos(t) + 2;
    const v2 = got.samples.reduce((sum, s) => sum + s.response_ids.reduce((acc, t, i) => acc + (s.response_mask[i] === 1 ? s.token_weight * loss(t) : 0), 0), 0);
    const trained = samples.filter((s) => s.response_mask.includes(1));
    const mean = (s: (typeof samples)[number]) => {
      const l = s.response_ids.filter((_, i) => s.response_mask[i] === 1).map(loss);
      return l.reduce((a, b) => a + b, 0) / l.length;
    };
    const v1 = trained.reduce((sum, s) => sum + s.weight * mean(s), 0) / trained.reduce((sum, s) => sum + s.weight, 0);
    expect(v2).toBeCloseTo(v1, 12);
  });

  it("validates /1 bodies by field and keeps the step contract; /v1 has no restore", async () => {
    const bad = await post(server.url, "/v1/train", { step: 2, policy_version: 1, samples: [{ ...sample("a", [1], 1), weight: 0 }] });
    expect(bad.status).toBe(400);
    expect((bad.json.error?.details as { issues: Array<{ path: string }> }).issues[0]?.path).toBe("samples[0].weight");
    const none = await post(server.url, "/v1/train", { step: 2, policy_version: 1, samples: [{ ...sample("a", [0], 1), weight: 1 }] });
    expect(none.status).toBe(400);
    expect(none.json.error?.message).toContain("no sample has a mask-1 token");
    const again = await post(server.url, "/v1/train", { step: 1, policy_version: 1, samples: [{ ...sample("a", [1], 1), weight: 1 }] });
    expect(again.status).toBe(409);
    const checkpoint = await post(server.url, "/v1/checkpoint", {});
    expect(checkpoint).toEqual({ status: 200, json: { checkpoint_id: "ck-1", policy_version: 1 } });
    expect((await post(server.url, "/v1/restore", { checkpoint_id: "ck-1" })).status).toBe(404);
  });
});
