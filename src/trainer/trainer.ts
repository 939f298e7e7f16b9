import type { Logger, ResourcesSnapshot, RolloutConfigInput, RolloutMode, RolloutStatusEvent, SpanInput, Task, TraceReport, Rollout } from "../types/index.js";
import { ConflictError, ValidationError, findJsonProblem, formatPath } from "../types/index.js";
import { type Store, isRolloutTerminal } from "../store/index.js";
import { createStore } from "../store/index.js";
import { Tracer } from "../tracer/index.js";
import { type Agent, isAgent } from "../runner/index.js";
import { Runner } from "../runner/index.js";
import { WorkerPool } from "../runner/index.js";
import { startStoreServer } from "../server/index.js";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { Algorithm } from "../algorithms/index.js";
import { type EvaluationResult, evaluate } from "../algorithms/index.js";
import { type ParsedTrainerOptions, type TrainerOptions, parseTrainerOptions } from "./options.js";
import { Progress } from "./progress.js";
import { formatSpanTree } from "./span-tree.js";
import { checkLlmEndpoints } from "./endpoint-check.js";

/** How long an LLM endpoint gets to answer the check before the first rollout. */
const DEFAULT_ENDPOINT_TIMEOUT_MS = 5000;

/** What `fit` returns. */
export interface FitResult<R> {
  algorithm: string;
  /** What the algorithm returned (e.g. the evaluation, the best prompt). */
  result: R;
  /** The latest resources snapshot when the run ended: what the algorithm published last. */
  resources: ResourcesSnapshot | undefined;
  /** True if the run was stopped by a signal before the algorithm finished. */
  interrupted: boolean;
}

/** One rollout run by `dev`, with everything recorded. */
export interface DevRollout<T> {
  task: T;
  rollout: Rollout;
  /** What the store holds for the attempt, counted (see {@link TraceReport}). */
  report: TraceReport;
  /** The attempt's spans as the store holds them: the gateway's and OTLP-ingested ones included. */
  spans: SpanInput[];
  /** The agent's error, if it threw. */
  error: unknown;
}

/**
 * Wires an agent, a store, runners and an algorithm together. `fit` runs the algorithm with
 * runners executing its rollouts in this process; `evaluate` scores the agent without learning;
 * `dev` runs a few rollouts and prints their traces.
 */
export class Trainer<R = unknown> {
  readonly tracer: Tracer;
  private readonly options: ParsedTrainerOptions<R>;
  private readonly logger: Logger;
  private storePromise: Promise<Store> | undefined;
  private ownsStore = false;
  private instrumented: Promise<unknown> | undefined;

  constructor(options: TrainerOptions<R> = {}) {
    this.options = parseTrainerOptions(options);
    this.logger = this.options.logger;
    this.tracer = this.options.tracer ?? new Tracer({ logger: this.logger });
  }

  /** Installs the instrumentations once per trainer (see {@link TrainerOptions.instrument}). */
  private instrument(): Promise<unknown> {
    const option = this.options.instrument;
    this.instrumented ??= option === false ? Promise.resolve() : this.tracer.instrument(option === true ? {} : option);
    return this.instrumented;
  }

  /** The store this trainer uses (opened on first use). */
  store(): Promise<Store> {
    this.storePromise ??= Promise.resolve().then(() => {
      const spec = this.options.store;
      if (typeof spec !== "string") return spec;
      this.ownsStore = true;
      return createStore(spec, { logger: this.logger });
    });
    return this.storePromise;
  }

  /**
   * Runs the algorithm over the datasets. `test` is an optional held-out split, checked like the
   * others: APO measures its final verdict on it and never searches on it; the other algorithms
   * ignore it.
   */
  async fit<T>(agent: Agent<T>, datasets: { train?: readonly T[]; val?: readonly T[]; test?: readonly T[] }): Promise<FitResult<R>> {
    return this.run(agent, this.options.algorithm, { train: datasets.train ?? [], val: datasets.val ?? [], test: datasets.test ?? [] });
  }

  /** Runs the agent once per task with the initial resources and reports the rewards. No learning. */
  async evaluate<T>(agent: Agent<T>, dataset: readonly T[], options: { mode?: RolloutMode } = {}): Promise<EvaluationResult> {
    const { result } = await this.run(agent, evaluate({ mode: options.mode ?? "test" }), { train: [], val: dataset, test: [] });
    return result;
  }

  /**
   * Runs the agent on a few tasks, one at a time, and prints each trace as a tree — for checking
   * that the tracer sees what you expect before a long run. Agent errors are reported, not thrown.
   */
  async dev<T>(agent: Agent<T>, tasks: readonly T[]): Promise<Array<DevRollout<T>>> {
    checkAgent(agent);
    checkTasks("tasks", tasks, true);
    await this.instrument();
    const store = await this.store();
    const snapshot = await this.publishInitialResources(store, agent);
    await this.checkEndpoints(snapshot, true);
    const runner = new Runner({ store, agent, tracer: this.tracer, logger: this.logger, hooks: this.options.hooks });
    const out: Array<DevRollout<T>> = [];
    for (const task of tasks) {
      try {
        const step = await runner.step(task, snapshot ? { resources: snapshot.resourcesId, mode: "train" } : { mode: "train" });
        out.push({ task, ...step, error: undefined });
      } catch (error) {
        const last = this.tracer.lastTrace();
        if (!last) throw error;
        out.push({ task, rollout: await store.getRollout(last.report.rolloutId), report: last.report, spans: last.spans, error });
      }
      const entry = out.at(-1)!;
      process.stderr.write(`${formatSpanTree(entry.spans, entry.report)}\n`);
    }
    return out;
  }

  private async run<T, A>(agent: Agent<T>, algorithm: Algorithm<A>, datasets: { train: readonly T[]; val: readonly T[]; test: readonly T[] }): Promise<FitResult<A>> {
    const { train, val, test } = datasets;
    checkAgent(agent);
    checkTasks("train", train, false);
    checkTasks("val", val, false);
    checkTasks("test", test, false);
    if (train.length === 0 && val.length === 0) {
      throw new ValidationError("datasets", [{ path: "train", message: "both train and val are empty: give at least one task" }]);
    }
    await this.instrument();
    const store = await this.store();
    const initialResources = await this.publishInitialResources(store, agent);
    await this.checkEndpoints(initialResources, this.options.runners !== 0);
    const progress = new Progress(this.options.progress);
    const interrupt = new AbortController();
    // Every rollout wait and LLM call of the run listens to this one signal: hundreds, legitimately.
    setMaxListeners(0, interrupt.signal);
    const created = new Set<string>();
    const track = (event: RolloutStatusEvent) => {
      if (event.previous === null) created.add(event.rolloutId);
    };
    store.events.on("rollout", track);
    const releaseSignals = this.options.handleSignals ? onSignals(() => interrupt.abort(), this.logger) : () => {};
    let executor: Executor | undefined;
    try {
      executor = await this.startExecutor(store, agent as Agent<unknown>, () => interrupt.abort());
      const result = await algorithm.run({
        store,
        train: train as readonly Task[],
        val: val as readonly Task[],
        test: test as readonly Task[],
        initialResources,
        adapter: this.options.adapter,
        ...(this.options.behaviour === undefined ? {} : { behaviour: this.options.behaviour }),
        rolloutConfig: this.options.rolloutConfig ?? executor.defaultRolloutConfig,
        logger: this.logger,
        progress,
        signal: interrupt.signal,
      });
      if (interrupt.signal.aborted) await cancelUnfinished(store, created);
      return { algorithm: algorithm.name, result, resources: await latestResources(store), interrupted: interrupt.signal.aborted };
    } finally {
      await executor?.stop();
      store.events.off("rollout", track);
      releaseSignals();
      progress.close();
    }
  }

  /** Starts whatever runs the rollouts: a Runner in this process, or worker processes behind a store server. */
  private async startExecutor(store: Store, agent: Agent<unknown>, interrupt: () => void): Promise<Executor> {
    const { graceMs, heartbeatIntervalMs, runners, hooks } = this.options;
    // Runners elsewhere can die like worker processes can: same default heartbeat timeout and retries.
    if (runners === 0) return { defaultRolloutConfig: REMOTE_ROLLOUT_CONFIG, stop: async () => {} };
    if (typeof runners === "number") {
      const runner = new Runner({ store, agent, tracer: this.tracer, logger: this.logger, concurrency: runners, heartbeatIntervalMs, hooks });
      const running = runner.run();
      const stop = async () => {
        await runner.stop({ graceMs });
        await running;
      };
      return { defaultRolloutConfig: {}, stop };
    }
    const token = randomUUID();
    const server = await startStoreServer({ store, port: 0, token, logger: this.logger });
    try {
      const pool = await WorkerPool.start({
        storeUrl: server.url,
        token,
        agent,
        processes: runners.processes,
        concurrency: runners.concurrency,
        heartbeatIntervalMs,
        graceMs,
        logger: this.logger,
        onAllExited: (reason) => {
          this.logger.error(`${reason}; stopping the run`);
          interrupt();
        },
      });
      const stop = async () => {
        await pool.stop();
        await server.close();
      };
      return { defaultRolloutConfig: REMOTE_ROLLOUT_CONFIG, pids: pool.pids, stop };
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** Publishes `initialResources` (if any) and checks the agent's declared resources exist. */
  private async publishInitialResources(store: Store, agent: Agent<unknown>): Promise<ResourcesSnapshot | undefined> {
    const snapshot = this.options.initialResources === undefined ? undefined : await store.addResources(this.options.initialResources);
    const missing = agent.requiredResources.filter((name) => !snapshot || !(name in snapshot.resources));
    if (missing.length > 0) {
      const available = snapshot ? Object.keys(snapshot.resources).join(", ") || "none" : "none (no initialResources given)";
      throw new ValidationError(
        "initialResources",
        missing.map((name) => ({ path: name, message: `agent '${agent.name}' needs resource '${name}', which initialResources does not define (defined: ${available})` })),
      );
    }
    return snapshot;
  }

  /** The `checkEndpoints` option: only where rollouts run in reach of this machine (`here`). */
  private async checkEndpoints(snapshot: ResourcesSnapshot | undefined, here: boolean): Promise<void> {
    const option = this.options.checkEndpoints;
    if (option === false || !here || snapshot === undefined) return;
    await checkLlmEndpoints(snapshot.resources, option === true ? DEFAULT_ENDPOINT_TIMEOUT_MS : option.timeoutMs);
  }

  /** Removes the instrumentations this trainer installed and closes the store if it opened it. */
  async close(): Promise<void> {
    if (this.instrumented) this.tracer.uninstrument();
    if (!this.ownsStore || this.storePromise === undefined) return;
    // A store that failed to open has nothing to close, and its error already reached the call
    // that opened it: `finally { await trainer.close() }` must not throw it a second time.
    const store = await this.storePromise.catch(() => undefined);
    await store?.close();
  }
}

/**
 * Rollout config when runners run in other processes (worker processes, remote runners) and none
 * was given: such runners can die, and without a heartbeat timeout their attempts would stay
 * `running` forever.
 */
const REMOTE_ROLLOUT_CONFIG: RolloutConfigInput = { heartbeatTimeoutMs: 15_000, maxAttempts: 3, retryOn: ["infra_error", "unresponsive"] };

/** What runs the rollouts of one `fit`. */
interface Executor {
  /** Rollout config used when the trainer was given none (worker processes need a heartbeat timeout). */
  defaultRolloutConfig: RolloutConfigInput;
  /** Worker process ids, in process mode. */
  pids?: number[];
  stop(): Promise<void>;
}

function checkAgent(agent: unknown): void {
  if (!isAgent(agent)) {
    throw new ValidationError("agent", [{ path: "agent", message: "expected an agent made with agent(fn) — wrap your function: agent(async (task, ctx) => …)" }]);
  }
}

/** Every task must be JSON: checked before any rollout runs, naming the first bad value. */
function checkTasks(name: string, tasks: unknown, requireOne: boolean): void {
  if (!Array.isArray(tasks)) throw new ValidationError("datasets", [{ path: name, message: `expected an array of tasks, got ${typeof tasks}` }]);
  if (requireOne && tasks.length === 0) throw new ValidationError("datasets", [{ path: name, message: "expected at least one task" }]);
  tasks.forEach((task, i) => {
    const problem = findJsonProblem(task);
    if (problem) throw new ValidationError("datasets", [{ path: formatPath([name, i, ...problem.path]), message: `task is not JSON-serialisable: ${problem.message}` }]);
  });
}

async function latestResources(store: Store): Promise<ResourcesSnapshot | undefined> {
  try {
    return await store.getResources("latest");
  } catch {
    return undefined;
  }
}

/** After an interruption: cancel what this run created and has not ended, so nothing is left queued. */
async function cancelUnfinished(store: Store, ids: Set<string>): Promise<void> {
  for (const id of ids) {
    try {
      const rollout = await store.getRollout(id);
      if (!isRolloutTerminal(rollout.status)) await store.cancelRollout(id, { reason: "the training run was interrupted" });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
}

/**
 * Ctrl-C / SIGTERM: the first asks for a clean stop; a second one forces the exit. Returns the
 * function that removes the handlers.
 */
function onSignals(stop: () => void, logger: Logger): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      logger.warn(`${signal}: stopping — running agents are being aborted; press Ctrl-C again to force exit`);
      stop();
    } else {
      process.exit(130);
    }
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
