/**
 * Protocol `tracetrain-rl/1` compatibility, client side: a hand-written version-1-only backend
 * (plain `node:http`, `/v1` routes with version-1 shapes, 404 on `/v2`) driven through
 * `HttpTrainingBackend`, which must negotiate down, translate every route exactly, and refuse
 * what version 1 cannot carry.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConflictError, type Logger } from "../../src/types/index.js";
import { BackendUnsupportedError } from "../../src/algorithms/rl/backend-errors.js";
import { HttpTrainingBackend } from "../../src/algorithms/rl/http-backend.js";
import { PROTOCOL, type TrainRequest, type TrainSample } from "../../src/algorithms/rl/protocol.js";
import { PROTOCOL_V1, type TrainRequestV1, TrainRequestV1Schema } from "../../src/algorithms/rl/protocol-v1.js";

/** A deterministic per-token loss: any function of the token and its place works for the equivalence. */
const tokenLoss = (sampleIndex: number, position: number, token: number) => Math.sin(token * 0.37 + position * 1.3 + sampleIndex) + 1.5;

/** The /2 loss as protocol.ts defines it: Σ token_weight · ℓ over mask-1 tokens. */
function lossV2(samples: readonly TrainSample[]): number {
  let loss = 0;
  samples.forEach((s, i) => s.response_ids.forEach((token, t) => (loss += s.response_mask[t] === 1 ? s.token_weight * tokenLoss(i, t, token) : 0)));
  return loss;
}

/** The /1 loss with the recommended aggregation: Σ weight · (mean ℓ over mask-1 tokens) / Σ weight. */
function lossV1(samples: ReadonlyArray<TrainRequestV1["samples"][number]>, indexOf: (s: TrainRequestV1["samples"][number]) => number): number {
  let weighted = 0;
  let weights = 0;
  for (const s of samples) {
    const trained = s.response_ids.map((token, t) => (s.response_mask[t] === 1 ? tokenLoss(indexOf(s), t, token) : undefined)).filter((l) => l !== undefined);
    weighted += s.weight * (trained.reduce((a, b) => a + b, 0) / trained.length);
    weights += s.weight;
  }
  return weighted / weights;
}

function sample(rollout: string, mask: Array<0 | 1>, tokenWeight: number, extra: Partial<TrainSample> = {}): TrainSample {
  const response_ids = mask.map((_, i) => 100 + i * 7 + rollout.length);
  return {
    rollout_id: rollout,
    group_id: "g",
    prompt_ids: [1, 2],
    response_ids,
    response_mask: mask,
    logprobs: mask.map((m) => (m === 1 ? -0.5 : null)),
    advantage: rollout === "a" ? 1 : -1,
    reward: rollout === "a" ? 1 : 0,
    token_weight: tokenWeight,
    ...extra,
  };
}

/**
 * A step of two rollouts weighted as tracetrain weights them: rollout "a" merged into one sample of
 * 3 trained tokens, rollout "b" split over two samples of 1 and 4 trained tokens (5 in all), plus a
 * sample of "b" with no trained token. Each token of a rollout weighs 1 / (its tokens × 2 rollouts).
 */
const step: TrainSample[] = [
  sample("a", [1, 1, 0, 1], 1 / (3 * 2)),
  sample("b", [1, 0], 1 / (5 * 2)),
  sample("b", [0, 1, 1, 1, 1], 1 / (5 * 2), { sampling: { temperature: 0.7 } }),
  sample("b", [0, 0], 1 / (5 * 2)),
];

describe("a tracetrain-rl/1-only backend through HttpTrainingBackend", () => {
  let server: Server;
  let url: string;
  const hits: string[] = [];
  const received: unknown[] = [];
  let version = 4;
  let lastStep = -1;

  const v1Info = () => ({ protocol: PROTOCOL_V1, model: "old-model", policy_version: version, capabilities: { token_ids: true, logprobs: true, checkpoint: true }, name: "a /1 trainer" });
  const reply = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };

  function answer(request: IncomingMessage, response: ServerResponse, body: string): void {
    const route = `${request.method} ${request.url}`;
    if (route === "GET /v1/info") return reply(response, 200, v1Info());
    if (route === "GET /v1/endpoints") return reply(response, 200, { policy_version: version, endpoints: [{ name: "vllm", base_url: "http://127.0.0.1:9/v1", model: "old-model", policy_version: version }] });
    if (route === "POST /v1/train") {
      const json = JSON.parse(body) as unknown;
      received.push(json);
      const parsed = TrainRequestV1Schema.safeParse(json);
      if (!parsed.success) return reply(response, 400, { error: { code: "validation", message: parsed.error.message } });
      if (parsed.data.step <= lastStep) return reply(response, 409, { error: { code: "conflict", message: `step ${parsed.data.step} was already applied` } });
      lastStep = parsed.data.step;
      version++;
      return reply(response, 200, { policy_version: version, metrics: { loss: 0.5 } });
    }
    if (route === "POST /v1/checkpoint") return reply(response, 200, { checkpoint_id: "ck", policy_version: version });
    response.writeHead(404, { "content-type": "text/plain" }).end("Not Found");
  }

  beforeAll(async () => {
    server = createServer((request, response) => {
      hits.push(`${request.method} ${request.url}`);
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (body += chunk));
      request.on("end", () => answer(request, response, body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    hits.length = 0;
    received.length = 0;
  });

  function memoryLogger(): Logger & { warnings: string[] } {
    const warnings: string[] = [];
    const ignore = () => undefined;
    return { warnings, debug: ignore, info: ignore, warn: (message: string) => void warnings.push(message), error: ignore };
  }

  it("negotiates down to /1 and answers info in /2 terms with the new capabilities off", async () => {
    const client = new HttpTrainingBackend(url, { retryDelaysMs: [], logger: memoryLogger() });
    expect(client.protocol).toBeUndefined();
    const info = await client.info();
    expect(hits).toEqual(["GET /v2/info", "GET /v1/info"]);
    expect(client.protocol).toBe(PROTOCOL_V1);
    expect(info).toEqual({
      protocol: PROTOCOL,
      model: "old-model",
      policy_version: version,
      capabilities: { token_ids: true, logprobs: true, logprobs_mode: "raw", checkpoint: true, restore: false, supervised: false, supervised_chat: false, chunked_train: false, serves_while_training: false },
      hyperparameters: [],
      name: "a /1 trainer",
    });
    // Negotiated once: later calls go straight to /v1.
    await client.info();
    expect((await client.endpoints()).endpoints[0]?.model).toBe("old-model");
    expect(await client.checkpoint({ name: "x" })).toEqual({ checkpoint_id: "ck", policy_version: version });
    expect(hits).toEqual(["GET /v2/info", "GET /v1/info", "GET /v1/info", "GET /v1/endpoints", "POST /v1/checkpoint"]);
  });

  it("sends /1 weights that give exactly the /2 loss, leaving out the sample with no trained token", async () => {
    const logger = memoryLogger();
    const client = new HttpTrainingBackend(url, { retryDelaysMs: [], logger });
    const request: TrainRequest = { step: 10, policy_version: version, samples: step };
    const answer = await client.train(request);
    expect(answer).toEqual({ policy_version: version, metrics: { loss: 0.5 }, pending: false });
    expect(hits).toEqual(["GET /v2/info", "GET /v1/info", "POST /v1/train"]);

    const sent = TrainRequestV1Schema.parse(received[0]);
    // Exactly the /1 shape: no /2 field leaks through.
    for (const s of (received[0] as { samples: Array<Record<string, unknown>> }).samples) {
      expect(s).not.toHaveProperty("token_weight");
      expect(s).not.toHaveProperty("sampling");
    }
    // weight = token_weight × trained tokens: 3/6 for "a", 1/10 and 4/10 for the two parts of "b".
    [3 / 6, 1 / 10, 4 / 10].forEach((weight, i) => expect(sent.samples[i]?.weight).toBeCloseTo(weight, 15));
    expect(sent.samples).toHaveLength(3);
    expect(sent.samples.map((s) => s.rollout_id)).toEqual(["a", "b", "b"]);
    const index = new Map(sent.samples.map((s, i) => [s, i] as const));
    expect(lossV1(sent.samples, (s) => index.get(s)!)).toBeCloseTo(lossV2(step.slice(0, 3)), 12);
    expect(lossV2(step)).toBeCloseTo(lossV2(step.slice(0, 3)), 15);

    // The temperature-0.7 sample cannot say so in /1: one warning per client, however many steps.
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain("cannot carry per-sample sampling settings");
    await client.train({ ...request, step: 11 });
    expect(logger.warnings).toHaveLength(1);
  });

  it("refuses hyperparameters, chunks, restore and supervised steps with typed errors, sending nothing", async () => {
    const client = new HttpTrainingBackend(url, { retryDelaysMs: [], logger: memoryLogger() });
    await client.info();
    hits.length = 0;
    const request: TrainRequest = { step: 20, policy_version: version, samples: step };

    const hyper = await client.train({ ...request, hyperparameters: { learning_rate: 1e-6 } }).catch((e: unknown) => e);
    expect(hyper).toBeInstanceOf(BackendUnsupportedError);
    expect((hyper as BackendUnsupportedError).feature).toBe("hyperparameters");
    expect((hyper as BackendUnsupportedError).code).toBe("not_supported");
    expect((hyper as Error).message).toBe("POST /v1/train: the backend speaks tracetrain-rl/1, which has no per-step hyperparameters (got learning_rate)");

    const chunk = await client.train({ ...request, chunk: { index: 0, count: 2 } }).catch((e: unknown) => e);
    expect(chunk).toBeInstanceOf(BackendUnsupportedError);
    expect((chunk as BackendUnsupportedError).feature).toBe("chunked_train");
    expect((chunk as Error).message).toContain("speaks tracetrain-rl/1, which has no chunked steps");

    const restore = await client.restore({ checkpoint_id: "ck" }).catch((e: unknown) => e);
    expect(restore).toBeInstanceOf(BackendUnsupportedError);
    expect((restore as BackendUnsupportedError).feature).toBe("restore");
    expect((restore as Error).message).toBe(`restore: the backend at ${url} speaks tracetrain-rl/1, which has no restore route`);

    const supervise = await client.supervise({ step: 20, policy_version: version, samples: [{ rollout_id: "a", prompt_ids: [1], response_ids: [2], loss_mask: [1], token_weight: 1 }] }).catch((e: unknown) => e);
    expect(supervise).toBeInstanceOf(BackendUnsupportedError);
    expect((supervise as BackendUnsupportedError).feature).toBe("supervised");
    expect((supervise as Error).message).toBe(`supervise: the backend at ${url} speaks tracetrain-rl/1, which has no supervised steps`);
    expect(hits).toEqual([]);
  });

  it("says in its errors that /1 was spoken", async () => {
    const client = new HttpTrainingBackend(url, { retryDelaysMs: [], logger: memoryLogger() });
    await client.train({ step: 30, policy_version: version, samples: step.slice(0, 1) });
    const again = await client.train({ step: 30, policy_version: version, samples: step.slice(0, 1) }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ConflictError);
    expect((again as Error).message).toBe("POST /v1/train → HTTP 409: step 30 was already applied (conflict)");
  });
});
