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

const samplePath = (path: string) => path.replace(":rolloutId", "ro-1").replace(":attemptId", "at-1").replace(":resourcesId", "latest").replace(":runId", "run-1");

interface ErrorBody {
  error: { code: string; message: string; details?: { issues?: Array<{ path: string; message: string }> } };
}

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

  describe("training runs and resource listing", () => {
    const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
    const post = (path: string, body: unknown) => raw(server.url, "POST", path, JSON.stringify(body));

    it("records a run, appends to its log and reads both back through the routes", async () => {
      const created = await post("/v1/runs", { runId: "route-run", algorithm: "apo", config: { beam: 2 } });
      expect(created.status, created.text).toBe(200);
      expect(json(created.text)).toMatchObject({ runId: "route-run", algorithm: "apo", status: "running", config: { beam: 2 }, summary: null, entries: 0 });
      const entries = [
        { kind: "candidate", key: "c1", data: { id: "c1" } },
        { kind: "score", data: { mean: 0.5 } },
        { kind: "candidate", key: "c1", data: { id: "again" } },
        { kind: "candidate", key: "c2", at: 5, data: { id: "c2" } },
      ];
      const appended = await post("/v1/runs/route-run/entries", { entries });
      expect(appended.status, appended.text).toBe(200);
      expect(json(appended.text)).toEqual({ added: 3, duplicates: 1 });
      expect(json((await raw(server.url, "GET", "/v1/runs/route-run")).text)).toMatchObject({ entries: 3 });
      const page = json((await raw(server.url, "GET", "/v1/runs/route-run/entries?kind=candidate&afterSequence=0&limit=1")).text) as { items: Array<{ sequence: number }>; nextCursor: string };
      expect(page.items.map((e) => e.sequence)).toEqual([1]);
      const next = json((await raw(server.url, "GET", `/v1/runs/route-run/entries?kind=candidate&limit=1&cursor=${page.nextCursor}`)).text);
      expect(next).toMatchObject({ items: [{ sequence: 3, key: "c2", at: 5, data: { id: "c2" } }], nextCursor: null });
      const listed = json((await raw(server.url, "GET", "/v1/runs?algorithm=apo,gepa&status=running&limit=5")).text) as { items: Array<{ runId: string }> };
      expect(listed.items.map((r) => r.runId)).toContain("route-run");
      await store.addResources({ a: { kind: "json", value: 1 } });
      await store.addResources({ a: { kind: "json", value: 2 } });
      const snapshots = json((await raw(server.url, "GET", "/v1/resources?limit=1")).text) as { items: Array<{ version: number }>; nextCursor: string | null };
      expect(snapshots.items).toHaveLength(1);
      expect(snapshots.nextCursor).not.toBeNull();
      expect(snapshots.items[0]!.version).toBe((await store.getResources("latest")).version);
    });

    it("answers unknown query parameters with 400 naming the parameter", async () => {
      await post("/v1/runs", { runId: "q-run", algorithm: "rl" });
      const cases: Array<[string, string]> = [
        ["/v1/runs?owner=me", "owner"],
        ["/v1/runs?status=running&status=failed", "status"],
        ["/v1/runs/q-run/entries?since=3", "since"],
        ["/v1/runs/q-run/entries?runId=other", "runId"],
        ["/v1/resources?version=2", "version"],
        ["/v1/runs?limit=abc", "limit"],
        ["/v1/runs?limit=5000", "limit"],
        ["/v1/runs?status=done", "status[0]"],
        ["/v1/runs/q-run/entries?afterSequence=-1", "afterSequence"],
        ["/v1/runs/q-run/entries?kind=Not%20A%20Kind", "kind[0]"],
        ["/v1/runs/q-run/entries?cursor=garbage", "cursor"],
        ["/v1/resources?limit=0", "limit"],
      ];
      for (const [path, field] of cases) {
        const response = await raw(server.url, "GET", path);
        expect(response.status, path).toBe(400);
        const body = JSON.parse(response.text) as ErrorBody;
        expect(body.error.code, path).toBe("validation");
        expect(body.error.details?.issues?.[0]?.path, path).toBe(field);
        expect(body.error.message, path).toContain(field);
      }
    });

    it("answers an unknown run with 404, on reads and on appends", async () => {
      const cases: Array<[string, string, unknown]> = [
        ["GET", "/v1/runs/no-such-run", undefined],
        ["GET", "/v1/runs/no-such-run/entries", undefined],
        ["POST", "/v1/runs/no-such-run/entries", { entries: [{ kind: "rl.step", data: {} }] }],
      ];
      for (const [method, path, body] of cases) {
        const response = await raw(server.url, method, path, body === undefined ? undefined : JSON.stringify(body));
        expect(response.status, `${method} ${path}`).toBe(404);
        expect((JSON.parse(response.text) as ErrorBody).error).toMatchObject({ code: "not_found", message: expect.stringContaining("no-such-run") });
      }
      expect((await raw(server.url, "GET", "/v1/runs/no-such-run")).status).toBe(404);
    });

    it("answers bad bodies with 400 naming the field, and another algorithm's run id with 409", async () => {
      await post("/v1/runs", { runId: "body-run", algorithm: "rl" });
      const cases: Array<[string, string, string]> = [
        ["/v1/runs", "{not json", ""],
        ["/v1/runs", JSON.stringify({ runId: "r" }), "algorithm"],
        ["/v1/runs", JSON.stringify({ runId: "r", algorithm: "RL" }), "algorithm"],
        ["/v1/runs", JSON.stringify({ runId: "r", algorithm: "rl", status: "paused" }), "status"],
        ["/v1/runs", JSON.stringify({ runId: "r", algorithm: "rl", config: [1] }), "config"],
        ["/v1/runs", JSON.stringify({ runId: "r", algorithm: "rl", owner: "me" }), ""],
        ["/v1/runs/body-run/entries", JSON.stringify({}), "entries"],
        ["/v1/runs/body-run/entries", JSON.stringify({ entries: "x" }), "entries"],
        ["/v1/runs/body-run/entries", JSON.stringify({ entries: [] }), "entries"],
        ["/v1/runs/body-run/entries", JSON.stringify({ entries: [{ kind: "Bad Kind", data: {} }] }), "entries[0].kind"],
        ["/v1/runs/body-run/entries", JSON.stringify({ entries: [{ kind: "rl.step", data: 3 }] }), "entries[0].data"],
        ["/v1/runs/body-run/entries", JSON.stringify({ entries: [{ kind: "rl.step", data: {} }], runId: "other" }), ""],
        ["/v1/runs/body-run/entries", JSON.stringify({ entries: Array.from({ length: 1001 }, () => ({ kind: "rl.step", data: {} })) }), "entries"],
      ];
      for (const [path, body, field] of cases) {
        const response = await raw(server.url, "POST", path, body);
        expect(response.status, `${path} ${body.slice(0, 80)}`).toBe(400);
        const parsed = JSON.parse(response.text) as ErrorBody;
        expect(parsed.error.code).toBe("validation");
        if (field !== "") expect(parsed.error.details?.issues?.[0]?.path, body.slice(0, 80)).toBe(field);
      }
      expect((await store.getRun("body-run")).entries).toBe(0);
      const conflict = await post("/v1/runs", { runId: "body-run", algorithm: "gepa" });
      expect(conflict.status).toBe(409);
      expect((JSON.parse(conflict.text) as ErrorBody).error.code).toBe("conflict");
    });

    it("streams run events, and only those, on /v1/events?types=run", async () => {
      const controller = new AbortController();
      let text = "";
      let connected!: () => void;
      const ready = new Promise<void>((resolve) => (connected = resolve));
      let gotRunEvents!: () => void;
      const received = new Promise<void>((resolve) => (gotRunEvents = resolve));
      const req = request(new URL("/v1/events?types=run", server.url), { signal: controller.signal }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
          if (text.includes(": connected")) connected();
          if ((text.match(/event: run\n/g) ?? []).length >= 2) gotRunEvents();
        });
      });
      req.on("error", () => undefined);
      req.end();
      await ready;
      await store.enqueue({ input: "not a run event" });
      await store.recordRun({ runId: "sse-run", algorithm: "rl" });
      await store.addRunEntries("sse-run", [{ kind: "rl.step", data: { step: 1 } }]);
      await received;
      controller.abort();
      expect(text).not.toContain("event: rollout");
      const events = [...text.matchAll(/event: run\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
      expect(events).toMatchObject([
        { type: "run", runId: "sse-run", status: "running", entries: 0 },
        { type: "run", runId: "sse-run", status: "running", entries: 1 },
      ]);
    });
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
