import { hostname } from "node:os";
import type {
  AttemptCompletion,
  AttemptedRollout,
  Logger,
  ResourcesMap,
  ResourcesMapInput,
  Rollout,
  RolloutMode,
  SpanInput,
  Substitution,
  TraceReport,
} from "../types/index.js";
import { ConflictError, StoreClosedError, TracetrainError, substitutionsOf } from "../types/index.js";
import type { Store } from "../store/index.js";
import { isAttemptActive, spansOf } from "../store/index.js";
import { Tracer, currentFrame, emitReward } from "../tracer/index.js";
import type { Agent } from "./agent.js";
import { createAgentContext } from "./agent-context.js";
import { FailureLog, describeAgentError } from "./failures.js";
import { type RunnerHooks, callHook } from "./hooks.js";
import { type ParsedRunnerOptions, type RunnerOptions, parseRunnerOptions } from "./options.js";
import { sleep } from "../util/index.js";

/** Why a running agent's signal fired. */
export type AbortCause = "timeout" | "cancelled" | "shutdown";

/** Counts of what a runner did. */
export interface RunnerStats {
  started: number;
  succeeded: number;
  failed: number;
  /** Attempts that ended elsewhere (cancelled, timed out by the watchdog) before the agent finished. */
  superseded: number;
  running: number;
}

/** What `step()` returns: the stored rollout after the attempt, and its spans and report as the store holds them. */
export interface StepResult {
  rollout: Rollout;
  report: TraceReport;
  spans: SpanInput[];
}

interface Execution {
  claimed: AttemptedRollout;
  /** Run by `step()` (someone is looking at its report), not taken from the queue. */
  stepped: boolean;
  controller: AbortController;
  /** Set once the attempt's outcome has been sent to the store (by the agent's end, a timeout or the shutdown). */
  completed: boolean;
  /** Settles when the attempt is over, with what happened (undefined if the agent never ran). */
  result: Promise<ExecutionResult | undefined>;
}

interface ExecutionResult extends StepResult {
  /** What the agent threw, if it did. */
  error: unknown;
}

/**
 * Pulls rollouts from a store and runs the agent on them, `concurrency` at a time on this event
 * loop. For each one it resolves the resources, runs the agent under the tracer, keeps the attempt
 * alive with heartbeats, and completes it with the outcome reward — or with an error that says
 * whose fault it was: an exception thrown by the agent is `agent_error`; unavailable resources or
 * a shutdown mid-run are `infra_error`; a timeout is `timeout`. The agent's `ctx.signal` fires on
 * timeout, cancellation and shutdown.
 *
 * After the agent ends, the runner reads back every span the store holds for the attempt (one
 * paged query) — those the gateway recorded, those sent over OTLP, rewards posted over HTTP — and
 * the trace report counts them. The outcome reward is the last final reward the agent emitted in
 * process (`emitReward`, `withReward`), else the number it returned, else the last final reward
 * span stored from outside the process (by code without the SDK that posted to the store
 * server's reward route, `POST /v1/rollouts/:rolloutId/attempts/:attemptId/rewards`, or sent
 * `tracetrain.reward` spans over OTLP). If the store cannot be read back, the attempt completes
 * without an outside reward and the report says why.
 *
 * Delivery is at least once: if this runner dies after the agent returned but before the
 * completion is stored, the attempt goes silent, the store's watchdog marks it and retries the
 * rollout, and the agent runs again — with the same `ctx.rollout.rolloutId` and the next
 * `ctx.rollout.attempt`. The first failure of each kind is logged, with a hint for the common
 * causes (an endpoint not reached, credentials refused).
 */
export class Runner<T = unknown> {
  readonly workerId: string;
  private readonly store: Store;
  private readonly agent: Agent<T>;
  private readonly tracer: Tracer;
  private readonly concurrency: number;
  private readonly heartbeatIntervalMs: number;
  private readonly pollWaitMs: number;
  private readonly hooks: RunnerHooks;
  private readonly logger: Logger;
  private readonly llmKey: ParsedRunnerOptions["llmKey"];
  private readonly executions = new Map<string, Execution>();
  private readonly resources = new Map<string, Promise<ResourcesMap>>();
  private readonly warned = new Set<string>();
  private readonly failures: FailureLog;
  private stopController = new AbortController();
  private slotFreed: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  readonly stats: RunnerStats = { started: 0, succeeded: 0, failed: 0, superseded: 0, running: 0 };

  constructor(options: RunnerOptions<T>) {
    const parsed = parseRunnerOptions(options);
    this.store = parsed.store;
    this.agent = parsed.agent;
    this.logger = parsed.logger;
    this.tracer = parsed.tracer ?? new Tracer({ logger: this.logger });
    this.concurrency = parsed.concurrency;
    this.workerId = parsed.workerId;
    this.heartbeatIntervalMs = parsed.heartbeatIntervalMs;
    this.pollWaitMs = parsed.pollWaitMs;
    this.hooks = parsed.hooks;
    this.llmKey = parsed.llmKey;
    this.failures = new FailureLog(this.logger);
  }

  /**
   * Runs until `stop()` is called, `signal` aborts or the store closes; resolves once every
   * started rollout has ended. Waits for work by long-polling the store — never by sleeping.
   */
  run(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.loop) throw new ConflictError("this runner is already running");
    this.stopController = new AbortController();
    options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    this.loop = this.pull().finally(() => (this.loop = undefined));
    return this.loop;
  }

  /**
   * Stops pulling work and aborts running agents (their signal fires with cause `shutdown`). Agents
   * still running after `graceMs` have their attempts failed as `infra_error`, so the store can
   * retry them elsewhere; spans recorded so far are flushed. Resolves when the runner has stopped.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (!this.stopController.signal.aborted) this.stopController.abort();
    for (const execution of this.executions.values()) execution.controller.abort("shutdown" satisfies AbortCause);
    const settled = Promise.all([...this.executions.values()].map((e) => e.result));
    const graceMs = options.graceMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => (timer = setTimeout(() => resolve("expired"), graceMs)));
    if ((await Promise.race([settled, expired])) === "expired") {
      await Promise.all(
        [...this.executions.values()].map((e) =>
          this.finish(e, { status: "failed", error: { kind: "infra_error", message: `the runner shut down and the agent did not stop within ${graceMs} ms` } }),
        ),
      );
    }
    clearTimeout(timer);
    await this.loop;
  }

  private async pull(): Promise<void> {
    const heartbeat = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    heartbeat.unref();
    let backoffMs = 100;
    try {
      while (!this.stopController.signal.aborted) {
        await this.freeSlot();
        if (this.stopController.signal.aborted) break;
        let claimed: AttemptedRollout[];
        try {
          claimed = await this.store.dequeue(
            { workerId: this.workerId, limit: this.concurrency - this.executions.size, waitMs: this.pollWaitMs },
            { signal: this.stopController.signal },
          );
          backoffMs = 100;
        } catch (error) {
          if (error instanceof StoreClosedError) break;
          // A store outage: retry with backoff rather than crash the runner.
          this.logger.warn(`dequeue failed; retrying in ${backoffMs} ms`, { error });
          await sleep(backoffMs, this.stopController.signal);
          backoffMs = Math.min(backoffMs * 2, 5000);
          continue;
        }
        for (const item of claimed) this.launch(item);
      }
    } finally {
      clearInterval(heartbeat);
      await Promise.all([...this.executions.values()].map((e) => e.result));
    }
  }

  /** Resolves when fewer than `concurrency` rollouts are running (or the runner is stopping). */
  private freeSlot(): Promise<void> {
    if (this.executions.size < this.concurrency) return Promise.resolve();
    const signal = this.stopController.signal;
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.slotFreed = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private launch(claimed: AttemptedRollout, stepped = false): Execution {
    const execution: Execution = { claimed, stepped, controller: new AbortController(), completed: false, result: Promise.resolve(undefined) };
    this.executions.set(claimed.attempt.attemptId, execution);
    this.stats.started++;
    this.stats.running++;
    execution.result = this.execute(execution)
      .catch((error: unknown) => {
        this.logger.error("internal error while running a rollout", { error, rolloutId: claimed.rollout.rolloutId });
        return undefined;
      })
      .finally(() => {
        this.executions.delete(claimed.attempt.attemptId);
        this.stats.running--;
        const wake = this.slotFreed;
        this.slotFreed = undefined;
        wake?.();
      });
    return execution;
  }

  /** One attempt, start to finish. Never throws: every outcome ends in a completion (or a report why not). */
  private async execute(execution: Execution): Promise<ExecutionResult | undefined> {
    const { rollout, attempt } = execution.claimed;
    const timeout = this.armTimeout(execution);
    try {
      let resources: ResourcesMap;
      let substitutions: Substitution[];
      try {
        resources = await this.resolveResources(rollout.resourcesId);
        substitutions = substitutionsOf(resources);
      } catch (error) {
        await this.finish(execution, { status: "failed", error: { kind: "infra_error", message: `could not load resources '${rollout.resourcesId}': ${messageOf(error)}` } });
        return undefined;
      }
      await callHook(this.hooks, "onRolloutStart", { rollout, attempt }, this.logger);
      const ctx = createAgentContext({
        ...attempt,
        mode: rollout.mode,
        resources,
        signal: execution.controller.signal,
        ...(this.llmKey ? { llmKey: this.llmKey } : {}),
        onPromptRead: notePromptRead,
      });
      // The report counts what the store holds for the attempt — calls a gateway recorded, spans
      // ingested over OTLP, rewards posted over HTTP — and takes the outcome reward from there
      // when the agent emitted none in process. A queued rollout reads it back only when this
      // process's record lacks a reward or a call (a store query per rollout halved SQLite
      // throughput); a step, or a runner whose onTraceEnd hook is given the spans, always does.
      const readBack = () => spansOf(this.store, rollout.rolloutId, attempt.attemptId);
      const readBackWhen = execution.stepped || this.hooks.onTraceEnd ? "always" : "incomplete";
      const outcome = await this.tracer.capture({ rolloutId: rollout.rolloutId, attemptId: attempt.attemptId, sink: this.store, agentName: this.agent.name, readBack, readBackWhen, substitutions }, async () =>
        this.settleReward(await this.agent.run(rollout.input as T, ctx)),
      );
      await callHook(this.hooks, "onTraceEnd", { rollout, attempt, spans: outcome.spans, report: outcome.report }, this.logger);
      const error = outcome.ok ? undefined : outcome.error;
      const ended = await this.finish(execution, this.completionFor(execution, error, outcome.report.finalReward), { cause: error, resources });
      if (ended) await callHook(this.hooks, "onRolloutEnd", { rollout: ended.rollout, attempt: ended.attempt }, this.logger);
      return {
        rollout: ended?.rollout ?? (await this.store.getRollout(rollout.rolloutId)),
        report: outcome.report,
        spans: outcome.spans,
        error: outcome.ok ? undefined : outcome.error,
      };
    } finally {
      clearTimeout(timeout);
    }
  }

  /**
   * The outcome reward: a number the agent returned becomes a final reward span (so spans and the
   * attempt agree) — unless the agent already emitted a final reward, in which case that one counts
   * and a warning says the returned number was ignored. Runs inside the trace.
   */
  private settleReward(value: number | void): void {
    if (value === undefined) return;
    if (typeof value !== "number") {
      this.warnOnce("non-number", `agent '${this.agent.name}' returned a ${typeof value}; only a number (the reward) or nothing is used`);
      return;
    }
    const emitted = currentFrame()?.trace.finalReward;
    if (emitted !== null) {
      // `return withReward(judge)` returns the very reward it emitted: nothing to warn about.
      if (emitted === value) return;
      this.warnOnce("both", `agent '${this.agent.name}' both emitted a final reward and returned ${value}; the emitted reward counts, the returned number is ignored`);
      return;
    }
    emitReward(value, { final: true });
  }

  private completionFor(execution: Execution, error: unknown, finalReward: number | null): AttemptCompletion {
    const reward = finalReward === null ? {} : { finalReward };
    if (error === undefined) return { status: "succeeded", ...reward };
    const cause = execution.controller.signal.reason as AbortCause | undefined;
    if (execution.controller.signal.aborted && cause === "shutdown") {
      return { status: "failed", error: { kind: "infra_error", message: "the runner shut down while the agent was running" }, ...reward };
    }
    if (execution.controller.signal.aborted && cause === "timeout") {
      return { status: "failed", error: { kind: "timeout", message: `the agent exceeded its timeout: ${messageOf(error)}` }, ...reward };
    }
    return { status: "failed", error: { kind: "agent_error", message: describeAgentError(error) }, ...reward };
  }

  /**
   * Sends an attempt's outcome once. An attempt that already ended in the store (timed out by the
   * watchdog, cancelled) rejects it with a conflict: that is expected, not an error.
   */
  private async finish(execution: Execution, completion: AttemptCompletion, detail: { cause?: unknown; resources?: ResourcesMap } = {}): Promise<AttemptedRollout | undefined> {
    if (execution.completed) return undefined;
    execution.completed = true;
    const { rollout, attempt } = execution.claimed;
    try {
      const ended = await this.store.completeAttempt(rollout.rolloutId, attempt.attemptId, completion);
      if (ended.attempt.status === "succeeded") this.stats.succeeded++;
      else this.stats.failed++;
      // Failures of a runner asked to stop are its shutdown, not news.
      if (ended.attempt.error && !this.stopController.signal.aborted) this.failures.note(rollout.rolloutId, ended.attempt.error, detail.cause, detail.resources);
      return ended;
    } catch (error) {
      if (error instanceof ConflictError) {
        this.stats.superseded++;
        this.logger.debug("the attempt had already ended; its late outcome was discarded", { rolloutId: rollout.rolloutId, attemptId: attempt.attemptId });
        return undefined;
      }
      this.logger.error("could not complete the attempt; the store's watchdog will mark it", { error, rolloutId: rollout.rolloutId });
      return undefined;
    }
  }

  /**
   * The attempt's own deadline: the agent's signal fires, and the attempt is marked `timeout`
   * right away — an agent that ignores its signal cannot turn it into a late success.
   */
  private armTimeout(execution: Execution): NodeJS.Timeout | undefined {
    const { rollout, attempt } = execution.claimed;
    if (rollout.config.timeoutMs === undefined) return undefined;
    const remaining = Math.max(0, attempt.startedAt + rollout.config.timeoutMs - Date.now());
    const timer = setTimeout(() => {
      execution.controller.abort("timeout" satisfies AbortCause);
      void this.finish(execution, { status: "failed", error: { kind: "timeout", message: `the agent ran longer than its timeoutMs of ${rollout.config.timeoutMs} ms` } });
    }, remaining);
    timer.unref();
    return timer;
  }

  /**
   * Reports this runner and its running attempts alive (with a little about itself, for
   * dashboards), and aborts attempts the store says have ended (cancelled, timed out).
   */
  private async heartbeat(): Promise<void> {
    const attempts = [...this.executions.values()].map((e) => ({ rolloutId: e.claimed.rollout.rolloutId, attemptId: e.claimed.attempt.attemptId }));
    const stats = { host: hostname(), pid: process.pid, running: attempts.length, concurrency: this.concurrency, agent: this.agent.name };
    try {
      const result = await this.store.heartbeat({ workerId: this.workerId, attempts, stats });
      for (const { attemptId, status } of result.attempts) {
        if (isAttemptActive(status)) continue;
        const execution = this.executions.get(attemptId);
        if (!execution || execution.controller.signal.aborted) continue;
        execution.completed = true;
        execution.controller.abort((status === "timeout" ? "timeout" : "cancelled") satisfies AbortCause);
      }
    } catch (error) {
      this.logger.warn("heartbeat failed; will retry", { error });
    }
  }

  /** Resources snapshots never change, so each is fetched once per runner. */
  private resolveResources(resourcesId: string | null): Promise<ResourcesMap> {
    if (resourcesId === null) return Promise.resolve({});
    let pending = this.resources.get(resourcesId);
    if (!pending) {
      pending = this.store.getResources(resourcesId).then((snapshot) => snapshot.resources);
      pending.catch(() => this.resources.delete(resourcesId));
      this.resources.set(resourcesId, pending);
    }
    return pending;
  }

  /**
   * Runs one rollout right now, bypassing the queue — for debugging an agent. `resources` may be
   * a resources map (published as a new snapshot) or the id of an existing one. Throws what the
   * agent threw, after recording it.
   */
  async step(task: T, options: { resources?: ResourcesMapInput | string; mode?: RolloutMode } = {}): Promise<StepResult> {
    const resourcesId =
      options.resources === undefined
        ? undefined
        : typeof options.resources === "string"
          ? options.resources
          : (await this.store.addResources(options.resources)).resourcesId;
    const claimed = await this.store.startRollout({
      input: task as never,
      mode: options.mode ?? "train",
      workerId: this.workerId,
      ...(resourcesId === undefined ? {} : { resourcesId }),
    });
    const result = await this.launch(claimed, true).result;
    if (!result) {
      const stored = await this.store.getRollout(claimed.rollout.rolloutId);
      throw new TracetrainError("internal", `the rollout could not run: ${stored.attempts.at(-1)?.error?.message ?? "unknown reason"}`);
    }
    if (result.error !== undefined) throw result.error;
    return { rollout: result.rollout, report: result.report, spans: result.spans };
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(`${message} (reported once per runner)`);
  }
}

/** Notes a `ctx.prompt()` read in the rollout the agent is running (its context carries the trace). */
function notePromptRead(name: string): void {
  currentFrame()?.trace.promptsRead.add(name);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
