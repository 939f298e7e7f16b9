/**
 * Dashboard benchmark (issue 17): what the Rollouts page and the trace page cost the store. Fills a
 * SQLite store through its own API with 100k rollouts and 1M spans (one attempt holds 10k
 * realistic LLM-call spans, the rest ~10 small spans each), then measures, on the filled store:
 *
 * - the first page (50 rows) of several filtered and sorted rollout listings, through the store
 *   in-process and through HttpStore on loopback (the dashboard's path): p50/p95 per combination;
 * - reading the 10k-span attempt (`querySpans`, limit 10k), both ways;
 * - a same-run reference: the unfiltered first page in creation order.
 *
 * Prints one JSON line per listing and transport, then a summary line
 *   {"bench":"dashboard","rollouts":100000,"spans":1000000,"list_p50_ms":…,"list_p95_ms":…,"trace_10k_ms":…,…}
 * where `list_p50_ms`/`list_p95_ms` are the slowest filtered combination's p50/p95 over HttpStore
 * and `trace_10k_ms` the median time to read the 10k-span attempt over HttpStore. The browser's
 * time to draw that trace (`render_10k_ms`) belongs to the dashboard slice and is not measured here.
 * The HTTP server runs in this process: requests are timed one at a time, so client and server
 * never compete for the event loop.
 *
 *   npm run bench -- dashboard [--rollouts N] [--spans N] [--samples N] [--keep PATH]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { JsonObject, ParsedSpanInput, RolloutQuery } from "tracetrain/schemas";
import { HttpStore, SqliteStore } from "tracetrain/store";
import { startStoreServer } from "tracetrain/server";
import type { Store } from "tracetrain";
import { nextSpanId, nextTraceId, turnSpans } from "./lib/spans.js";
import { percentile, round } from "./lib/stats.js";

const PAGE = 50;
const BATCH = 2000;
const TRACE_SPANS = 10_000;
const CITIES = ["Tokyo", "Paris", "Lima", "Oslo", "Cairo", "Quito", "Perth"];

interface Options {
  rollouts: number;
  spans: number;
  samples: number;
  keep: string | undefined;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: { rollouts: { type: "string", default: "100000" }, spans: { type: "string", default: "1000000" }, samples: { type: "string", default: "30" }, keep: { type: "string" } },
  });
  const count = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, got ${text}`);
    return n;
  };
  const rollouts = count("rollouts", values.rollouts, 100);
  const spans = count("spans", values.spans, TRACE_SPANS + rollouts);
  return { rollouts, spans, samples: count("samples", values.samples, 3), keep: values.keep };
}

const progress = (message: string) => process.stderr.write(`[dashboard] ${message}\n`);

/** A deterministic pseudo-random number in [0, 1) for rollout `i`: the same data every run. */
const unit = (i: number, salt: number) => (((i + 1) * 2654435761 + salt * 40503) >>> 0) / 2 ** 32;

function smallSpan(rolloutId: string, attemptId: string, traceId: string, j: number): ParsedSpanInput {
  const start = 1_700_000_000_000 + j * 5;
  return {
    rolloutId,
    attemptId,
    traceId,
    spanId: nextSpanId(),
    parentId: null,
    name: j % 3 === 0 ? "chat gpt-4o-mini" : j % 3 === 1 ? "tool search" : "tracetrain.reward",
    kind: "internal",
    startTime: start,
    endTime: start + 3,
    status: { code: "ok" },
    attributes: { "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 100 + j, "tracetrain.turn": j } satisfies JsonObject,
    events: [],
    links: [],
  };
}

const cancels = (i: number) => unit(i, 2) < 0.02;

function enqueueRequest(i: number) {
  const mode = unit(i, 1) < 0.8 ? "train" : unit(i, 1) < 0.95 ? "val" : "test";
  const input = { question: `Which room fits ${2 + (i % 11)} people in ${CITIES[i % CITIES.length]}?`, floor: i % 9, task: i };
  return { rolloutId: `ro-${String(i).padStart(7, "0")}`, mode, input } as const;
}

/**
 * Enqueues, claims, traces and completes the rollouts in batches: about 2% are cancelled while
 * queued, 1% stay running, 5% of the rest fail, the others succeed with a reward in [0, 1); the
 * last 1% are enqueued and never claimed. Returns the attempt that holds the 10k-span trace.
 */
async function fill(store: SqliteStore, options: Options): Promise<{ rolloutId: string; attemptId: string }> {
  const queued = Math.floor(options.rollouts * 0.01);
  const claimable = options.rollouts - queued;
  // Spans left to give and rollouts left to get them (every claimed one but the trace's), so the total is exact.
  let spansLeft = options.spans - TRACE_SPANS;
  let rolloutsLeft = Array.from({ length: claimable }, (_, i) => i).filter((i) => !cancels(i)).length - 1;
  let trace: { rolloutId: string; attemptId: string } | undefined;
  const started = performance.now();
  for (let from = 0; from < claimable; from += BATCH) {
    const requests = Array.from({ length: Math.min(BATCH, claimable - from) }, (_, k) => enqueueRequest(from + k));
    await store.enqueueMany(requests);
    await Promise.all(requests.filter((r) => cancels(r.input.task)).map((r) => store.cancelRollout(r.rolloutId)));
    const claimed = [];
    for (let more = await store.dequeue({ limit: 1000, workerId: "bench" }); more.length > 0; more = await store.dequeue({ limit: 1000, workerId: "bench" })) {
      claimed.push(...more);
    }
    const spans: ParsedSpanInput[] = [];
    for (const { rollout, attempt } of claimed) {
      const traceId = nextTraceId();
      if (trace === undefined) {
        trace = { rolloutId: rollout.rolloutId, attemptId: attempt.attemptId };
        for (let turn = 0; spans.length < TRACE_SPANS; turn++) spans.push(...turnSpans(trace, traceId, turn % 3).slice(0, TRACE_SPANS - spans.length));
        continue;
      }
      const count = Math.round(spansLeft / rolloutsLeft--);
      spansLeft -= count;
      for (let j = 0; j < count; j++) spans.push(smallSpan(rollout.rolloutId, attempt.attemptId, traceId, j));
    }
    for (let s = 0; s < spans.length; s += 20_000) await store.addSpans(spans.slice(s, s + 20_000));
    await Promise.all(
      claimed.map(({ rollout, attempt }) => {
        const i = (rollout.input as { task: number }).task;
        if (unit(i, 3) < 0.01) return undefined; // still running
        return unit(i, 3) < 0.06
          ? store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "failed", error: { kind: "agent_error", message: "wrong room" } })
          : store.completeAttempt(rollout.rolloutId, attempt.attemptId, { status: "succeeded", finalReward: round(unit(i, 4), 3) });
      }),
    );
    if ((from / BATCH) % 10 === 0) progress(`filled ${from + requests.length} rollouts in ${round((performance.now() - started) / 1000, 1)} s`);
  }
  await store.enqueueMany(Array.from({ length: queued }, (_, k) => enqueueRequest(claimable + k)));
  if (trace === undefined) throw new Error("no rollout was claimed: nothing to trace");
  return trace;
}

async function timeIt(samples: number, run: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  await run(); // warm: statement preparation and the first page of the cache are not what a user waits for twice
  const times = new Float64Array(samples);
  for (let k = 0; k < samples; k++) {
    const t = performance.now();
    await run();
    times[k] = performance.now() - t;
  }
  return { p50: round(percentile(times, 50), 2), p95: round(percentile(times, 95), 2) };
}

export async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const dir = options.keep === undefined ? mkdtempSync(join(tmpdir(), "tracetrain-dashboard-")) : undefined;
  const path = options.keep ?? join(dir!, "store.db");
  const store = new SqliteStore(path, { watchdogIntervalMs: false });
  const server = await startStoreServer({ store, port: 0 });
  const http = new HttpStore(server.url, { retryDelaysMs: [] });
  try {
    const fillStarted = performance.now();
    const trace = await fill(store, options);
    const fillSeconds = round((performance.now() - fillStarted) / 1000, 1);
    const stats = await store.stats();
    progress(`filled ${stats.rollouts.total} rollouts, ${stats.spans} spans in ${fillSeconds} s`);

    const all = (await store.queryRollouts({ limit: 1 })).items[0]!;
    const last = (await store.queryRollouts({ limit: 1, order: "desc" })).items[0]!;
    const midTime = (all.createdAt + last.createdAt) / 2;
    const secondPage = async (s: Store) => {
      const first = await s.queryRollouts({ status: ["succeeded"], sortBy: "finalReward", order: "desc", limit: PAGE });
      return s.queryRollouts({ status: ["succeeded"], sortBy: "finalReward", order: "desc", limit: PAGE, cursor: first.nextCursor! });
    };
    const listings: Array<{ name: string; reference?: true; run: (s: Store) => Promise<unknown> }> = [
      { name: "unfiltered", reference: true, run: (s) => s.queryRollouts({ limit: PAGE }) },
      ...(
        [
          ["newest_first", { order: "desc" }],
          ["succeeded_by_reward_desc", { status: ["succeeded"], sortBy: "finalReward", order: "desc" }],
          ["val_newest", { mode: ["val"], order: "desc" }],
          ["text_common", { text: "tokyo", order: "desc" }],
          ["text_rare", { text: "ro-0042424" }],
          ["reward_range_by_duration", { minReward: 0.8, maxReward: 0.9, sortBy: "duration", order: "desc" }],
          ["failed_recent_by_ended", { status: ["failed"], createdAfter: midTime, sortBy: "endedAt", order: "desc" }],
          ["all_filters", { status: ["succeeded", "failed"], mode: ["train", "test"], text: "paris", minReward: 0.5, createdAfter: midTime, sortBy: "finalReward" }],
        ] as Array<[string, RolloutQuery]>
      ).map(([name, query]) => ({ name, run: (s: Store) => s.queryRollouts({ ...query, limit: PAGE }) })),
      // Two requests: the first page, then the page after its cursor.
      { name: "second_page_by_reward", run: secondPage },
    ];

    let listP50 = 0;
    let listP95 = 0;
    let reference = 0;
    for (const listing of listings) {
      for (const [transport, target] of [["store", store], ["http", http]] as const) {
        const { p50, p95 } = await timeIt(options.samples, () => listing.run(target));
        process.stdout.write(`${JSON.stringify({ bench: "dashboard", case: `list_${listing.name}`, transport, page: PAGE, p50_ms: p50, p95_ms: p95 })}\n`);
        if (transport !== "http") continue;
        if (listing.reference) reference = p50;
        else {
          listP50 = Math.max(listP50, p50);
          listP95 = Math.max(listP95, p95);
        }
      }
    }
    const traces: Record<string, number> = {};
    for (const [transport, target] of [["store", store], ["http", http]] as const) {
      const read = async () => {
        const page = await target.querySpans({ ...trace, limit: TRACE_SPANS });
        if (page.items.length !== TRACE_SPANS) throw new Error(`read ${page.items.length} spans of the ${TRACE_SPANS}-span attempt`);
      };
      const { p50, p95 } = await timeIt(Math.max(3, Math.ceil(options.samples / 3)), read);
      traces[transport] = p50;
      process.stdout.write(`${JSON.stringify({ bench: "dashboard", case: "trace_10k", transport, p50_ms: p50, p95_ms: p95 })}\n`);
    }
    process.stdout.write(
      `${JSON.stringify({
        bench: "dashboard",
        rollouts: stats.rollouts.total,
        spans: stats.spans,
        list_p50_ms: listP50,
        list_p95_ms: listP95,
        trace_10k_ms: traces.http,
        trace_10k_store_ms: traces.store,
        unfiltered_p50_ms: reference,
        fill_s: fillSeconds,
        note: "list_*: slowest filtered first page over HttpStore; render_10k_ms is measured by the browser slice",
      })}\n`,
    );
  } finally {
    await http.close();
    await server.close();
    await store.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}
