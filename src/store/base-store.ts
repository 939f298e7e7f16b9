import { setMaxListeners } from "node:events";
import { EventEmitter } from "eventemitter3";
import { ConflictError, NotFoundError, StoreClosedError } from "../types/index.js";
import type {
  AddResourcesOptions,
  AddSpansResult,
  AttemptCompletion,
  AttemptedRollout,
  CancelOptions,
  DequeueRequest,
  EnqueueRequest,
  HeartbeatRequest,
  HeartbeatResult,
  Logger,
  Page,
  ParsedEnqueueRequest,
  ResourcesMapInput,
  ResourcesQuery,
  ResourcesSnapshot,
  AddRunEntriesResult,
  RunEntry,
  RunEntryInput,
  RunEntryQuery,
  RunQuery,
  RunUpdate,
  TrainingRun,
  Rollout,
  RolloutQuery,
  Span,
  SpanInput,
  SpanQuery,
  StartRolloutRequest,
  StoreEvent,
  StoreStats,
  Worker,
} from "../types/index.js";
import type { StorageEngine } from "./engine.js";
import { newId } from "./ids.js";
import { parseRequest } from "./requests.js";
import {
  type AttemptChange,
  cancelRollout,
  claimRollout,
  completeAttempt,
  createRollout,
  dueExpiry,
  expireAttempt,
  isRolloutQueued,
  isRolloutTerminal,
  releaseClaim,
} from "./state-machine.js";
import type { Store, StoreEventMap, StoreEvents, WaitOptions } from "./store.js";
import { type StoreOptions, parseStoreOptions } from "./options.js";
import { Watchdog } from "./watchdog.js";
import { WorkSignal } from "./work-signal.js";


/**
 * The Store contract implemented once over any {@link StorageEngine}: validation of every
 * input, id generation, the state machine, events, long-poll and completion waits, and the
 * watchdog. MemoryStore, SqliteStore and PostgresStore differ only in their engine.
 */
export class BaseStore implements Store {
  readonly events: StoreEvents = new EventEmitter<StoreEventMap>();
  protected readonly logger: Logger;
  private readonly workSignal = new WorkSignal();
  private readonly completionWaiters = new Map<string, Set<() => void>>();
  private readonly closeController = new AbortController();
  private readonly watchdog: Watchdog;
  private readonly startedAt = performance.now();

  constructor(
    private readonly engine: StorageEngine,
    options: StoreOptions = {},
  ) {
    const { logger, watchdogIntervalMs: interval } = parseStoreOptions(options);
    this.logger = logger;
    // Every wait in progress listens for the store closing (and stops when it ends): many
    // concurrent waits are normal, not the leak Node would warn about past ten listeners.
    setMaxListeners(0, this.closeController.signal);
    this.watchdog = new Watchdog(() => this.sweep(), interval === false ? 1000 : interval, this.logger);
    if (interval !== false) this.watchdog.start();
    engine.subscribe?.((event) => this.dispatch([event], false));
  }

  // ---- queue -------------------------------------------------------------------------------

  async enqueue(request: EnqueueRequest): Promise<Rollout> {
    const [rollout] = await this.insertNew([parseRequest.enqueue(request)]);
    return rollout!;
  }

  async enqueueMany(requests: EnqueueRequest[]): Promise<Rollout[]> {
    return this.insertNew(parseRequest.enqueueMany(requests));
  }

  private async insertNew(requests: ParsedEnqueueRequest[]): Promise<Rollout[]> {
    this.assertOpen();
    if (requests.length === 0) return [];
    const now = Date.now();
    const resourcesIds = await this.resolveResourcesIds(requests);
    const created = requests.map((request, i) =>
      createRollout(request, { rolloutId: request.rolloutId ?? newId("ro"), resourcesId: resourcesIds[i] ?? null }, now),
    );
    const results = await this.engine.insertRollouts(created.map((c) => c.rollout));
    const events = created.filter((_, i) => results[i]!.created).map((c) => c.event);
    this.publish(events);
    return results.map((r) => r.rollout);
  }

  /** Each request's resources id: the one it names (which must exist) or the latest snapshot. */
  private async resolveResourcesIds(requests: ParsedEnqueueRequest[]): Promise<Array<string | null>> {
    const named = new Set(requests.map((r) => r.resourcesId).filter((id): id is string => id !== undefined));
    for (const id of named) {
      if (!(await this.engine.getResources(id))) throw new NotFoundError("resources", id);
    }
    const needsLatest = requests.some((r) => r.resourcesId === undefined);
    const latest = needsLatest ? ((await this.engine.latestResources())?.resourcesId ?? null) : null;
    return requests.map((r) => r.resourcesId ?? latest);
  }

  async dequeue(request: DequeueRequest = {}, options: WaitOptions = {}): Promise<AttemptedRollout[]> {
    const { workerId, limit, waitMs } = parseRequest.dequeue(request);
    this.assertOpen();
    const deadline = performance.now() + waitMs;
    if (workerId !== undefined) await this.engine.recordWorker(workerId, Date.now(), { dequeued: true });
    for (;;) {
      // An aborted dequeue must not take work: whoever aborted it will not run what it claims.
      if (options.signal?.aborted) return [];
      const seen = this.workSignal.current;
      const now = Date.now();
      const changes = await this.engine.claimRollouts(limit, (rollout) =>
        claimRollout(rollout, { attemptId: newId("at"), workerId: workerId ?? null }, now),
      );
      if (changes.length > 0) {
        for (const change of changes) this.publish(change.events);
        if (options.signal) {
          // Let I/O already received run first — above all a client's hang-up, which aborts the
          // signal — so a claim made for a dequeuer that just left is noticed and given back.
          await new Promise((resolve) => setImmediate(resolve));
          if (options.signal.aborted) return this.releaseClaims(changes);
        }
        return changes.map(toAttempted);
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0 || options.signal?.aborted) return [];
      await this.workSignal.wait(seen, remaining, options.signal);
      this.assertOpen();
    }
  }

  /** Puts claims nobody will run back in the queue (see `releaseClaim`). */
  private async releaseClaims(changes: readonly AttemptChange[]): Promise<AttemptedRollout[]> {
    const now = Date.now();
    for (const { attempt } of changes) {
      const released = await this.engine.updateRollout(attempt.rolloutId, (r) => releaseClaim(r, attempt.attemptId, now));
      this.publish(released.events);
    }
    return [];
  }

  async startRollout(request: StartRolloutRequest): Promise<AttemptedRollout> {
    const parsed = parseRequest.startRollout(request);
    this.assertOpen();
    const now = Date.now();
    const [resourcesId] = await this.resolveResourcesIds([parsed]);
    const rolloutId = parsed.rolloutId ?? newId("ro");
    const created = createRollout(parsed, { rolloutId, resourcesId: resourcesId ?? null }, now);
    const claimed = claimRollout(created.rollout, { attemptId: newId("at"), workerId: parsed.workerId ?? null }, now);
    const [result] = await this.engine.insertRollouts([claimed.rollout]);
    if (!result!.created) return this.existingStart(result!.rollout);
    if (parsed.workerId !== undefined) await this.engine.recordWorker(parsed.workerId, now, {});
    this.publish([created.event, ...claimed.events]);
    return toAttempted(claimed);
  }

  /** startRollout with an id that exists: idempotent if that rollout was started, a conflict if it only waits in the queue. */
  private existingStart(rollout: Rollout): AttemptedRollout {
    const attempt = rollout.attempts.at(-1);
    if (!attempt) {
      throw new ConflictError(`rollout '${rollout.rolloutId}' already exists and waits in the queue; dequeue it instead of starting it`, {
        rolloutId: rollout.rolloutId,
        status: rollout.status,
      });
    }
    return { rollout, attempt };
  }

  // ---- attempts ----------------------------------------------------------------------------

  async addSpans(spans: SpanInput[]): Promise<AddSpansResult> {
    const parsed = parseRequest.spans(spans);
    this.assertOpen();
    if (parsed.length === 0) return { added: 0, duplicates: 0 };
    const now = Date.now();
    const appended = await this.engine.appendSpans(parsed, now);
    let added = 0;
    let duplicates = 0;
    for (const group of appended) {
      added += group.added;
      duplicates += group.duplicates;
      const events: StoreEvent[] = group.activity ? [group.activity] : [];
      if (group.added > 0) {
        events.push({ type: "spans", rolloutId: group.rolloutId, attemptId: group.attemptId, count: group.added, lastSequence: group.lastSequence, at: now });
      }
      this.publish(events);
    }
    return { added, duplicates };
  }

  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    const { workerId, attempts, stats } = parseRequest.heartbeat(request);
    this.assertOpen();
    const now = Date.now();
    const touched = attempts.length > 0 ? await this.engine.touchAttempts(attempts, now) : [];
    await this.engine.recordWorker(workerId, now, stats === undefined ? {} : { stats });
    this.publish(touched.flatMap((t) => (t.activity ? [t.activity] : [])));
    return { attempts: touched.map(({ rolloutId, attemptId, status }) => ({ rolloutId, attemptId, status })) };
  }

  async completeAttempt(rolloutId: string, attemptId: string, completion: AttemptCompletion): Promise<AttemptedRollout> {
    parseRequest.rolloutId(rolloutId);
    parseRequest.attemptId(attemptId);
    const parsed = parseRequest.completion(completion);
    this.assertOpen();
    const now = Date.now();
    const change = await this.engine.updateRollout(rolloutId, (r) => completeAttempt(r, attemptId, parsed, now));
    this.publish(change.events);
    return toAttempted(change);
  }

  async cancelRollout(rolloutId: string, options: CancelOptions = {}): Promise<Rollout> {
    parseRequest.rolloutId(rolloutId);
    const { reason } = parseRequest.cancel(options);
    this.assertOpen();
    const now = Date.now();
    const change = await this.engine.updateRollout(rolloutId, (r) => cancelRollout(r, reason, now));
    this.publish(change.events);
    return change.rollout;
  }

  /**
   * One watchdog pass: marks attempts past their `timeoutMs` as `timeout` and those silent past
   * their `heartbeatTimeoutMs` as `unresponsive`, applying the retry policy. Returns how many it
   * marked. The timer calls this; tests and tools may call it directly.
   */
  async sweep(): Promise<number> {
    this.assertOpen();
    const now = Date.now();
    let marked = 0;
    for (const { attempt, config } of await this.engine.listActiveAttempts()) {
      if (dueExpiry(config, attempt, now) === null) continue;
      const change = await this.engine.updateRollout(attempt.rolloutId, (r) => expireAttempt(r, attempt.attemptId, now));
      if (change.changed) marked++;
      this.publish(change.events);
    }
    return marked;
  }

  // ---- reads -------------------------------------------------------------------------------

  async getRollout(rolloutId: string): Promise<Rollout> {
    parseRequest.rolloutId(rolloutId);
    this.assertOpen();
    const rollout = await this.engine.getRollout(rolloutId);
    if (!rollout) throw new NotFoundError("rollout", rolloutId);
    return rollout;
  }

  async queryRollouts(query: RolloutQuery = {}): Promise<Page<Rollout>> {
    const parsed = parseRequest.rolloutQuery(query);
    this.assertOpen();
    return this.engine.queryRollouts(parsed);
  }

  async querySpans(query: SpanQuery): Promise<Page<Span>> {
    const { attemptId, ...rest } = parseRequest.spanQuery(query);
    const rollout = await this.getRollout(rest.rolloutId);
    if (attemptId === undefined) return this.engine.querySpans(rest);
    if (attemptId === "latest") {
      const latest = rollout.attempts.at(-1);
      return latest ? this.engine.querySpans({ ...rest, attemptId: latest.attemptId }) : { items: [], nextCursor: null };
    }
    if (!rollout.attempts.some((a) => a.attemptId === attemptId)) {
      throw NotFoundError.attempt(rollout.rolloutId, attemptId);
    }
    return this.engine.querySpans({ ...rest, attemptId });
  }

  // ---- resources ---------------------------------------------------------------------------

  async addResources(resources: ResourcesMapInput, options: AddResourcesOptions = {}): Promise<ResourcesSnapshot> {
    const parsed = parseRequest.resources(resources);
    const { resourcesId } = parseRequest.addResourcesOptions(options);
    this.assertOpen();
    const now = Date.now();
    const { snapshot, created } = await this.engine.insertResources({
      resourcesId: resourcesId ?? newId("rs"),
      createdAt: now,
      resources: parsed,
    });
    if (created) this.publish([{ type: "resources", resourcesId: snapshot.resourcesId, version: snapshot.version, at: now }]);
    return snapshot;
  }

  async getResources(resourcesId: string): Promise<ResourcesSnapshot> {
    parseRequest.resourcesId(resourcesId);
    this.assertOpen();
    if (resourcesId === "latest") {
      const latest = await this.engine.latestResources();
      if (!latest) throw new NotFoundError("resources", "latest", "no resources have been added to this store yet");
      return latest;
    }
    const snapshot = await this.engine.getResources(resourcesId);
    if (!snapshot) throw new NotFoundError("resources", resourcesId);
    return snapshot;
  }

  async queryResources(query: ResourcesQuery = {}): Promise<Page<ResourcesSnapshot>> {
    const parsed = parseRequest.resourcesQuery(query);
    this.assertOpen();
    return this.engine.queryResources(parsed);
  }

  // ---- training runs -----------------------------------------------------------------------

  async recordRun(update: RunUpdate): Promise<TrainingRun> {
    const parsed = parseRequest.runUpdate(update);
    this.assertOpen();
    const now = Date.now();
    const run = await this.engine.upsertRun(parsed, now);
    this.publish([{ type: "run", runId: run.runId, status: run.status, entries: run.entries, at: now }]);
    return run;
  }

  async addRunEntries(runId: string, entries: RunEntryInput[]): Promise<AddRunEntriesResult> {
    const parsed = parseRequest.runEntries({ runId, entries });
    this.assertOpen();
    const now = Date.now();
    const { run, added, duplicates } = await this.engine.appendRunEntries(parsed.runId, parsed.entries, now);
    if (added > 0) this.publish([{ type: "run", runId: run.runId, status: run.status, entries: run.entries, at: now }]);
    return { added, duplicates };
  }

  async getRun(runId: string): Promise<TrainingRun> {
    parseRequest.runId(runId);
    this.assertOpen();
    const run = await this.engine.getRun(runId);
    if (!run) throw new NotFoundError("run", runId);
    return run;
  }

  async queryRuns(query: RunQuery = {}): Promise<Page<TrainingRun>> {
    const parsed = parseRequest.runQuery(query);
    this.assertOpen();
    return this.engine.queryRuns(parsed);
  }

  async queryRunEntries(query: RunEntryQuery): Promise<Page<RunEntry>> {
    const parsed = parseRequest.runEntryQuery(query);
    this.assertOpen();
    if (!(await this.engine.getRun(parsed.runId))) throw new NotFoundError("run", parsed.runId);
    return this.engine.queryRunEntries(parsed);
  }

  // ---- waiting -----------------------------------------------------------------------------

  async waitForRollouts(rolloutIds: string[], options: WaitOptions & { timeoutMs?: number } = {}): Promise<Rollout[]> {
    const { signal, ...rest } = options;
    const parsed = parseRequest.wait({ rolloutIds, ...rest });
    this.assertOpen();
    const ids = [...new Set(parsed.rolloutIds)];
    const pending = new Set(ids);
    let wake: () => void = () => {};
    const allDone = new Promise<void>((resolve) => (wake = resolve));
    // Listen before reading, so an end that lands between the read and the listen is not missed.
    const listeners = ids.map((id) => {
      const listener = () => {
        pending.delete(id);
        if (pending.size === 0) wake();
      };
      this.addCompletionWaiter(id, listener);
      return [id, listener] as const;
    });
    try {
      const current = await this.engine.getRollouts(ids);
      const known = new Set(current.map((r) => r.rolloutId));
      const missing = ids.find((id) => !known.has(id));
      if (missing !== undefined) throw new NotFoundError("rollout", missing);
      for (const r of current) if (isRolloutTerminal(r.status)) pending.delete(r.rolloutId);
      if (pending.size > 0) await this.race(allDone, parsed.timeoutMs, signal);
    } finally {
      for (const [id, listener] of listeners) this.removeCompletionWaiter(id, listener);
    }
    const ended = new Map((await this.engine.getRollouts(ids)).filter((r) => isRolloutTerminal(r.status)).map((r) => [r.rolloutId, r]));
    return ids.flatMap((id) => (ended.has(id) ? [ended.get(id)!] : []));
  }

  /** Resolves when `done` resolves, `timeoutMs` passes or `signal` aborts; rejects if the store closes. */
  private race(done: Promise<void>, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const closed = this.closeController.signal;
    return new Promise<void>((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        closed.removeEventListener("abort", finish);
        if (closed.aborted) reject(new StoreClosedError());
        else resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(finish, timeoutMs);
      signal?.addEventListener("abort", finish, { once: true });
      closed.addEventListener("abort", finish, { once: true });
      if (signal?.aborted || closed.aborted) finish();
      void done.then(finish);
    });
  }

  private addCompletionWaiter(rolloutId: string, listener: () => void): void {
    let set = this.completionWaiters.get(rolloutId);
    if (!set) this.completionWaiters.set(rolloutId, (set = new Set()));
    set.add(listener);
  }

  private removeCompletionWaiter(rolloutId: string, listener: () => void): void {
    const set = this.completionWaiters.get(rolloutId);
    set?.delete(listener);
    if (set?.size === 0) this.completionWaiters.delete(rolloutId);
  }

  // ---- workers, stats, lifecycle -----------------------------------------------------------

  async workers(): Promise<Worker[]> {
    this.assertOpen();
    return this.engine.listWorkers();
  }

  async stats(): Promise<StoreStats> {
    this.assertOpen();
    return { ...(await this.engine.stats()), uptimeMs: performance.now() - this.startedAt };
  }

  /** Whether the watchdog timer is running. */
  get watchdogActive(): boolean {
    return this.watchdog.active;
  }

  /** Starts the watchdog timer if it is not running. */
  startWatchdog(): void {
    this.assertOpen();
    this.watchdog.start();
  }

  /**
   * Stops the watchdog timer (e.g. when another process sweeps the same database); resolves once
   * a sweep under way has finished. Attempts then only time out through {@link sweep}.
   */
  async stopWatchdog(): Promise<void> {
    await this.watchdog.stop();
  }

  async close(): Promise<void> {
    if (this.closeController.signal.aborted) return;
    this.closeController.abort();
    await this.watchdog.stop();
    this.workSignal.close();
    await this.engine.close();
  }

  protected assertOpen(): void {
    if (this.closeController.signal.aborted) throw new StoreClosedError();
  }

  /** Announces changes made here: to listeners, waiters and long-pollers, and to other processes sharing the backend. */
  private publish(events: readonly StoreEvent[]): void {
    if (events.length > 0) this.dispatch(events, true);
  }

  /** Delivers events — made here (`local`) or reported by the engine from another process. */
  private dispatch(events: readonly StoreEvent[], local: boolean): void {
    let queued = 0;
    for (const event of events) {
      this.emit(event);
      if (event.type !== "rollout") continue;
      if (isRolloutQueued(event.status)) queued++;
      if (isRolloutTerminal(event.status)) {
        for (const listener of this.completionWaiters.get(event.rolloutId) ?? []) listener();
      }
    }
    if (queued > 0) this.workSignal.notify(queued);
    if (local) this.engine.announce?.(events);
  }

  /** Emits an event; a throwing listener is reported, never allowed to fail a store call that already succeeded. */
  private emit(event: StoreEvent): void {
    try {
      (this.events.emit as (name: StoreEvent["type"], payload: StoreEvent) => boolean)(event.type, event);
    } catch (error) {
      this.logger.error(`a '${event.type}' event listener threw; the store call itself succeeded`, { error });
    }
  }
}

function toAttempted(change: AttemptChange): AttemptedRollout {
  return { rollout: change.rollout, attempt: change.attempt };
}
