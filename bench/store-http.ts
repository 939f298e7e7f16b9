/**
 * Store benchmark over HTTP, shaped like Agent Lightning's: rollouts enqueued in batches of 256,
 * then N runner tasks — async loops in this process, each talking to the store server through
 * HttpStore — repeatedly dequeue a rollout, send T turns of 3 spans (~20 attributes each) and a
 * reward span, and complete the attempt. SQLite and PostgreSQL behind the server; 64 and 256
 * runners; 3 and 6 turns. Prints one JSON line per case:
 *
 *   {"bench":"store-http","backend":…,"runners":…,"turns":…,"rollouts_per_s":…,"spans_per_s":…,
 *    "p50_ms":…,"p99_ms":…,"ceiling_req_per_s":…, …}
 *
 * p50/p99: latency of every store call the runners made (dequeues that returned work, every
 * addSpans, every completion) — only dequeues that came back empty are left out, as they measure
 * an empty queue, not the store. The ceiling: requests per second a bare node:http echo server (in
 * a child process, like the store server) answers for the same client — the same concurrency, the
 * same keep-alive agents, a turn's span batch as the body — measured in the same run.
 *
 * The server always runs in a child process, so the client (this process) and the server do not
 * share one event loop: on a 2-core machine each gets a core, as on two machines.
 *
 *   npm run bench -- store-http [--backend sqlite|postgres|all] [--rollouts N] [--runners 64,256]
 *                               [--turns 3,6] [--profile DIR]
 *
 * PostgreSQL cases need DATABASE_URL (each gets a fresh schema, dropped afterwards); without it they
 * are skipped with a note on stderr. `--profile DIR` runs the server child under `node --cpu-prof`
 * and writes its profiles to DIR.
 */
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { type AttemptedRollout, type ParsedSpanInput } from "tracetrain/schemas";
import { HttpStore } from "tracetrain/store";
import { type Logger } from "tracetrain";
import { startChild } from "./lib/child.js";
import { SPANS_PER_TURN, TURNS, nextTraceId, rewardFor, rewardSpan, turnSpans } from "./lib/spans.js";
import { percentile, round } from "./lib/stats.js";

const BACKENDS = ["sqlite", "postgres"] as const;
type Backend = (typeof BACKENDS)[number];

const ENQUEUE_BATCH = 256;
const DEFAULT_ROLLOUTS = 4_000;
const WARMUP_ROLLOUTS = 500;
const DEQUEUE_WAIT_MS = 1000;
/** Each HttpStore (one "runner machine") keeps at most this many connections; runners are spread over ⌈N/64⌉ of them. */
const RUNNERS_PER_CLIENT = 64;
/** No completion for this long means work was lost or stranded: fail instead of hanging. */
const STALL_MS = 15_000;
const ECHO_SECONDS = 3;

const CHILD = fileURLToPath(new URL("./lib/http-server-child.ts", import.meta.url));

interface Options {
  backends: Backend[];
  rollouts: number;
  runners: number[];
  turns: number[];
  profileDir: string | undefined;
}

/** One stdout line; scripts compare runs by these keys, so keep them stable. */
interface StoreHttpResult {
  bench: "store-http";
  backend: Backend;
  runners: number;
  turns: number;
  rollouts: number;
  rollouts_per_s: number;
  spans_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** Store requests per second the runners made (to compare with the ceiling). */
  req_per_s: number;
  ceiling_req_per_s: number;
}

export async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const url = process.env.DATABASE_URL;
  const backends = options.backends.filter((backend) => {
    if (backend === "postgres" && !url) {
      process.stderr.write('[store-http] skipping the PostgreSQL cases: DATABASE_URL is not set (eval "$(scripts/test-postgres.sh)" starts a local server)\n');
      return false;
    }
    return true;
  });
  // The ceiling first, once per concurrency, from a fresh echo server in a child process.
  const ceilings = new Map<number, number>();
  for (const runners of options.runners) {
    progress(`echo ceiling: ${runners} concurrent clients for ${ECHO_SECONDS} s`);
    ceilings.set(runners, await measureEchoCeiling(runners, options.profileDir));
  }
  for (const backend of backends) {
    for (const runners of options.runners) {
      for (const turns of options.turns) {
        const result = await benchCase(backend, runners, turns, options, ceilings.get(runners)!, url);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      }
    }
  }
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      backend: { type: "string", default: "all" },
      rollouts: { type: "string" },
      runners: { type: "string", default: "64,256" },
      turns: { type: "string", default: "3,6" },
      profile: { type: "string" },
    },
  });
  const backend = values.backend;
  if (backend !== "all" && !(BACKENDS as readonly string[]).includes(backend)) throw new Error(`--backend must be sqlite, postgres or all (got '${backend}')`);
  const list = (flag: string, text: string) => text.split(",").map((t) => positiveInt(flag, t));
  return {
    backends: backend === "all" ? [...BACKENDS] : [backend as Backend],
    rollouts: values.rollouts === undefined ? DEFAULT_ROLLOUTS : positiveInt("--rollouts", values.rollouts),
    runners: list("--runners", values.runners),
    turns: list("--turns", values.turns),
    profileDir: values.profile,
  };
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer (got '${text}')`);
  return value;
}

function progress(message: string): void {
  process.stderr.write(`[store-http] ${message}\n`);
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error: (message) => process.stderr.write(`[client] ${message}\n`) };

// ---- the server child ------------------------------------------------------------------------

/** Starts bench/lib/http-server-child.ts and waits for its URL. */
async function startServer(args: string[], profileDir: string | undefined): Promise<{ url: string; stop(): Promise<void> }> {
  const child = await startChild<{ url: string }>(CHILD, args, profileDir);
  return { url: child.info.url, stop: () => child.stop() };
}

// ---- the ceiling ------------------------------------------------------------------------------

/** Requests per second a bare echo server answers for `concurrency` clients sending a turn's span batch. */
async function measureEchoCeiling(concurrency: number, profileDir: string | undefined): Promise<number> {
  const child = await startServer(["echo"], profileDir);
  const target = { rolloutId: "ro-echo", attemptId: "at-echo" };
  const body = JSON.stringify({ spans: turnSpans(target, nextTraceId(), 0) });
  const agents = Array.from({ length: Math.ceil(concurrency / RUNNERS_PER_CLIENT) }, () => new HttpAgent({ keepAlive: true, maxSockets: RUNNERS_PER_CLIENT }));
  const endpoint = new URL("/v1/spans", child.url);
  const post = (agent: HttpAgent) =>
    new Promise<void>((resolve, reject) => {
      const request = httpRequest(
        endpoint,
        { method: "POST", agent, headers: { accept: "application/json", "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (response) => {
          response.setEncoding("utf8");
          let text = "";
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => (text.length === body.length ? resolve() : reject(new Error("the echo server answered something else"))));
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  const run = async (seconds: number) => {
    let count = 0;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, i) => {
        const agent = agents[Math.floor(i / RUNNERS_PER_CLIENT)]!;
        while (performance.now() < deadline) {
          await post(agent);
          count++;
        }
      }),
    );
    return count / ((performance.now() - started) / 1000);
  };
  try {
    await run(0.5); // warm-up: connections open, code optimized
    return await run(ECHO_SECONDS);
  } finally {
    for (const agent of agents) agent.destroy();
    await child.stop();
  }
}

// ---- one case ---------------------------------------------------------------------------------

async function benchCase(backend: Backend, runners: number, turns: number, options: Options, ceiling: number, url: string | undefined): Promise<StoreHttpResult> {
  const dir = mkdtempSync(join(tmpdir(), "tracetrain-bench-store-http-"));
  const schema = `tt_bench_${randomBytes(6).toString("hex")}`;
  const args = backend === "sqlite" ? ["store", `sqlite:${join(dir, "store.db")}`] : ["store", url!, schema];
  const child = await startServer(args, options.profileDir);
  try {
    const clients = Array.from({ length: Math.ceil(runners / RUNNERS_PER_CLIENT) }, () => new HttpStore(child.url, { logger: quiet, retryDelaysMs: [] }));
    try {
      progress(`${backend}, ${runners} runners, ${turns} turns: warm-up (${WARMUP_ROLLOUTS} rollouts)`);
      const warm = await runWorkload(clients, WARMUP_ROLLOUTS, runners, turns);
      progress(`${backend}, ${runners} runners, ${turns} turns: measuring ${options.rollouts} rollouts`);
      const run = await runWorkload(clients, options.rollouts, runners, turns);
      await verify(clients[0]!, WARMUP_ROLLOUTS + options.rollouts, warm.spansAdded + run.spansAdded, turns, `${backend}/${runners}/${turns}`);
      const seconds = run.wallMs / 1000;
      return {
        bench: "store-http",
        backend,
        runners,
        turns,
        rollouts: options.rollouts,
        rollouts_per_s: round(options.rollouts / seconds),
        spans_per_s: round(run.spansAdded / seconds),
        p50_ms: round(percentile(run.latencies, 50), 2),
        p99_ms: round(percentile(run.latencies, 99), 2),
        req_per_s: round(run.requests / seconds),
        ceiling_req_per_s: round(ceiling),
      };
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  } finally {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
    if (backend === "postgres") await dropSchema(url!, schema);
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client(url);
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

/** Throws unless the store holds exactly what the runs put in: a benchmark that loses data is worthless. */
async function verify(store: HttpStore, rollouts: number, spansAdded: number, turns: number, label: string): Promise<void> {
  const stats = await store.stats();
  const expectedSpans = rollouts * (turns * SPANS_PER_TURN + 1);
  const problems = [
    stats.rollouts.total !== rollouts && `${stats.rollouts.total} rollouts stored, expected ${rollouts}`,
    stats.rollouts.succeeded !== rollouts && `${stats.rollouts.succeeded} rollouts succeeded, expected ${rollouts}`,
    stats.attempts.total !== rollouts && `${stats.attempts.total} attempts, expected one per rollout`,
    stats.spans !== expectedSpans && `${stats.spans} spans stored, expected ${expectedSpans}`,
    spansAdded !== expectedSpans && `addSpans reported ${spansAdded} spans added, expected ${expectedSpans}`,
    stats.attempts.active !== 0 && `${stats.attempts.active} attempts still active`,
    stats.queueDepth !== 0 && `${stats.queueDepth} rollouts still queued`,
  ].filter((problem): problem is string => problem !== false);
  if (problems.length > 0) throw new Error(`store-http/${label}: data check failed: ${problems.join("; ")}`);
}

// ---- the workload -----------------------------------------------------------------------------

interface WorkloadResult {
  /** From the first enqueue to the last completion. */
  wallMs: number;
  spansAdded: number;
  /** Store calls made by the runners. */
  requests: number;
  latencies: Float64Array;
}

interface Workload {
  readonly total: number;
  readonly turns: number;
  readonly stop: AbortController;
  latencies: number[];
  requests: number;
  spansAdded: number;
  completed: number;
  lastProgressAt: number;
  endedAt: number;
}

async function runWorkload(clients: HttpStore[], total: number, runners: number, turns: number): Promise<WorkloadResult> {
  const stop = new AbortController();
  // Every long-polling runner listens on the stop signal; that many listeners is expected, not a leak.
  setMaxListeners(runners + 16, stop.signal);
  const w: Workload = { total, turns, stop, latencies: [], requests: 0, spansAdded: 0, completed: 0, lastProgressAt: performance.now(), endedAt: Number.NaN };
  // Runners start first and long-poll the empty queue, so the clock starts at the first enqueue. The
  // pause also lets the server close the long-polls a previous run gave up (one still open when work
  // arrives would claim it for a client that is gone).
  const tasks = Array.from({ length: runners }, (_, i) => stopOnFailure(w, runRunner(w, clients[Math.floor(i / RUNNERS_PER_CLIENT)]!, `runner-${i}`)));
  await new Promise((r) => setTimeout(r, 100));
  const startedAt = performance.now();
  // The producer is an algorithm on another machine: a client of its own, never queued behind the runners' connections.
  const producer = new HttpStore(clients[0]!.url, { logger: quiet, retryDelaysMs: [] });
  tasks.push(stopOnFailure(w, produce(w, producer)), stopOnFailure(w, failOnStall(w)));
  const failure = (await Promise.allSettled(tasks)).find((r): r is PromiseRejectedResult => r.status === "rejected");
  await producer.close();
  if (failure) throw failure.reason;
  return { wallMs: w.endedAt - startedAt, spansAdded: w.spansAdded, requests: w.requests, latencies: Float64Array.from(w.latencies) };
}

function stopOnFailure(w: Workload, task: Promise<void>): Promise<void> {
  return task.catch((error: unknown) => {
    w.stop.abort();
    throw error;
  });
}

/** Enqueues everything in batches of 256, as an algorithm publishing a round of tasks would. */
async function produce(w: Workload, client: HttpStore): Promise<void> {
  for (let enqueued = 0; enqueued < w.total && !w.stop.signal.aborted; enqueued += ENQUEUE_BATCH) {
    const size = Math.min(ENQUEUE_BATCH, w.total - enqueued);
    await client.enqueueMany(
      Array.from({ length: size }, (_, i) => ({
        input: { taskId: `task-${enqueued + i}`, question: "How many orders did each customer place in March?", database: "shop.sqlite" },
      })),
    );
  }
}

/** Times one store call and counts it. */
async function timed<T>(w: Workload, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await call();
  w.latencies.push(performance.now() - started);
  w.requests++;
  return result;
}

async function runRunner(w: Workload, store: HttpStore, workerId: string): Promise<void> {
  while (!w.stop.signal.aborted) {
    const started = performance.now();
    const claimed = await store.dequeue({ workerId, limit: 1, waitMs: DEQUEUE_WAIT_MS }, { signal: w.stop.signal });
    if (claimed.length === 0) continue; // the queue stayed empty (or the run is over): not a store latency
    w.latencies.push(performance.now() - started);
    w.requests++;
    for (const item of claimed) await runRollout(w, store, item);
  }
}

async function runRollout(w: Workload, store: HttpStore, { rollout, attempt }: AttemptedRollout): Promise<void> {
  const target = { rolloutId: rollout.rolloutId, attemptId: attempt.attemptId };
  const traceId = nextTraceId();
  const send = async (spans: ParsedSpanInput[]) => {
    const result = await timed(w, () => store.addSpans(spans));
    w.spansAdded += result.added;
  };
  // Turns past the third reuse the shapes of the first three, so every turn carries the same payload.
  for (let turn = 0; turn < w.turns; turn++) await send(turnSpans(target, traceId, turn % TURNS));
  const reward = rewardFor(w.completed);
  await send([rewardSpan(target, traceId, reward)]);
  await timed(w, () => store.completeAttempt(target.rolloutId, target.attemptId, { status: "succeeded", finalReward: reward }));
  w.lastProgressAt = performance.now();
  if (++w.completed === w.total) {
    w.endedAt = performance.now();
    w.stop.abort();
  }
}

async function failOnStall(w: Workload): Promise<void> {
  while (!w.stop.signal.aborted) {
    await new Promise((r) => setTimeout(r, 500));
    if (!w.stop.signal.aborted && performance.now() - w.lastProgressAt > STALL_MS) {
      throw new Error(`no rollout completed for ${STALL_MS} ms (${w.completed}/${w.total} done): work was lost or stranded`);
    }
  }
}
