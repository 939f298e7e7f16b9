/**
 * Store benchmark, shaped like Agent Lightning's: N simulated runners share one event loop and
 * each repeatedly dequeues a rollout, sends 3 turns of 3 spans and a reward span, and completes
 * the attempt, while a producer keeps the queue topped up. Prints one JSON line per backend:
 * throughput, p99 dequeue latency, and span throughput against a raw SQLite ceiling measured with
 * the same SQLite driver as the store (`driver` in the line: node:sqlite or better-sqlite3).
 *
 *   npm run bench -- store [--backend memory|sqlite|all] [--driver auto|node:sqlite|better-sqlite3]
 *                          [--rollouts N] [--runners N]
 */
import { spawnSync } from "node:child_process";
import { setMaxListeners } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { parseArgs } from "node:util";
import { type AttemptedRollout, type EnqueueRequest } from "tracetrain/schemas";
import { MemoryStore, type SqliteDriverName, SqliteStore } from "tracetrain/store";
import { type SpanInput, type Store } from "tracetrain";
import { measureSqliteCeiling } from "./lib/sqlite-ceiling.js";
import { SPANS_PER_ROLLOUT, TURNS, nextTraceId, rewardFor, rewardSpan, turnSpans } from "./lib/spans.js";
import { percentile, round } from "./lib/stats.js";

const BACKENDS = ["memory", "sqlite"] as const;
type Backend = (typeof BACKENDS)[number];

const DEFAULT_ROLLOUTS: Record<Backend, number> = { memory: 20_000, sqlite: 10_000 };
const DEFAULT_RUNNERS = 256;
const WARMUP_ROLLOUTS = 500;
const ENQUEUE_BATCH = 256;
const DEQUEUE_WAIT_MS = 1000;
/** No completion for this long means the store lost or stranded work: fail instead of hanging. */
const STALL_MS = 10_000;

const DRIVERS = ["auto", "node:sqlite", "better-sqlite3"] as const;
type DriverChoice = (typeof DRIVERS)[number];

interface Options {
  backends: Backend[];
  driver: DriverChoice;
  /** Undefined: the backend's default. */
  rollouts: number | undefined;
  runners: number;
}

/** One stdout line; scripts compare runs by these keys, so keep them stable. */
interface StoreBenchResult {
  bench: "store";
  backend: Backend;
  /** The SQLite driver of the store (sqlite) and of the ceiling (both backends). */
  driver: SqliteDriverName;
  runners: number;
  rollouts: number;
  rollouts_per_s: number;
  spans_per_s: number;
  p99_dequeue_ms: number;
  ceiling_spans_per_s: number;
  ratio_vs_ceiling: number;
}

export async function main(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const [backend, ...others] = options.backends;
  if (backend === undefined) return;
  if (others.length > 0) {
    // One fresh process per backend: the memory run leaves hundreds of MB of garbage that V8
    // reclaims lazily, which slowed the SQLite run and its ceiling after it by 5-20%.
    for (const each of options.backends) runInChildProcess(each, args);
    return;
  }
  const result = await benchBackend(backend, resolveDriver(options.driver), options.rollouts ?? DEFAULT_ROLLOUTS[backend], options.runners);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Runs this benchmark for one backend in a new process started like this one (through bench/run.ts). */
function runInChildProcess(backend: Backend, args: string[]): void {
  const dispatcher = process.argv[1];
  if (dispatcher === undefined) throw new Error("cannot tell how this process was started");
  // parseArgs keeps the last value of a repeated option, so the appended --backend wins.
  const argv = [...process.execArgv, dispatcher, "store", ...args, "--backend", backend];
  const child = spawnSync(process.execPath, argv, { stdio: "inherit" });
  if (child.status !== 0) throw new Error(`store/${backend} failed (exit code ${child.status ?? child.signal})`);
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      backend: { type: "string", default: "all" },
      driver: { type: "string", default: "auto" },
      rollouts: { type: "string" },
      runners: { type: "string" },
    },
  });
  const backend = values.backend;
  if (backend !== "all" && !isBackend(backend)) throw new Error(`--backend must be memory, sqlite or all (got '${backend}')`);
  const driver = values.driver;
  if (!(DRIVERS as readonly string[]).includes(driver)) throw new Error(`--driver must be ${DRIVERS.join(", ")} (got '${driver}')`);
  return {
    backends: backend === "all" ? [...BACKENDS] : [backend],
    driver: driver as DriverChoice,
    rollouts: values.rollouts === undefined ? undefined : positiveInt("--rollouts", values.rollouts),
    runners: values.runners === undefined ? DEFAULT_RUNNERS : positiveInt("--runners", values.runners),
  };
}

function isBackend(name: string): name is Backend {
  return (BACKENDS as readonly string[]).includes(name);
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer (got '${text}')`);
  return value;
}

/** The driver "auto" stands for on this Node: the one a SqliteStore opened with default options uses. */
function resolveDriver(choice: DriverChoice): SqliteDriverName {
  if (choice !== "auto") return choice;
  const probe = new SqliteStore(":memory:", { watchdogIntervalMs: false });
  void probe.close();
  return probe.driver;
}

function progress(backend: Backend, message: string): void {
  process.stderr.write(`[store/${backend}] ${message}\n`);
}

// ---- one backend ---------------------------------------------------------------------------

async function benchBackend(backend: Backend, driver: SqliteDriverName, rollouts: number, runners: number): Promise<StoreBenchResult> {
  // Every database file of this backend's run (WAL and SHM included) lives here and goes with it.
  const dir = mkdtempSync(join(tmpdir(), `tracetrain-bench-store-${backend}-`));
  try {
    // The ceiling goes first: measured after the memory store, whose garbage V8 had not yet
    // reclaimed, it came out up to 25% lower.
    const spans = rollouts * SPANS_PER_ROLLOUT;
    progress(backend, `raw ${driver} ceiling: ${spans} spans`);
    const ceiling = ceilingSpansPerS(join(dir, "ceiling"), spans, driver);
    // The warm-up lets V8 optimize the store's hot paths before the clock runs.
    progress(backend, `warm-up: ${WARMUP_ROLLOUTS} rollouts on a throwaway store`);
    await runOnFreshStore(backend, driver, join(dir, "warmup.db"), WARMUP_ROLLOUTS, runners);
    progress(backend, `measuring: ${rollouts} rollouts, ${runners} runners`);
    const run = await runOnFreshStore(backend, driver, join(dir, "store.db"), rollouts, runners);
    const seconds = run.wallMs / 1000;
    const spansPerS = run.spansAdded / seconds;
    return {
      bench: "store",
      backend,
      driver,
      runners,
      rollouts,
      rollouts_per_s: round(rollouts / seconds),
      spans_per_s: round(spansPerS),
      p99_dequeue_ms: round(percentile(run.dequeueMs, 99), 2),
      ceiling_spans_per_s: round(ceiling),
      ratio_vs_ceiling: round(spansPerS / ceiling, 3),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The raw SQLite ceiling for `spans` spans, after a short warm-up; its files are removed before the store runs. */
function ceilingSpansPerS(dir: string, spans: number, driver: SqliteDriverName): number {
  mkdirSync(dir);
  try {
    measureSqliteCeiling(join(dir, "warmup.db"), WARMUP_ROLLOUTS * SPANS_PER_ROLLOUT, driver);
    return measureSqliteCeiling(join(dir, "ceiling.db"), spans, driver);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openStore(backend: Backend, driver: SqliteDriverName, filename: string): Store {
  // Default options on purpose (but the driver): the watchdog timer runs, as it does in production.
  return backend === "memory" ? new MemoryStore() : new SqliteStore(filename, { driver });
}

async function runOnFreshStore(backend: Backend, driver: SqliteDriverName, filename: string, rollouts: number, runners: number): Promise<WorkloadResult> {
  const store = openStore(backend, driver, filename);
  try {
    const result = await runWorkload(store, rollouts, runners);
    await verify(store, rollouts, result.spansAdded, backend);
    return result;
  } finally {
    await store.close();
  }
}

/** Throws unless the store holds exactly what the workload put in: a benchmark that loses data is worthless. */
async function verify(store: Store, rollouts: number, spansAdded: number, backend: Backend): Promise<void> {
  const stats = await store.stats();
  const expectedSpans = rollouts * SPANS_PER_ROLLOUT;
  const problems = [
    stats.rollouts.total !== rollouts && `${stats.rollouts.total} rollouts stored, expected ${rollouts}`,
    stats.rollouts.succeeded !== rollouts && `${stats.rollouts.succeeded} rollouts succeeded, expected ${rollouts}`,
    stats.spans !== expectedSpans && `${stats.spans} spans stored, expected ${expectedSpans}`,
    spansAdded !== expectedSpans && `addSpans reported ${spansAdded} spans added, expected ${expectedSpans}`,
    stats.attempts.active !== 0 && `${stats.attempts.active} attempts still active`,
    stats.queueDepth !== 0 && `${stats.queueDepth} rollouts still queued`,
  ].filter((problem): problem is string => problem !== false);
  if (problems.length > 0) throw new Error(`store/${backend}: data check failed: ${problems.join("; ")}`);
}

// ---- the workload --------------------------------------------------------------------------

interface WorkloadResult {
  /** From the first enqueue to the last completion. */
  wallMs: number;
  /** Sum of `added` over every addSpans call. */
  spansAdded: number;
  /** Duration of each dequeue call that returned work. */
  dequeueMs: Float64Array;
}

/** State shared by the producer and the runners of one run. */
interface Workload {
  readonly store: Store;
  readonly total: number;
  readonly backlog: Backlog;
  /** Aborted when the last rollout completes or anything fails; ends pending long-polls at once. */
  readonly stop: AbortController;
  readonly dequeueMs: Float64Array;
  dequeues: number;
  spansAdded: number;
  completed: number;
  endedAt: number;
}

async function runWorkload(store: Store, total: number, runners: number): Promise<WorkloadResult> {
  const stop = new AbortController();
  // Every long-polling runner listens on the stop signal; that many listeners is expected, not a leak.
  setMaxListeners(runners + 16, stop.signal);
  const w: Workload = {
    store,
    total,
    // Two runner-fulls (at least two enqueue batches): a whole wave of runners finishing at once
    // still finds work queued.
    backlog: new Backlog(2 * Math.max(runners, ENQUEUE_BATCH), stop.signal),
    stop,
    dequeueMs: new Float64Array(total),
    dequeues: 0,
    spansAdded: 0,
    completed: 0,
    endedAt: Number.NaN,
  };
  // Runners start first and long-poll the empty queue, so the clock starts at the first enqueue.
  const tasks = Array.from({ length: runners }, (_, i) => stopOnFailure(w, runRunner(w, `runner-${i}`)));
  const startedAt = performance.now();
  tasks.push(stopOnFailure(w, produce(w)), stopOnFailure(w, failOnStall(w)));
  // Wait for every task, not just the first failure, so nothing still uses the store when it closes.
  const failure = (await Promise.allSettled(tasks)).find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure) throw failure.reason;
  return { wallMs: w.endedAt - startedAt, spansAdded: w.spansAdded, dequeueMs: w.dequeueMs.subarray(0, w.dequeues) };
}

function stopOnFailure(w: Workload, task: Promise<void>): Promise<void> {
  return task.catch((error: unknown) => {
    w.stop.abort();
    throw error;
  });
}

/** Enqueues the rollouts in batches, topping the queue up whenever the runners have drained it to the low-water mark. */
async function produce(w: Workload): Promise<void> {
  for (let enqueued = 0; enqueued < w.total; ) {
    await w.backlog.roomForMore();
    if (w.stop.signal.aborted) return;
    const size = Math.min(ENQUEUE_BATCH, w.total - enqueued);
    // Counted before the await: runners may claim part of the batch before enqueueMany returns.
    w.backlog.added(size);
    await w.store.enqueueMany(enqueueRequests(enqueued, size));
    enqueued += size;
  }
}

function enqueueRequests(first: number, count: number): EnqueueRequest[] {
  return Array.from({ length: count }, (_, i) => ({
    input: { taskId: `task-${first + i}`, question: "How many orders did each customer place in March?", database: "shop.sqlite" },
  }));
}

async function runRunner(w: Workload, workerId: string): Promise<void> {
  while (!w.stop.signal.aborted) {
    const started = performance.now();
    const claimed = await w.store.dequeue({ workerId, limit: 1, waitMs: DEQUEUE_WAIT_MS }, { signal: w.stop.signal });
    // Empty: the long-poll timed out or the run is over.
    if (claimed.length === 0) continue;
    // Only calls that returned work are recorded: an empty long-poll measures how long the queue
    // stayed empty (the producer), not the store. A call that waited and then got work still
    // includes its wait; with the backlog kept ahead, that is essentially the first wave only.
    w.dequeueMs[w.dequeues++] = performance.now() - started;
    w.backlog.claimed(claimed.length);
    for (const item of claimed) await runRollout(w, item);
  }
}

async function runRollout(w: Workload, { rollout, attempt }: AttemptedRollout): Promise<void> {
  const target = { rolloutId: rollout.rolloutId, attemptId: attempt.attemptId };
  const traceId = nextTraceId();
  for (let turn = 0; turn < TURNS; turn++) {
    await simulatedLlmCall();
    await addSpans(w, turnSpans(target, traceId, turn));
  }
  const reward = rewardFor(w.completed);
  await addSpans(w, [rewardSpan(target, traceId, reward)]);
  await w.store.completeAttempt(target.rolloutId, target.attemptId, { status: "succeeded", finalReward: reward });
  if (++w.completed === w.total) {
    w.endedAt = performance.now();
    w.stop.abort();
  }
}

/**
 * Stands in for the agent's LLM call, minus the latency: a real runner awaits I/O there, which lets
 * the event loop reach its timers. Without it the whole run is one unbroken chain of microtasks,
 * the store's watchdog timer never fires, and its cost silently goes unmeasured.
 */
function simulatedLlmCall(): Promise<void> {
  return yieldToEventLoop();
}

async function addSpans(w: Workload, spans: SpanInput[]): Promise<void> {
  // Not `w.spansAdded += (await …).added`: that reads the counter before the await and loses
  // every other runner's additions made meanwhile.
  const { added } = await w.store.addSpans(spans);
  w.spansAdded += added;
}

/** Rejects if no rollout completes for STALL_MS; resolves when the run stops. */
function failOnStall(w: Workload): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = -1;
    const timer = setInterval(() => {
      if (w.completed === seen) {
        clearInterval(timer);
        reject(new Error(`no rollout completed for ${STALL_MS} ms (${w.completed}/${w.total} done): the store lost or stranded work`));
      }
      seen = w.completed;
    }, STALL_MS);
    w.stop.signal.addEventListener("abort", () => {
      clearInterval(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * Rollouts enqueued but not yet claimed. The producer tops the queue up whenever this falls below
 * the low-water mark: work stays ahead of the runners without enqueueing everything up front.
 */
class Backlog {
  private pending = 0;
  private stopped = false;
  private wakeProducer: (() => void) | undefined;

  constructor(
    private readonly lowWater: number,
    stop: AbortSignal,
  ) {
    stop.addEventListener("abort", () => {
      this.stopped = true;
      this.wake();
    }, { once: true });
  }

  added(count: number): void {
    this.pending += count;
  }

  claimed(count: number): void {
    this.pending -= count;
    if (this.pending < this.lowWater) this.wake();
  }

  /** Resolves once the backlog is below the low-water mark, or the run has stopped. */
  roomForMore(): Promise<void> {
    if (this.stopped || this.pending < this.lowWater) return Promise.resolve();
    return new Promise((resolve) => (this.wakeProducer = resolve));
  }

  private wake(): void {
    const wake = this.wakeProducer;
    this.wakeProducer = undefined;
    wake?.();
  }
}
