import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpStore, MemoryStore } from "tracetrain/store";
import { NotFoundError, StoreUnavailableError, ValidationError } from "tracetrain";
import { Routes, type StoreServer, startStoreServer } from "tracetrain/server";

/** A raw HTTP exchange, so tests can send what no well-behaved client would. */
function raw(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const samplePath = (path: string) => path.replace(":rolloutId", "ro-1").replace(":attemptId", "at-1").replace(":resourcesId", "latest");

describe("store server", () => {
  let store: MemoryStore;
  let server: StoreServer;
  beforeAll(async () => {
    store = new MemoryStore({ watchdogIntervalMs: false });
    server = await startStoreServer({ store, port: 0, bodyLimitBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it("answers health checks and serves Prometheus metrics", async () => {
    expect(JSON.parse((await raw(server.url, "GET", "/healthz")).text)).toEqual({ status: "ok" });
    await store.enqueue({ input: 1 });
    await raw(server.url, "GET", "/v1/stats");
    const metrics = await raw(server.url, "GET", "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.headers["content-type"]).toMatch(/text\/plain/);
    expect(metrics.text).toMatch(/tracetrain_http_requests_total\{route="\/v1\/stats",method="GET",status="200"\} 1/);
    expect(metrics.text).toMatch(/tracetrain_rollouts\{status="queuing"\} 1/);
    expect(metrics.text).toMatch(/tracetrain_queue_depth 1/);
    expect(metrics.text).toMatch(/tracetrain_http_request_duration_seconds_bucket\{route="\/v1\/stats",method="GET",le="\+Inf"\} 1/);
  });

  it("answers mistakes with typed JSON errors and the right status, never a 500", async () => {
    const cases: Array<[string, string, string | undefined, number, string]> = [
      ["GET", "/v1/nope", undefined, 404, "not_found"],
      ["DELETE", "/v1/rollouts", undefined, 404, "not_found"],
      ["GET", "/v1/rollouts/ro-missing", undefined, 404, "not_found"],
      ["POST", "/v1/rollouts", "{not json", 400, "validation"],
      ["POST", "/v1/rollouts", JSON.stringify({ rollouts: "x" }), 400, "validation"],
      ["POST", "/v1/rollouts", JSON.stringify({ rollout: { input: 1, mode: "nope" } }), 400, "validation"],
      ["GET", "/v1/rollouts?limit=abc", undefined, 400, "validation"],
      ["GET", "/v1/rollouts?bogus=1", undefined, 400, "validation"],
      ["GET", "/v1/rollouts/%E0%A4%A", undefined, 404, "not_found"],
      ["POST", "/v1/spans", JSON.stringify({ spans: [{}] }), 400, "validation"],
      ["POST", "/v1/dequeue", JSON.stringify({ limit: -1 }), 400, "validation"],
      ["POST", "/v1/rollouts/ro-1/attempts/at-1/complete", JSON.stringify({ status: "succeeded" }), 404, "not_found"],
      ["POST", "/v1/wait", JSON.stringify({ rolloutIds: [] }), 400, "validation"],
      ["GET", "/v1/events?types=bogus", undefined, 400, "validation"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await raw(server.url, method, path, body);
      expect(response.status, `${method} ${path}`).toBe(status);
      const parsed = JSON.parse(response.text) as { error: { code: string; message: string } };
      expect(parsed.error.code, `${method} ${path}`).toBe(code);
      expect(parsed.error.message.length).toBeGreaterThan(0);
    }
  });

  it("rejects bodies over the limit with 413", async () => {
    const big = JSON.stringify({ rollouts: [{ input: "x".repeat(100 * 1024) }] });
    const response = await raw(server.url, "POST", "/v1/rollouts", big);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.text).error).toMatchObject({ code: "payload_too_large", message: expect.stringContaining("over the limit of 65536 bytes (bodyLimitBytes)") });
    expect((await raw(server.url, "GET", "/healthz")).status).toBe(200);
  });

  it("refuses a body nested deeper than 128 levels, and takes what a store takes", async () => {
    const deep = await raw(server.url, "POST", "/v1/rollouts", `{"rollout":{"input":${"[".repeat(5000)}${"]".repeat(5000)}}}`);
    expect(deep.status).toBe(400);
    expect(JSON.parse(deep.text).error.message).toMatch(/^invalid request body: nests deeper than 128 levels, the limit for JSON request bodies/);
    // The deepest values a store accepts (64 levels in all), inside their envelopes: a task input, a span event's attributes.
    const wrapped = (levels: number): unknown => (levels === 0 ? "leaf" : [wrapped(levels - 1)]);
    const rollout = await store.startRollout({ input: wrapped(64) as never });
    expect((await raw(server.url, "POST", "/v1/rollouts", JSON.stringify({ rollout: { input: wrapped(64) } }))).status).toBe(200);
    const span = { rolloutId: rollout.rollout.rolloutId, attemptId: rollout.attempt.attemptId, traceId: "0".repeat(31) + "1", spanId: "0".repeat(15) + "2", name: "s", startTime: 1, endTime: 2 };
    const ok = await raw(server.url, "POST", "/v1/spans", JSON.stringify({ spans: [{ ...span, events: [{ name: "e", time: 1, attributes: { value: wrapped(63) } }] }] }));
    expect(ok.status, ok.text).toBe(200);
  });

  it("says which limit a span batch hit: bytes or spans, with the numbers", async () => {
    const span = { rolloutId: "ro-1", attemptId: "at-1", traceId: "0".repeat(31) + "1", spanId: "0".repeat(15) + "1", name: "s", startTime: 1, endTime: 2 };
    const heavy = await raw(server.url, "POST", "/v1/spans", JSON.stringify({ spans: Array.from({ length: 200 }, () => ({ ...span, attributes: { text: "x".repeat(1000) } })) }));
    expect(heavy.status).toBe(413);
    expect(JSON.parse(heavy.text).error).toMatchObject({ code: "payload_too_large", message: expect.stringContaining("request body over the limit of 65536 bytes"), details: { limit: "bytes", max: 65536 } });
    // Under the byte limit but over the count limit (100,000 spans per request).
    const roomy = await startStoreServer({ store, port: 0 });
    try {
      const many = await raw(roomy.url, "POST", "/v1/spans", `{"spans":[${new Array<string>(100_001).fill("{}").join(",")}]}`);
      expect(many.status).toBe(413);
      expect(JSON.parse(many.text).error).toMatchObject({ code: "payload_too_large", message: "100001 spans in one request, over the limit of 100000 spans; send smaller batches", details: { limit: "spans", max: 100_000 } });
    } finally {
      await roomy.close();
    }
  });

  it("rebuilds typed errors on the client", async () => {
    const client = new HttpStore(server.url, { retryDelaysMs: [] });
    await expect(client.getRollout("ro-nothing")).rejects.toBeInstanceOf(NotFoundError);
    const error = await client.enqueue({ input: 1, config: { maxAttempts: 0 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.path).toBe("config.maxAttempts");
    await client.close();
  });

  it("streams store events as server-sent events", async () => {
    const received: string[] = [];
    const controller = new AbortController();
    const done = new Promise<void>((resolve) => {
      const req = request(new URL("/v1/events?types=rollout", server.url), { signal: controller.signal }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          received.push(chunk);
          if (received.join("").includes("event: rollout")) resolve();
        });
      });
      req.on("error", () => resolve());
      req.end();
    });
    await new Promise((r) => setTimeout(r, 50));
    const rollout = await store.enqueue({ input: "sse" });
    await done;
    controller.abort();
    const text = received.join("");
    expect(text).toMatch(/^: connected/);
    const data = /event: rollout\ndata: (.*)\n/.exec(text)![1]!;
    expect(JSON.parse(data)).toMatchObject({ type: "rollout", rolloutId: rollout.rolloutId, status: "queuing", previous: null });
  });

  it("ends long-polls at once when it shuts down, and refuses new connections after", async () => {
    const own = new MemoryStore({ watchdogIntervalMs: false });
    const s = await startStoreServer({ store: own, port: 0, closeStore: true });
    const client = new HttpStore(s.url, { retryDelaysMs: [] });
    const polling = client.dequeue({ waitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 50));
    await s.close();
    // The poll ends at once — with nothing, or (when it re-polls the closed server) as unavailable —
    // not at its 20 s end, when this test has already timed out.
    const outcome = await polling.then((claimed) => claimed, (error: unknown) => error);
    if (Array.isArray(outcome)) expect(outcome).toEqual([]);
    else expect(outcome).toBeInstanceOf(StoreUnavailableError);
    await expect(client.stats()).rejects.toBeInstanceOf(StoreUnavailableError);
    await client.close();
  });
});

describe("store server authentication", () => {
  let store: MemoryStore;
  let server: StoreServer;
  beforeAll(async () => {
    store = new MemoryStore({ watchdogIntervalMs: false });
    server = await startStoreServer({ store, port: 0, token: "s3cret-token" });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it("requires the bearer token on every route except /healthz", async () => {
    for (const route of [...Object.values(Routes), { method: "GET", path: "/metrics" }]) {
      const variants: Array<Record<string, string>> = [{}, { authorization: "Bearer wrong" }, { authorization: "s3cret-token" }, { authorization: "Bearer " }];
      for (const headers of variants) {
        const response = await raw(server.url, route.method, samplePath(route.path), route.method === "POST" ? "{}" : undefined, headers);
        expect(response.status, `${route.method} ${route.path} ${JSON.stringify(headers)}`).toBe(401);
        expect(JSON.parse(response.text).error.code).toBe("unauthorized");
      }
    }
    expect((await raw(server.url, "GET", "/healthz")).status).toBe(200);
  });

  it("takes the bearer scheme in any case (RFC 7235)", async () => {
    for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
      expect((await raw(server.url, "GET", "/v1/stats", undefined, { authorization: `${scheme} s3cret-token` })).status, scheme).toBe(200);
    }
    expect((await raw(server.url, "GET", "/v1/stats", undefined, { authorization: "Basic s3cret-token" })).status).toBe(401);
  });

  it("lets a client with the token in", async () => {
    const client = new HttpStore(server.url, { token: "s3cret-token", retryDelaysMs: [] });
    const rollout = await client.enqueue({ input: 1 });
    expect((await client.getRollout(rollout.rolloutId)).status).toBe("queuing");
    await client.close();
  });

  it("refuses to bind a non-loopback address without a token unless told it is safe", async () => {
    await expect(startStoreServer({ store, host: "0.0.0.0", port: 0 })).rejects.toThrow(/without a token/);
    const open = await startStoreServer({ store, host: "0.0.0.0", port: 0, insecure: true });
    await open.close();
  });
});
