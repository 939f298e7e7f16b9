/**
 * The trace page's routes over real HTTP — the spans in outline, one span whole, the chat view
 * under an agent selection and credit policy, with token ids, capture coverage and diagnostics —
 * and their errors.
 *
 * The dashboard restates the wire records it reads (src/dashboard/records.ts: the browser build
 * cannot import zod). Two guards keep that restatement honest:
 *
 * - at compile time (`npm run typecheck` compiles this file), each record of src/types must be
 *   assignable to the dashboard's reading of it: a field renamed, removed or retyped in a schema
 *   breaks the build here, not in a user's browser;
 * - at run time, what the trace page's routes send parses as those schemas (strictly: no field
 *   the schema does not name), over a store filled by real runs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Dashboard from "../../src/dashboard/records.js";
import {
  type Attempt,
  type ChatView,
  ChatViewSchema,
  type Page,
  type Rollout,
  RolloutSchema,
  type Span,
  SpanSchema,
  type StoreEvent,
  type TokenFigures,
  type TraceOutline,
  TraceOutlineSchema,
  RolloutTokensSchema,
} from "../../src/types/index.js";
import type { Store } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type StoreServer, startStoreServer } from "tracetrain/server";
import { llm, root, sid } from "../adapters/build.js";
import { filledStore } from "./support.js";

// Compile-time: each function compiles only while the store's record fits the dashboard's reading.
export const fits = {
  rollout: (r: Rollout): Dashboard.Rollout => r,
  attempt: (a: Attempt): Dashboard.Attempt => a,
  rolloutPage: (p: Page<Rollout>): Dashboard.Page<Dashboard.Rollout> => p,
  span: (s: Span): Dashboard.Span => s,
  event: (e: StoreEvent): Dashboard.StoreEvent => e,
  chatView: (v: ChatView): Dashboard.ChatView => v,
  traceOutline: (t: TraceOutline): Dashboard.TraceOutline => t,
  tokens: (t: TokenFigures): Dashboard.TokenFiguresData => t,
};

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-records-"));
let store: Store;
let server: StoreServer;

beforeAll(async () => {
  store = await filledStore(join(dir, "store.db"));
  // The dashboard's API routes come with the dashboard; its shell (never built here, never asked for) is not needed.
  server = await startStoreServer({ store, port: 0, logger: quiet, dashboard: { dir: join(dir, "no-build") } });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string) => {
  const response = await fetch(`${server.url}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as unknown;
};

describe("what the trace page reads, as the routes send it", () => {
  it("parses as the schemas the dashboard's records are checked against, for every attempt in the store", async () => {
    const rollouts = (await store.queryRollouts({ limit: 1000 })).items.filter((r) => r.attempts.length > 0);
    expect(rollouts.length).toBeGreaterThan(3);
    for (const rollout of rollouts) {
      RolloutSchema.parse(await get(`/v1/rollouts/${rollout.rolloutId}`));
      for (const { attemptId } of rollout.attempts) {
        const base = `/v1/rollouts/${rollout.rolloutId}/attempts/${attemptId}`;
        const outline = TraceOutlineSchema.parse(await get(`${base}/trace`));
        ChatViewSchema.parse(await get(`${base}/chat`));
        ChatViewSchema.parse(await get(`${base}/chat?agents=planner&credit=perCall`));
        const first = outline.spans[0];
        if (first !== undefined) SpanSchema.parse(await get(`${base}/spans/${first.spanId}`));
      }
    }
  });
});

describe("the rollouts list's token route", () => {
  it("sends each named rollout's latest attempt's figures — the chat view's — and refuses a bad request", async () => {
    const rollouts = (await store.queryRollouts({ limit: 1000 })).items.filter((r) => r.attempts.length > 0).slice(0, 10);
    const body = RolloutTokensSchema.parse(await get(`/v1/tokens?rollouts=${rollouts.map((r) => r.rolloutId).join(",")}`));
    expect(body.items.map((i) => [i.rolloutId, i.attemptId])).toEqual(rollouts.map((r) => [r.rolloutId, r.attempts.at(-1)!.attemptId]));
    for (const item of body.items) {
      const view = ChatViewSchema.parse(await get(`/v1/rollouts/${item.rolloutId}/attempts/${item.attemptId}/chat`));
      expect(item.tokens).toEqual(view.tokens);
    }
    expect(body.items.some((i) => i.tokens.total > 0)).toBe(true);
    const error = async (path: string, status: number) => {
      const response = await fetch(`${server.url}${path}`);
      expect([path, response.status]).toEqual([path, status]);
      return ((await response.json()) as { error: { message: string } }).error.message;
    };
    expect(await error("/v1/tokens", 400)).toBe("invalid tokens query: rollouts: must name 1 to 100 rollout ids, comma-separated (got 0)");
    expect(await error(`/v1/tokens?rollouts=${Array.from({ length: 101 }, (_, i) => `r${i}`).join(",")}`, 400)).toMatch(/got 101/);
    expect(await error("/v1/tokens?rollouts=nope", 404)).toMatch(/nope/);
    expect(await error("/v1/tokens?rollouts=a&limit=3", 400)).toMatch(/limit/);
  });
});

/** A fresh MemoryStore behind a store server, with one claimed attempt, for `use`; both closed after. */
async function withAttempt(use: (ctx: { memory: MemoryStore; url: string; rolloutId: string; attemptId: string }) => Promise<void>): Promise<void> {
  const memory = new MemoryStore();
  const local = await startStoreServer({ store: memory, port: 0, logger: quiet, dashboard: { dir: join(dir, "no-build") } });
  try {
    const { rolloutId } = await memory.enqueue({ input: "hand-made spans" });
    const [claimed] = await memory.dequeue({ workerId: "w" });
    await use({ memory, url: local.url, rolloutId, attemptId: claimed!.attempt.attemptId });
  } finally {
    await local.close();
    await memory.close();
  }
}

describe("the trace outline and span routes", () => {
  it("send every span in outline, each with the agent it ran for (its own, else its nearest ancestor's), and one span whole", async () => {
    await withAttempt(async ({ memory, url, rolloutId, attemptId }) => {
      const traceId = "b".repeat(32);
      const id = (n: number) => String(n).repeat(16);
      const at = 1_700_000_000_000;
      const span = (n: number, parent: number | null, attributes: Record<string, string | number>) => ({ rolloutId, attemptId, traceId, spanId: id(n), parentId: parent === null ? null : id(parent), name: `s${n}`, startTime: at + n, endTime: at + 10 * n, attributes });
      await memory.addSpans([
        span(1, null, { "tracetrain.agent.name": "boss", "tracetrain.span.type": "agent", "tracetrain.layer": "tracer" }),
        span(2, 1, { "tracetrain.span.type": "operation" }),
        span(3, 2, { "gen_ai.agent.name": "helper" }),
        span(4, 3, { "tracetrain.span.type": "reward", "tracetrain.reward.value": 0.5 }),
        span(5, 9, {}), // its parent was never recorded
      ]);
      const response = await fetch(`${url}/v1/rollouts/${rolloutId}/attempts/${attemptId}/trace`);
      expect(response.status).toBe(200);
      const outline = TraceOutlineSchema.parse(await response.json());
      expect(outline.spans.map((s) => [s.name, s.agent, s.type, s.layer, s.reward])).toEqual([
        ["s1", "boss", "agent", "tracer", null],
        ["s2", "boss", "operation", null, null],
        ["s3", "helper", null, null, null],
        ["s4", "helper", "reward", null, 0.5],
        ["s5", null, null, null, null],
      ]);
      expect(outline.spans[1]).toMatchObject({ spanId: id(2), parentId: id(1), startTime: at + 2, endTime: at + 20, status: "unset", sequence: 2 });

      const whole = await fetch(`${url}/v1/rollouts/${rolloutId}/attempts/${attemptId}/spans/${id(4)}`);
      const stored = (await memory.querySpans({ rolloutId, attemptId })).items.find((s) => s.spanId === id(4));
      expect(await whole.json()).toEqual(stored);

      const missing = await fetch(`${url}/v1/rollouts/${rolloutId}/attempts/${attemptId}/spans/${id(7)}`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toBe(`span '${id(7)}' not found in attempt '${attemptId}' of rollout '${rolloutId}'`);
      const typo = await fetch(`${url}/v1/rollouts/${rolloutId}/attempts/${attemptId}/trace?limit=10`);
      expect(typo.status).toBe(400);
      expect(((await typo.json()) as { error: { message: string } }).error.message).toBe("invalid trace query: limit: this route takes no query parameter");
      const noAttempt = await fetch(`${url}/v1/rollouts/${rolloutId}/attempts/at-nope/trace`);
      expect(noAttempt.status).toBe(404);
      expect(((await noAttempt.json()) as { error: { message: string } }).error.message).toContain("at-nope");
    });
  });
});

describe("the chat view under a selection", () => {
  const team = async () => {
    const rollout = (await store.queryRollouts({ mode: ["test"], limit: 1 })).items[0]!;
    const { attemptId } = rollout.attempts[0]!;
    const spans = (await store.querySpans({ rolloutId: rollout.rolloutId, attemptId })).items;
    return { base: `/v1/rollouts/${rollout.rolloutId}/attempts/${attemptId}`, spans };
  };

  it("selects the agents asked for, says why the others are not training data, and sends the exact token ids a call recorded", async () => {
    const { base, spans } = await team();
    const all = ChatViewSchema.parse(await get(`${base}/chat`));
    expect(all.agents).toEqual(["planner", "team", "writer"]);
    expect(all.selection).toEqual({ agents: null, credit: "final" });
    expect(all.diagnostics.summary).toBe("2 of 2 calls become training data");

    const view = ChatViewSchema.parse(await get(`${base}/chat?agents=planner&credit=perCall`));
    expect(view.selection).toEqual({ agents: ["planner"], credit: "perCall" });
    expect(view.calls.map((c) => [c.agentName, c.selected, c.exclusion])).toEqual([
      ["planner", true, null],
      ["writer", false, "agent_not_selected"],
    ]);
    expect(view.diagnostics).toMatchObject({ callsFound: 2, callsSelected: 1, creditPolicy: "perCall", summary: "1 of 2 calls become training data; 1 dropped: 1 agent not selected" });
    expect(view.diagnostics.dropped).toEqual([{ spanId: view.calls[1]!.callId, reason: "agent_not_selected", detail: "agent 'writer' is not selected" }]);

    const writerSpan = spans.find((s) => s.spanId === view.calls[1]!.callId)!;
    const writer = view.calls[1]!;
    expect(writer.promptTokenIds).toEqual(writerSpan.attributes["tracetrain.llm.prompt_token_ids"]);
    expect(writer.responses.map((r) => r.tokenIds)).toEqual(writerSpan.attributes["tracetrain.llm.response_token_ids"]);
    expect(writer.responses.map((r) => r.logprobs)).toEqual(writerSpan.attributes["tracetrain.llm.logprobs"]);
    expect(view.calls[0]!.promptTokenIds).toBeNull();
    expect(view.calls[0]!.responses.map((r) => r.tokenIds)).toEqual([null]);
    expect(view.calls.map((c) => c.layers)).toEqual([["openai"], ["openai"]]);
    expect(view.coverage.layers.find((l) => l.layer === "openai")).toEqual({ layer: "openai", spans: 2, calls: 2 });
    expect(view.coverage.warnings).toContain("1 of 2 call(s) have no token ids (text only: not trainable by RL); the gateway or a vLLM-style server records them");
  });

  it("answers 400 naming an unknown credit policy or query parameter", async () => {
    const { base } = await team();
    const credit = await fetch(`${server.url}${base}/chat?credit=best`);
    expect(credit.status).toBe(400);
    expect(((await credit.json()) as { error: { message: string } }).error.message).toBe("invalid credit policy: credit: unknown policy 'best': expected final, lastCall, perCall or discounted(γ)");
    const typo = await fetch(`${server.url}${base}/chat?agent=planner`);
    expect(typo.status).toBe(400);
    expect(((await typo.json()) as { error: { message: string } }).error.message).toBe("invalid chat view query: agent: unknown query parameter (expected one of agents, credit)");
  });
});

describe("the capture-coverage report", () => {
  it("merges one call recorded by two layers into one call, names both layers, and counts it once per layer", async () => {
    await withAttempt(async ({ memory, url, rolloutId, attemptId }) => {
      const at = { rolloutId, attemptId };
      // The SDK's record of the call (outer) and the gateway's (inner, with token ids): one call, response id r1.
      const spans = [
        root(1, at),
        llm(2, { ...at, parent: 1, responseId: "r1", agent: "writer" }),
        llm(3, { ...at, parent: 2, responseId: "r1", prompt: [1, 2], response: [3], logprobs: [-0.5], attributes: { "tracetrain.layer": "gateway", "tracetrain.llm.capture_warning": "logprobs for 1 of 2 tokens" } }),
        llm(4, { ...at, parent: 1, responseId: "r2", agent: "writer" }),
      ];
      await memory.addSpans(spans.map(({ sequence: _sequence, ...input }) => input));
      const response = await fetch(`${url}/v1/rollouts/${rolloutId}/attempts/${attemptId}/chat`);
      const view = ChatViewSchema.parse(await response.json());
      expect(view.calls.map((c) => [c.callId, c.layers, c.mergedSpanIds])).toEqual([
        [sid(3), ["gateway", "openai"], [sid(2)]],
        [sid(4), ["openai"], []],
      ]);
      expect(view.coverage.layers).toEqual([
        { layer: "gateway", spans: 1, calls: 1 },
        { layer: "openai", spans: 2, calls: 2 },
        { layer: "unlabelled", spans: 1, calls: 0 },
      ]);
      expect(view.coverage.merged).toBe(1);
      expect(view.coverage.warnings).toEqual([
        `call ${sid(3)}: logprobs for 1 of 2 tokens`,
        "1 of 2 call(s) have no token ids (text only: not trainable by RL); the gateway or a vLLM-style server records them",
      ]);
      expect(view.diagnostics.dropped.map((d) => [d.spanId, d.reason])).toEqual([[sid(2), "duplicate_call"]]);
    });
  });
});
