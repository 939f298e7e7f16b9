/**
 * The training-backend protocol end to end over loopback HTTP: a fake in-memory backend served
 * with `serveTrainingBackend` and driven with `HttpTrainingBackend`, then a hostile upstream (a raw
 * `node:http` server) answering everything the protocol forbids.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError, type Logger, ValidationError } from "../../src/types/index.js";
import {
  BackendAbortedError,
  BackendAuthError,
  BackendError,
  BackendResponseError,
  BackendTimeoutError,
  BackendUnavailableError,
} from "../../src/algorithms/rl/backend-errors.js";
import { type TrainingBackendServer, serveTrainingBackend } from "../../src/algorithms/rl/backend-server.js";
import { HttpTrainingBackend } from "../../src/algorithms/rl/http-backend.js";
import {
  type BackendInfo,
  type CheckpointRequest,
  type CheckpointResponse,
  type EndpointsResponse,
  PROTOCOL,
  type TrainRequest,
  type TrainResponse,
  type TrainSample,
} from "../../src/algorithms/rl/protocol.js";
import type { TrainingBackend } from "../../src/algorithms/rl/training-backend.js";
import { namesOnly, rejectedWith, validationError } from "../support/validation.js";

function sample(overrides: Partial<TrainSample> = {}): TrainSample {
  return {
    rollout_id: "ro-1",
    group_id: "task-1",
    prompt_ids: [1, 2, 3],
    response_ids: [4, 5, 6],
    response_mask: [1, 0, 1],
    logprobs: [-0.5, null, -0.25],
    advantage: 0.5,
    reward: 1,
    token_weight: 1,
    policy_version: 0,
    ...overrides,
  };
}

const trainRequest = (step: number, samples: TrainSample[] = [sample()]): TrainRequest => ({ step, policy_version: 0, samples });

/** A backend in memory: counts calls, refuses applied steps, and can be told to misbehave. */
class FakeBackend implements TrainingBackend {
  version = 0;
  readonly applied = new Map<number, TrainRequest>();
  readonly calls = { info: 0, endpoints: 0, train: 0, checkpoint: 0 };
  /** Train waits this long (or until aborted). */
  trainDelayMs = 0;
  sawAbort = false;
  /** The next train throws this instead of training. */
  failNext: unknown;
  /** info() answers this instead (a buggy backend). */
  brokenInfo: unknown;

  async info(): Promise<BackendInfo> {
    this.calls.info++;
    if (this.brokenInfo !== undefined) return this.brokenInfo as BackendInfo;
    return { protocol: PROTOCOL, model: "fake-model", policy_version: this.version, capabilities: { token_ids: true, logprobs: true, checkpoint: true }, name: "fake" };
  }

  async endpoints(): Promise<EndpointsResponse> {
    this.calls.endpoints++;
    return { policy_version: this.version, endpoints: [{ name: "main", base_url: "http://127.0.0.1:9/v1", model: "fake-model", policy_version: this.version }] };
  }

  async train(request: TrainRequest, options: { signal?: AbortSignal } = {}): Promise<TrainResponse> {
    this.calls.train++;
    if (this.failNext !== undefined) {
      const failure = this.failNext;
      this.failNext = undefined;
      throw failure;
    }
    if (this.applied.has(request.step)) throw new ConflictError(`step ${request.step} was already applied`);
    if (this.trainDelayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.trainDelayMs);
        options.signal?.addEventListener("abort", () => {
          this.sawAbort = true;
          clearTimeout(timer);
          resolve();
        });
      });
      if (options.signal?.aborted) throw new Error("training interrupted");
    }
    this.applied.set(request.step, request);
    this.version++;
    return { policy_version: this.version, metrics: { loss: 0.25, samples: request.samples.length } };
  }

  async checkpoint(request: CheckpointRequest = {}): Promise<CheckpointResponse> {
    this.calls.checkpoint++;
    return { checkpoint_id: request.name ?? `ckpt-${this.version}`, policy_version: this.version, location: "/tmp/nowhere" };
  }

  async close(): Promise<void> {}
}

/** A logger that keeps what it is told, so tests can see what the server logged. */
function memoryLogger(): Logger & { lines: Array<{ level: string; message: string; context?: Record<string, unknown> | undefined }> } {
  const lines: Array<{ level: string; message: string; context?: Record<string, unknown> | undefined }> = [];
  const log = (level: string) => (message: string, context?: Record<string, unknown>) => void lines.push({ level, message, context });
  return { lines, debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** One raw exchange, for bodies the client would never send. */
function raw(url: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: { error: { code: string; message: string; details?: { issues?: Array<{ path: string; message: string }> } } }; headers: IncomingMessage["headers"] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { method, headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text), headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

describe("protocol over HTTP: serveTrainingBackend ↔ HttpTrainingBackend", () => {
  let fake: FakeBackend;
  let server: TrainingBackendServer;
  let client: HttpTrainingBackend;
  const logger = memoryLogger();

  beforeAll(async () => {
    fake = new FakeBackend();
    server = await serveTrainingBackend(fake, { bodyLimitBytes: 64 * 1024, logger });
    client = new HttpTrainingBackend(server.url, { retryDelaysMs: [] });
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it("round-trips every route", async () => {
    const info = await client.info();
    // Capabilities the backend left out come back with their defaults (the server fills them in).
    expect(info).toEqual({
      protocol: PROTOCOL,
      model: "fake-model",
      policy_version: 0,
      capabilities: { token_ids: true, logprobs: true, logprobs_mode: "raw", checkpoint: true, restore: false, supervised: false, supervised_chat: false, chunked_train: false, serves_while_training: false },
      hyperparameters: [],
      name: "fake",
    });
    expect(client.protocol).toBe(PROTOCOL);
    expect((await client.endpoints()).endpoints[0]).toEqual({ name: "main", base_url: "http://127.0.0.1:9/v1", model: "fake-model", policy_version: 0 });

    const trained = await client.train(trainRequest(1, [sample(), sample({ rollout_id: "ro-2", logprobs: [null, null, null], token_weight: 0.5 })]));
    expect(trained).toEqual({ policy_version: 1, metrics: { loss: 0.25, samples: 2 }, pending: false });
    // The backend received the samples exactly as sent.
    expect(fake.applied.get(1)?.samples[1]).toEqual(sample({ rollout_id: "ro-2", logprobs: [null, null, null], token_weight: 0.5 }));

    expect(await client.checkpoint({ name: "best" })).toEqual({ checkpoint_id: "best", policy_version: 1, location: "/tmp/nowhere" });
    expect((await client.checkpoint()).checkpoint_id).toBe("ckpt-1");
    // A trailing /v1 in the URL is forgiven.
    expect((await new HttpTrainingBackend(`${server.url}/v1/`).info()).policy_version).toBe(1);
  });

  it("works with a fetch implementation too", async () => {
    const viaFetch = new HttpTrainingBackend(server.url, { fetch: globalThis.fetch, retryDelaysMs: [] });
    expect((await viaFetch.info()).model).toBe("fake-model");
    const before = fake.version;
    expect((await viaFetch.train(trainRequest(100))).policy_version).toBe(before + 1);
    expect(await rejection(viaFetch.train(trainRequest(100)))).toBeInstanceOf(ConflictError);
  });

  it("answers a repeated step with 409, which the client raises as ConflictError", async () => {
    await client.train(trainRequest(2));
    const error = await rejection(client.train(trainRequest(2)));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toBe("POST /v2/train → HTTP 409: step 2 was already applied (conflict)");
  });

  it("checks a train request on the client before sending it, naming the field", async () => {
    const calls = fake.calls.train;
    const error = await rejection(client.train(trainRequest(3, [sample({ response_mask: [1, 1] })])));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe("samples[0].response_mask");
    const nan = await rejection(client.train(trainRequest(3, [sample({ advantage: Number.NaN })])));
    expect((nan as ValidationError).issues[0]?.path).toBe("samples[0].advantage");
    expect(fake.calls.train).toBe(calls);
  });

  it("rejects bad request bodies with 400 naming the field, without calling the backend", async () => {
    const calls = fake.calls.train;
    const cases: Array<[string, string]> = [
      ["{not json", ""],
      [JSON.stringify({ step: -1, policy_version: 0, samples: [sample()] }), "step"],
      [JSON.stringify({ step: 1, policy_version: 0, samples: [] }), "samples"],
      [JSON.stringify({ step: 1, policy_version: 0, samples: [sample(), sample({ response_mask: [1, 1] })] }), "samples[1].response_mask"],
      [JSON.stringify({ step: 1, policy_version: 0, samples: [{ ...sample(), prompt_ids: [1, -2] }] }), "samples[0].prompt_ids[1]"],
      [JSON.stringify({ step: 1, samples: [sample()] }), "policy_version"],
      [JSON.stringify([1, 2]), ""],
      ["", ""],
    ];
    for (const [body, path] of cases) {
      const response = await raw(server.url, "POST", "/v2/train", body);
      expect(response.status, body).toBe(400);
      expect(response.json.error.code).toBe("validation");
      if (path) {
        expect(response.json.error.details?.issues?.[0]?.path, body).toBe(path);
        expect(response.json.error.message, body).toContain(path);
      }
    }
    // A hostile batch of many bad samples is refused quickly, with a bounded list of issues.
    const many = JSON.stringify({ step: 1, policy_version: 0, samples: Array.from({ length: 2000 }, () => ({ bogus: true })) });
    const response = await raw(server.url, "POST", "/v2/train", many);
    expect(response.status).toBe(400);
    expect(response.json.error.details?.issues?.length).toBeLessThanOrEqual(20);
    expect(fake.calls.train).toBe(calls);
    // Checkpoint's body is optional; a wrong one is named.
    expect((await raw(server.url, "POST", "/v2/checkpoint")).status).toBe(200);
    const badCheckpoint = await raw(server.url, "POST", "/v2/checkpoint", JSON.stringify({ name: 7 }));
    expect(badCheckpoint.status).toBe(400);
    expect(badCheckpoint.json.error.details?.issues?.[0]?.path).toBe("name");
  });

  it("answers unknown routes 404, wrong methods 405, oversized bodies 413", async () => {
    const notFound = await raw(server.url, "GET", "/v2/nope");
    expect([notFound.status, notFound.json.error.code]).toEqual([404, "not_found"]);
    const wrongMethod = await raw(server.url, "GET", "/v2/train");
    expect([wrongMethod.status, wrongMethod.json.error.code, wrongMethod.headers.allow]).toEqual([405, "method_not_allowed", "POST"]);
    expect((await raw(server.url, "DELETE", "/v2/info")).status).toBe(405);
    const big = JSON.stringify(trainRequest(9, [sample({ prompt_ids: Array.from({ length: 40_000 }, (_, i) => i) })]));
    const tooLarge = await raw(server.url, "POST", "/v2/train", big);
    expect([tooLarge.status, tooLarge.json.error.code]).toEqual([413, "payload_too_large"]);
    // Through the client: a typed error saying what to do.
    const error = await rejection(client.train(JSON.parse(big) as TrainRequest));
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe("payload_too_large");
    expect(error.message).toMatch(/^POST \/v2\/train → HTTP 413: .*exceeds the backend's body limit; nothing was applied\. Raise the limit, or split the step into chunks if the backend has capabilities\.chunked_train$/);
  });

  it("passes the backend's validation errors on with their issues, and hides its other failures", async () => {
    fake.failNext = new ValidationError("train request", [{ path: "samples[0].prompt_ids", message: "longer than the context window (8192)" }]);
    const invalid = await rejection(client.train(trainRequest(4)));
    expect(invalid).toBeInstanceOf(ValidationError);
    expect((invalid as ValidationError).issues).toEqual([{ path: "samples[0].prompt_ids", message: "longer than the context window (8192)" }]);
    expect(invalid.message).toContain("POST /v2/train → HTTP 400: invalid train request: samples[0].prompt_ids: longer than the context window");

    fake.failNext = new Error("CUDA out of memory at /secret/path");
    const crashed = await rejection(client.train(trainRequest(4)));
    expect(crashed).toBeInstanceOf(BackendUnavailableError);
    expect((crashed as BackendUnavailableError).status).toBe(500);
    expect(crashed.message).not.toContain("secret");
    expect(logger.lines.some((l) => l.level === "error" && l.message.includes("/v2/train"))).toBe(true);

    // A backend answering outside the protocol is caught by the server, not passed on.
    fake.brokenInfo = { protocol: PROTOCOL, model: "" };
    const broken = await rejection(client.info());
    expect(broken).toBeInstanceOf(BackendUnavailableError);
    expect(broken.message).toMatch(/^GET \/v2\/info → HTTP 500/);
    // The server logs what the backend did wrong, as a typed error naming the field.
    const logged = logger.lines.findLast((l) => l.level === "error" && l.message.includes("/v2/info"))?.context?.error;
    expect(logged).toBeInstanceOf(BackendResponseError);
    expect((logged as BackendResponseError).status).toBeUndefined();
    expect((logged as BackendResponseError).issues.map((i) => i.path)).toEqual(["model", "policy_version", "capabilities"]);
    expect((logged as BackendResponseError).message).toMatch(/^info: the answer breaks the protocol: model: /);
    fake.brokenInfo = undefined;
  });

  it("aborts a slow train: the client rejects at once and the backend sees the abort", async () => {
    fake.trainDelayMs = 10_000;
    const controller = new AbortController();
    const started = performance.now();
    const pending = client.train(trainRequest(5), { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(BackendAbortedError);
    expect(error.message).toContain("POST /v2/train was aborted by the caller");
    expect(error.message).toContain("resend the same step");
    expect(performance.now() - started).toBeLessThan(5000);
    await expect.poll(() => fake.sawAbort).toBe(true);
    fake.trainDelayMs = 0;
    // An already-aborted signal sends nothing.
    const calls = fake.calls.train;
    expect(await rejection(client.train(trainRequest(6), { signal: AbortSignal.abort() }))).toBeInstanceOf(BackendAbortedError);
    expect(fake.calls.train).toBe(calls);
    // The step was not applied; it can be sent again.
    expect((await client.train(trainRequest(5))).metrics.loss).toBe(0.25);
  });

  it("runs one train at a time, so a resent step waits for the original and meets its 409", async () => {
    fake.trainDelayMs = 200;
    const [first, second] = await Promise.allSettled([client.train(trainRequest(7)), client.train(trainRequest(7))]);
    fake.trainDelayMs = 0;
    expect(first.status).toBe("fulfilled");
    expect(second.status === "rejected" && second.reason instanceof ConflictError).toBe(true);
  });

  it("aborts in-flight requests on close()", async () => {
    fake.trainDelayMs = 10_000;
    const closing = new HttpTrainingBackend(server.url);
    const trainsBefore = fake.calls.train;
    const pending = closing.train(trainRequest(8));
    // Close once the request is in flight on the server, however long it took to get there.
    await expect.poll(() => fake.calls.train).toBe(trainsBefore + 1);
    await closing.close();
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(BackendAbortedError);
    expect(error.message).toContain("the client was closed");
    expect(await rejection(closing.info())).toBeInstanceOf(BackendAbortedError);
    fake.trainDelayMs = 0;
    await expect.poll(() => fake.sawAbort).toBe(true);
  });
});

describe("protocol over HTTP: authentication", () => {
  it("requires the bearer token on every route", async () => {
    const server = await serveTrainingBackend(new FakeBackend(), { token: "s3cret" });
    try {
      for (const client of [new HttpTrainingBackend(server.url), new HttpTrainingBackend(server.url, { token: "wrong" })]) {
        const error = await rejection(client.info());
        expect(error).toBeInstanceOf(BackendAuthError);
        expect((error as BackendAuthError).status).toBe(401);
        expect(error.message).toMatch(/^GET \/v2\/info → HTTP 401: missing or wrong bearer token.*check the bearer token/);
        expect(await rejection(client.train(trainRequest(1)))).toBeInstanceOf(BackendAuthError);
      }
      expect((await raw(server.url, "GET", "/v2/nope")).status).toBe(401);
      const client = new HttpTrainingBackend(server.url, { token: "s3cret" });
      expect((await client.info()).model).toBe("fake-model");
      expect((await client.train(trainRequest(1))).policy_version).toBe(1);
    } finally {
      await server.close();
    }
  });

  it("refuses to listen beyond loopback without a token", async () => {
    await expect(serveTrainingBackend(new FakeBackend(), { host: "0.0.0.0" })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("a hostile upstream", () => {
  let server: Server;
  let url: string;
  let answer: (request: IncomingMessage, response: ServerResponse) => void = () => undefined;
  /** While true, `GET /v2/info` succeeds (the client negotiates version 2) and `answer` answers the rest. */
  let negotiation = false;
  const hits: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      hits.push(`${request.method} ${request.url}`);
      request.resume();
      request.on("end", () => (negotiation && request.url === "/v2/info" ? send(200, JSON.stringify(goodInfo)) : answer)(request, response));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const send = (status: number, body: string, contentType = "application/json") => (_: IncomingMessage, response: ServerResponse) => {
    response.writeHead(status, { "content-type": contentType }).end(body);
  };
  type ClientOptions = ConstructorParameters<typeof HttpTrainingBackend>[1];
  /** A client whose every call, negotiation included, meets `answer`. */
  const client = (options: ClientOptions = {}) => {
    negotiation = false;
    return new HttpTrainingBackend(url, { retryDelaysMs: [], ...options });
  };
  /** A client that negotiates version 2 successfully, so only the route under test meets `answer`. */
  const negotiated = (options: ClientOptions = {}) => {
    negotiation = true;
    return new HttpTrainingBackend(url, { retryDelaysMs: [], ...options });
  };
  const goodInfo = { protocol: PROTOCOL, model: "m", policy_version: 3, capabilities: { token_ids: true, logprobs: false, checkpoint: false } };

  it("a body that is not JSON", async () => {
    answer = send(200, "hello, world", "text/plain");
    const error = await rejection(client().info());
    expect(error).toBeInstanceOf(BackendResponseError);
    expect(error.message).toBe('GET /v2/info → HTTP 200: malformed response: body: expected JSON, got text/plain: "hello, world"');
    expect((error as BackendResponseError).status).toBe(200);
  });

  it("an HTML 502 page from a proxy: unavailable; GETs are retried, a train is not", async () => {
    answer = send(502, "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>", "text/html");
    hits.length = 0;
    const trainError = await rejection(negotiated({ retryDelaysMs: [5, 5] }).train(trainRequest(1)));
    expect(trainError).toBeInstanceOf(BackendUnavailableError);
    expect((trainError as BackendUnavailableError).status).toBe(502);
    expect(trainError.message).toContain("POST /v2/train → HTTP 502: backend unavailable: the body is not a protocol error");
    expect(trainError.message).toContain('text/html: "<html><head><title>502 Bad Gateway');
    expect(hits).toEqual(["GET /v2/info", "POST /v2/train"]);

    hits.length = 0;
    const infoError = await rejection(client({ retryDelaysMs: [5, 5] }).info());
    expect(infoError).toBeInstanceOf(BackendUnavailableError);
    expect(hits).toEqual(["GET /v2/info", "GET /v2/info", "GET /v2/info"]);
  });

  it("a GET retried through a restart succeeds", async () => {
    let calls = 0;
    answer = (request, response) => (++calls < 3 ? send(503, JSON.stringify({ error: { code: "unavailable", message: "loading weights" } }))(request, response) : send(200, JSON.stringify(goodInfo))(request, response));
    expect((await client({ retryDelaysMs: [5, 5, 5] }).info()).policy_version).toBe(3);
    expect(calls).toBe(3);
  });

  it("the wrong protocol version", async () => {
    answer = send(200, JSON.stringify({ ...goodInfo, protocol: "tracetrain-rl/1" }));
    const error = await rejection(client().info());
    expect(error).toBeInstanceOf(BackendResponseError);
    expect((error as BackendResponseError).issues[0]?.path).toBe("protocol");
    expect(error.message).toBe('GET /v2/info → HTTP 200: malformed response: protocol: expected "tracetrain-rl/2", got "tracetrain-rl/1" (this client speaks tracetrain-rl/2 under /v2 and tracetrain-rl/1 under /v1)');
  });

  it("missing fields", async () => {
    answer = send(200, JSON.stringify({ protocol: PROTOCOL, model: "m" }));
    const error = await rejection(client().info());
    expect(error).toBeInstanceOf(BackendResponseError);
    expect((error as BackendResponseError).issues.map((i) => i.path)).toEqual(["policy_version", "capabilities"]);
    expect(error.message).toMatch(/^GET \/v2\/info → HTTP 200: malformed response: policy_version: .*expected .* \(and 1 more issue\)$/);

    answer = send(200, JSON.stringify({ policy_version: 1 }));
    const trainError = await rejection(negotiated().train(trainRequest(1)));
    expect(trainError.message).toMatch(/^POST \/v2\/train → HTTP 200: malformed response: metrics: .*expected record/);
  });

  it("wrong types", async () => {
    answer = send(200, JSON.stringify({ ...goodInfo, capabilities: { ...goodInfo.capabilities, token_ids: "yes" } }));
    const error = await rejection(client().info());
    expect(error.message).toBe("GET /v2/info → HTTP 200: malformed response: capabilities.token_ids: Invalid input: expected boolean, received string");

    answer = send(200, JSON.stringify({ policy_version: 1, endpoints: [{ name: "a", base_url: "ftp://x", model: "m", policy_version: 1.5 }] }));
    const endpoints = await rejection(negotiated().endpoints());
    expect((endpoints as BackendResponseError).issues.map((i) => i.path)).toEqual(["endpoints[0].base_url", "endpoints[0].policy_version"]);
    expect(endpoints.message).toContain("GET /v2/endpoints → HTTP 200: malformed response: endpoints[0].base_url: expected an http(s) URL");

    answer = send(200, JSON.stringify({ policy_version: 1, metrics: { loss: "0.1" } }));
    const train = await rejection(negotiated().train(trainRequest(1)));
    expect(train.message).toBe("POST /v2/train → HTTP 200: malformed response: metrics.loss: Invalid input: expected number, received string");

    answer = send(200, "null");
    expect((await rejection(negotiated().checkpoint())).message).toMatch(/^POST \/v2\/checkpoint → HTTP 200: malformed response: body: .*expected object, received null/);
  });

  it("a 500 with a body that is not a protocol error", async () => {
    answer = send(500, JSON.stringify({ detail: "Internal Server Error" }));
    const error = await rejection(negotiated().train(trainRequest(1)));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toMatch(/^POST \/v2\/train → HTTP 500: backend unavailable: the body is not a protocol error: error: .*expected object.*; got "\{\\"detail\\":\\"Internal Server Error\\"\}"; the update may or may not have been applied: resend the same step \(409 means it was\)$/);
  });

  it("FastAPI's default 422 becomes a ValidationError that keeps its body", async () => {
    answer = send(422, JSON.stringify({ detail: [{ loc: ["body", "step"], msg: "field required" }] }));
    const error = await rejection(negotiated().train(trainRequest(1)));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toContain("POST /v2/train → HTTP 422: the body is not a protocol error");
    expect(error.message).toContain("field required");
  });

  it("a 404 asks whether this is a protocol backend at all", async () => {
    answer = send(404, "Not Found", "text/plain");
    hits.length = 0;
    const c = client();
    const error = await rejection(c.info());
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe("not_found");
    expect(error.message).toBe(`${url} answers neither GET /v2/info nor GET /v1/info (both 404): is it a tracetrain-rl/2 or tracetrain-rl/1 backend?`);
    expect(hits).toEqual(["GET /v2/info", "GET /v1/info"]);
    expect(c.protocol).toBeUndefined();
    // Once version 2 is spoken, a 404 names it.
    const missing = await rejection(negotiated().endpoints());
    expect(missing.message).toBe(`GET /v2/endpoints → HTTP 404: the body is not a protocol error: expected JSON {"error":{"code","message"}}, got text/plain: "Not Found" — is ${url} a tracetrain-rl/2 backend?`);
  });

  it("a response that never ends: a timeout naming the route", async () => {
    answer = (_, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"policy_version": 1, "met');
    };
    const started = performance.now();
    const error = await rejection(negotiated({ timeoutMs: 300 }).train(trainRequest(1)));
    expect(error).toBeInstanceOf(BackendTimeoutError);
    expect(error.message).toBe(`POST /v2/train: no complete answer from ${url} within 300 ms; the update may or may not have been applied: resend the same step (409 means it was)`);
    expect(performance.now() - started).toBeLessThan(3000);

    hits.length = 0;
    answer = () => undefined; // never even answers headers
    const info = await rejection(client({ timeoutMs: { info: 100 }, retryDelaysMs: [5] }).info());
    expect(info).toBeInstanceOf(BackendTimeoutError);
    expect(hits).toEqual(["GET /v2/info", "GET /v2/info"]);
  });

  it("a connection cut mid-answer", async () => {
    answer = (_, response) => {
      response.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      response.write('{"policy_version"');
      setTimeout(() => response.socket?.destroy(), 20);
    };
    const error = await rejection(negotiated().train(trainRequest(1)));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).delivered).toBe(true);
    expect(error.message).toMatch(/^POST \/v2\/train: the exchange with .* failed \(.*\); the update may or may not have been applied/);
  });

  it("an answer too large to be the protocol", async () => {
    answer = (_, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 17; i++) response.write(chunk);
      response.end("{}");
    };
    const error = await rejection(client().info());
    expect(error).toBeInstanceOf(BackendResponseError);
    expect(error.message).toMatch(/^GET \/v2\/info → HTTP 200: malformed response: body: expected a protocol answer, got more than \d+ bytes$/);
  });

  it("through fetch too: the same typed errors", async () => {
    answer = send(502, "<html>Bad Gateway</html>", "text/html");
    const error = await rejection(negotiated({ fetch: globalThis.fetch }).train(trainRequest(1)));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toContain("POST /v2/train → HTTP 502");
    answer = send(200, JSON.stringify({ ...goodInfo, protocol: "x" }));
    expect((await rejection(client({ fetch: globalThis.fetch }).info())).message).toContain('protocol: expected "tracetrain-rl/2", got "x"');
    answer = () => undefined;
    expect(await rejection(negotiated({ fetch: globalThis.fetch, timeoutMs: 100 }).train(trainRequest(1)))).toBeInstanceOf(BackendTimeoutError);
  });

  it("nobody listening: unavailable, not delivered, and safe to resend even a train", async () => {
    // Negotiate with a live server, then stop it: the train itself meets the refused connection.
    const fake = new FakeBackend();
    const live = await serveTrainingBackend(fake);
    const gone = new HttpTrainingBackend(live.url, { retryDelaysMs: [5] });
    expect(await gone.info()).toMatchObject({ protocol: PROTOCOL });
    await live.close();
    const error = await rejection(gone.train(trainRequest(1)));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).delivered).toBe(false);
    expect(error.message).toBe(`POST /v2/train: cannot reach the backend at ${live.url} (ECONNREFUSED)`);
    expect(fake.calls.train).toBe(0);
    // Before negotiation, the first GET says the same.
    const never = await rejection(new HttpTrainingBackend(live.url, { retryDelaysMs: [] }).train(trainRequest(1)));
    expect(never.message).toBe(`GET /v2/info: cannot reach the backend at ${live.url} (ECONNREFUSED)`);
  });

  it("rejects a bad URL or token up front", () => {
    expect(() => new HttpTrainingBackend("ftp://x")).toThrow(ValidationError);
    expect(() => new HttpTrainingBackend("not a url")).toThrow(ValidationError);
    expect(() => new HttpTrainingBackend("http://x", { token: "a\r\nb" })).toThrow(ValidationError);
    expect(() => new HttpTrainingBackend("http://x", { timeoutMs: { train: -1 } })).toThrow(/^invalid backend options: timeoutMs\.train: Too small/);
  });

  const hostileClient: Array<[field: string, value: unknown]> = [
    ["token", ""],
    ["token", "has space"],
    ["timeoutMs", 0],
    ["timeoutMs", "30s"],
    ["timeoutMs", { train: 2 ** 31 }],
    ["timeoutMs", { fit: 1000 }],
    ["retryDelaysMs", [-1]],
    ["retryDelaysMs", 500],
    ["fetch", "fetch"],
  ];
  it.each(hostileClient)("HttpTrainingBackend rejects a bad %s (%j), naming it", (field, value) => {
    const error = validationError(() => new HttpTrainingBackend("http://x", { [field]: value } as never));
    expect(namesOnly(error, field), JSON.stringify(error.issues)).toBe(true);
  });

  it("HttpTrainingBackend rejects an unknown option", () => {
    expect(() => new HttpTrainingBackend("http://x", { retries: 3 } as never)).toThrow(/Unrecognized key: "retries"/);
  });

  const hostileServer: Array<[field: string, value: unknown]> = [
    ["host", ""],
    ["port", 70_000],
    ["port", -1],
    ["token", ""],
    ["insecure", 1],
    ["bodyLimitBytes", 0],
    ["logger", {}],
    ["bodylimit", 1],
  ];
  it.each(hostileServer)("serveTrainingBackend rejects a bad %s (%j), naming it", async (field, value) => {
    const error = await rejectedWith(serveTrainingBackend(new FakeBackend(), { [field]: value } as never));
    expect(error.message).toMatch(new RegExp(`^invalid backend server options: .*${field}`));
  });
});
