/**
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
  type TraceOutline,
  TraceOutlineSchema,
} from "../../src/types/index.js";
import type { Store } from "tracetrain";
import { type StoreServer, startStoreServer } from "tracetrain/server";
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
