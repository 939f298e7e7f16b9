/**
 * The dashboard as the store server serves it, over real HTTP: the shell loads without the token
 * but no data does; files have their content types and cache validators; hostile paths reach
 * nothing outside the build; the chat-view route reads a real traced attempt; a read-only server
 * refuses writes; and a server whose dashboard was not built says so.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Rollout, Store } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type StoreServer, startStoreServer } from "tracetrain/server";
import { rawExchange, requestBytes, standardHeaders } from "../server/raw-http.js";
import { buildDashboardInto, filledStore } from "./support.js";

const TOKEN = "dash-s3cret";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-serving-"));
const build = join(dir, "site", "build");
let store: Store;
let server: StoreServer;
let port: number;

beforeAll(async () => {
  mkdirSync(build, { recursive: true });
  buildDashboardInto(build);
  // Decoys beside and above the build: a path that escapes the build folder would find them.
  writeFileSync(join(dir, "site", "secret.txt"), "TOP-SECRET-1");
  writeFileSync(join(dir, "secret.js"), "TOP-SECRET-2");
  store = await filledStore(join(dir, "store.db"));
  server = await startStoreServer({ store, port: 0, token: TOKEN, logger: quiet, dashboard: { dir: build } });
  port = Number(new URL(server.url).port);
}, 60_000);
afterAll(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TOKEN}` };

describe("the dashboard shell", () => {
  it("serves the page at / without the token, as HTML the page's policy keeps to this server", async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await response.text();
    expect(html).toContain('<script type="module" src="dashboard/main.js"></script>');
    // Offline: nothing is loaded from anywhere else.
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("serves modules and the stylesheet with their types, revalidated by ETag (304 when unchanged)", async () => {
    const js = await fetch(`${server.url}/dashboard/main.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("no-cache");
    expect(await js.text()).toContain("import { Api, Unauthorized } from \"./api.js\"");
    const css = await fetch(`${server.url}/dashboard/style.css`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const etag = css.headers.get("etag");
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${server.url}/dashboard/style.css`, { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
  });

  it("shows no data without the token: the API, the event stream and the chat view answer 401", async () => {
    for (const path of ["/v1/rollouts", "/v1/stats", "/v1/events", "/v1/rollouts/x/attempts/y/chat"]) {
      const response = await fetch(`${server.url}${path}`);
      expect([path, response.status]).toEqual([path, 401]);
      await response.body?.cancel();
    }
    const wrong = await fetch(`${server.url}/v1/rollouts`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
  });

  it.each([
    "/dashboard/../../package.json",
    "/dashboard/..%2Fsecret.txt",
    "/dashboard/..%2F..%2Fsecret.js",
    "/dashboard/%2e%2e%2fsecret.txt",
    "/dashboard/%252e%252e%252fsecret.txt",
    "/dashboard/..%5Csecret.txt",
    "/dashboard/main.js%00.html",
    "/dashboard/%00",
    "/dashboard/..",
    "/dashboard/.",
    "/dashboard/main.ts",
    "/dashboard/tsconfig.json",
    "/dashboard/",
    "/dashboard/a/main.js",
    "/%2e%2e/%2e%2e/secret.js",
    "//etc/passwd",
    "/dashboard//etc/passwd",
  ])("serves nothing outside the build for %s", async (target) => {
    const outcome = await rawExchange(port, { pieces: [requestBytes("GET", target, standardHeaders())] });
    const [response] = outcome.responses;
    expect(response).toBeDefined();
    const body = response!.body.toString("utf8");
    // `/dashboard/..` is normalized to `/` by URL parsing: the shell itself, which is fine.
    if (response!.status === 200) expect(body).toContain("<title>tracetrain dashboard</title>");
    else expect([400, 401, 404]).toContain(response!.status);
    expect(body).not.toContain("TOP-SECRET");
    expect(body).not.toContain('"name": "tracetrain"');
    expect(body).not.toContain("root:");
  });
});

describe("the chat-view route", () => {
  it("returns a traced attempt's LLM calls as chat: system and user prompt, the assistant's tool calls, the tool results sent back", async () => {
    const page = (await (await fetch(`${server.url}/v1/rollouts?limit=100`, { headers: auth })).json()) as { items: Rollout[] };
    const room = page.items.find((r) => typeof r.input === "object" && r.input !== null && "id" in r.input && r.status === "succeeded" && r.mode === "train");
    expect(room).toBeDefined();
    const attempt = room!.attempts[0]!;
    const response = await fetch(`${server.url}/v1/rollouts/${room!.rolloutId}/attempts/${attempt.attemptId}/chat`, { headers: auth });
    expect(response.status).toBe(200);
    const view = (await response.json()) as { calls: Array<{ prompt: Array<{ role: string }>; responses: Array<{ message: { role: string; tool_calls?: unknown[] } | null }>; toolUses: Array<{ name: string; result?: unknown }> }> };
    expect(view.calls.length).toBeGreaterThan(0);
    expect(view.calls[0]!.prompt.map((m) => m.role).slice(0, 2)).toEqual(["system", "user"]);
    const asked = view.calls.flatMap((c) => c.responses.flatMap((r) => r.message?.tool_calls ?? []));
    expect(asked.length).toBeGreaterThan(0);
    expect(view.calls.flatMap((c) => c.toolUses).map((use) => use.name)).toContain("get_rooms_and_availability");
    // Later calls carry the tool results back to the model as tool messages.
    expect(view.calls.some((c) => c.prompt.some((m) => m.role === "tool"))).toBe(true);
  });

  it("answers 404 naming a rollout or an attempt that does not exist", async () => {
    const response = await fetch(`${server.url}/v1/rollouts/no-such-rollout/attempts/a/chat`, { headers: auth });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("no-such-rollout");
    const [rollout] = (await store.queryRollouts({ limit: 1 })).items;
    const noAttempt = await fetch(`${server.url}/v1/rollouts/${rollout!.rolloutId}/attempts/at-nope/chat`, { headers: auth });
    expect(noAttempt.status).toBe(404);
    expect(((await noAttempt.json()) as { error: { message: string } }).error.message).toContain("at-nope");
  });
});

describe("servers without a usable dashboard, and read-only servers", () => {
  it("says the dashboard is not built when its folder has no index.html, and still serves the API", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const bare = await startStoreServer({ store: new MemoryStore(), port: 0, logger: quiet, dashboard: { dir: empty } });
    try {
      const response = await fetch(`${bare.url}/`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain("the dashboard is not built");
      expect((await fetch(`${bare.url}/v1/stats`)).status).toBe(200);
    } finally {
      await bare.close();
    }
  });

  it("serves no dashboard with dashboard: false", async () => {
    const none = await startStoreServer({ store: new MemoryStore(), port: 0, logger: quiet, dashboard: false });
    try {
      expect((await fetch(`${none.url}/`)).status).toBe(404);
      expect((await fetch(`${none.url}/v1/rollouts/r/attempts/a/chat`)).status).toBe(404);
    } finally {
      await none.close();
    }
  });

  it("refuses every request but GET when read-only, naming the request", async () => {
    const memory = new MemoryStore();
    const readOnly = await startStoreServer({ store: memory, port: 0, logger: quiet, readOnly: true, dashboard: { dir: build } });
    try {
      const response = await fetch(`${readOnly.url}/v1/rollouts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rollout: { input: 1 } }) });
      expect(response.status).toBe(501);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain("read-only: POST /v1/rollouts");
      expect((await memory.queryRollouts({})).items).toEqual([]);
      expect((await fetch(`${readOnly.url}/v1/rollouts`)).status).toBe(200);
      expect((await fetch(`${readOnly.url}/`)).status).toBe(200);
    } finally {
      await readOnly.close();
      await memory.close();
    }
  });
});
