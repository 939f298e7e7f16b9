/**
 * Dashboard benchmark (issue 17): what the Rollouts page and the trace page cost. Fills a SQLite
 * store through its own API with 100k rollouts and 1M spans (one attempt holds 10k realistic
 * LLM-call spans, the rest ~10 small spans each), then measures, on the filled store:
 *
 * - the first page (50 rows) of several filtered and sorted rollout listings, through the store
 *   in-process and through HttpStore on loopback (the dashboard's path): p50/p95 per combination;
 * - the trace page's request for the 10k-span attempt: `GET …/attempts/:id/trace` (every span in
 *   outline: what the waterfall draws), fetched and parsed as the page does it; and, as same-run
 *   references, reading the same spans whole with `querySpans` (in-process and over HttpStore,
 *   which also validates every span) and the chat view the page asks for next;
 * - in Chromium (playwright-core driving /usr/bin/chromium): from navigating to that trace until
 *   its waterfall is drawn (the page sets `data-drawn` on #waterfall once its rows are in place).
 *
 * Prints one JSON line per measurement, then exactly
 *   {"bench":"dashboard","rollouts":…,"spans":…,"list_p50_ms":…,"trace_10k_ms":…,"render_10k_ms":…}
 * where `list_p50_ms` is the slowest filtered combination's p50 over HttpStore, `trace_10k_ms` the
 * median of the trace request and `render_10k_ms` the median time to draw; the reference line
 * before it holds the same-run figures to compare with.
 * The HTTP server runs in this process: requests are timed one at a time, so client and server
 * never compete for the event loop (the browser is another process).
 *
 *   npm run bench -- dashboard [--rollouts N] [--spans N] [--samples N] [--keep PATH]
 *   DASHBOARD_BENCH_ROLLOUTS=2000 DASHBOARD_BENCH_SPANS=30000 npm run bench -- dashboard   (a quick run while developing)
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
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
    options: {
      rollouts: { type: "string", default: process.env.DASHBOARD_BENCH_ROLLOUTS ?? "100000" },
      spans: { type: "string", default: process.env.DASHBOARD_BENCH_SPANS ?? "1000000" },
      samples: { type: "string", default: "30" },
      keep: { type: "string" },
    },
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

function expectSpans(count: number, what: string): void {
  if (count !== TRACE_SPANS) throw new Error(`${what} gave ${count} spans of the ${TRACE_SPANS}-span attempt`);
}

const CHROMIUM = "/usr/bin/chromium";

/**
 * Milliseconds from navigating to the trace until its waterfall is drawn, in a fresh browser
 * context each time (no cache): the dashboard as `npm run build` builds it, served by this server.
 */
async function renderTimes(url: string, trace: { rolloutId: string; attemptId: string }, samples: number): Promise<{ drawn: number[]; complete: number[] }> {
  if (!existsSync(CHROMIUM)) throw new Error(`render_10k_ms needs Chromium at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
  const drawn: number[] = [];
  const complete: number[] = [];
  try {
    const hash = `#/trace/${encodeURIComponent(trace.rolloutId)}/${encodeURIComponent(trace.attemptId)}`;
    // The first run warms the browser and the server's statement cache; it is not counted.
    for (let k = 0; k <= samples; k++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`${url}/${hash}`, { waitUntil: "commit" });
      await page.locator(`#waterfall[data-drawn='${TRACE_SPANS}']`).waitFor({ timeout: 60_000 });
      // The chat view comes next; waiting for it keeps its work from spilling into the next sample.
      await page.locator("#diagnostics-summary").waitFor({ timeout: 60_000 });
      // Both read on the page's clock, from navigation start: this process also runs the server, so
      // its own clock would count the server's work on the chat view into the waterfall's time.
      const [drawnAt, completeAt] = await page.evaluate(() => [performance.getEntriesByName("tracetrain:waterfall-drawn")[0]?.startTime ?? Number.NaN, performance.now()]);
      await context.close();
      if (errors.length > 0) throw new Error(`the trace page failed: ${errors.join("; ")}`);
      if (k === 0) continue;
      if (!Number.isFinite(drawnAt)) throw new Error("the trace page drew its waterfall without marking it (performance mark tracetrain:waterfall-drawn)");
      drawn.push(drawnAt!);
      complete.push(completeAt!);
    }
    return { drawn, complete };
  } finally {
    await browser.close();
  }
}

export async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const dir = options.keep === undefined ? mkdtempSync(join(tmpdir(), "tracetrain-dashboard-")) : undefined;
  const path = options.keep ?? join(dir!, "store.db");
  const store = new SqliteStore(path, { watchdogIntervalMs: false });
  const build = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-build-"));
  execFileSync(process.execPath, [fileURLToPath(new URL("../scripts/build-dashboard.mjs", import.meta.url)), build], { stdio: ["ignore", "ignore", "inherit"] });
  const server = await startStoreServer({ store, port: 0, dashboard: { dir: build } });
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
    const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ bench: "dashboard", ...line })}\n`);
    const samples = Math.max(3, Math.ceil(options.samples / 3));
    const base = `${server.url}/v1/rollouts/${encodeURIComponent(trace.rolloutId)}/attempts/${encodeURIComponent(trace.attemptId)}`;
    // What the page does: fetch, then parse the JSON (the browser parses it too; nothing validates it again).
    const pageRequest = (path: string, check: (body: unknown) => void) => async () => {
      const response = await fetch(`${base}${path}`);
      if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
      check(await response.json());
    };
    const outline = await timeIt(samples, pageRequest("/trace", (body) => expectSpans((body as { spans: unknown[] }).spans.length, "trace outline")));
    print({ case: "trace_10k", request: "GET /attempts/:id/trace (page)", p50_ms: outline.p50, p95_ms: outline.p95 });
    const whole: Record<string, number> = {};
    for (const [transport, target] of [["store", store], ["http", http]] as const) {
      const { p50, p95 } = await timeIt(samples, async () => expectSpans((await target.querySpans({ ...trace, limit: TRACE_SPANS })).items.length, "querySpans"));
      whole[transport] = p50;
      print({ case: "trace_10k_whole_spans", transport, p50_ms: p50, p95_ms: p95 });
    }
    const chat = await timeIt(samples, pageRequest("/chat", () => undefined));
    print({ case: "trace_10k_chat_view", request: "GET /attempts/:id/chat (page, after the waterfall)", p50_ms: chat.p50, p95_ms: chat.p95 });
    const render = await renderTimes(server.url, trace, samples);
    const renderP50 = round(percentile(Float64Array.from(render.drawn), 50), 1);
    const completeP50 = round(percentile(Float64Array.from(render.complete), 50), 1);
    print({ case: "render_10k", waterfall_p50_ms: renderP50, with_chat_p50_ms: completeP50, samples });
    print({
      case: "reference",
      list_p95_ms: listP95,
      unfiltered_p50_ms: reference,
      trace_10k_whole_spans_http_ms: whole.http,
      trace_10k_whole_spans_store_ms: whole.store,
      chat_view_10k_ms: chat.p50,
      render_10k_with_chat_ms: completeP50,
      fill_s: fillSeconds,
      note: "list_*: slowest filtered first page over HttpStore; trace_10k_ms: the trace page's span request; whole_spans: the same spans read whole (the page's request before this change)",
    });
    print({ rollouts: stats.rollouts.total, spans: stats.spans, list_p50_ms: listP50, trace_10k_ms: outline.p50, render_10k_ms: renderP50 });
  } finally {
    await http.close();
    await server.close();
    await store.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    rmSync(build, { recursive: true, force: true });
  }
}
