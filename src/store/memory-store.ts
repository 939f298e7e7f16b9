import type {
  Attempt,
  AttemptRef,
  AttemptStatusEvent,
  JsonObject,
  Page,
  ParsedResourcesQuery,
  ParsedRolloutQuery,
  ParsedRunEntryInput,
  ParsedRunEntryQuery,
  ParsedRunQuery,
  ParsedRunUpdate,
  ParsedSpanInput,
  ResourcesMap,
  ResourcesSnapshot,
  Rollout,
  RolloutConfig,
  RolloutStatus,
  RunEntry,
  Span,
  StoreStats,
  TrainingRun,
  Worker,
} from "../types/index.js";
import { NotFoundError, cloneJson } from "../types/index.js";
import { BaseStore } from "./base-store.js";
import type { StoreOptions } from "./options.js";
import { type AppendedSpans, type ResolvedSpanQuery, type StorageEngine, type TouchedAttempt, groupByAttempt } from "./engine.js";
import {
  type RolloutKey,
  compareRolloutKeys,
  decodeRolloutCursor,
  decodeSpanCursor,
  encodeRolloutCursor,
  encodeSpanCursor,
  matchesRolloutFilters,
  sortValue,
} from "./ordering.js";
import { compareRuns, decodeCountCursor, decodeRunCursor, encodeCountCursor, encodeRunCursor, runEntriesStart, runOwnedElsewhere } from "./runs.js";
import { type RolloutChange, isAttemptActive, isRolloutQueued, recordActivity } from "./state-machine.js";

interface RolloutEntry {
  /** Creation order, 1-based; `ordered[seq - 1]` is this entry. */
  seq: number;
  /** Private: shares no object with any caller; its attempts are updated in place on the hot path. */
  rollout: Rollout;
}

interface SpanBucket {
  spans: Span[];
  ids: Set<string>;
}

interface RunLog {
  run: TrainingRun;
  entries: RunEntry[];
  keys: Set<string>;
}

interface WorkerEntry {
  firstSeenAt: number;
  lastSeenAt: number;
  lastDequeueAt: number | null;
  stats: JsonObject | null;
}

/**
 * Keeps everything in JavaScript maps. Each method runs start to finish within one turn of the
 * event loop (nothing is awaited inside), which is what makes it atomic. Everything kept is a
 * private copy and everything handed out is a fresh copy (`cloneJson`), so neither a caller
 * changing its objects later nor a caller changing a result can change stored data.
 */
export class MemoryEngine implements StorageEngine {
  private readonly rollouts = new Map<string, RolloutEntry>();
  private readonly ordered: RolloutEntry[] = [];
  /** Whether creation times never went backwards, so creation order is createdAt order. */
  private createdAtMonotonic = true;
  /** Queued rollout ids; Map iteration order is queue order, and delete is O(1). */
  private readonly queue = new Map<string, true>();
  private readonly attemptOwners = new Map<string, string>();
  private readonly activeAttempts = new Map<string, string>();
  private readonly spans = new Map<string, SpanBucket>();
  private spanTotal = 0;
  private attemptTotal = 0;
  private readonly statusCounts: Record<RolloutStatus, number> = {
    queuing: 0,
    running: 0,
    requeuing: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
  };
  private readonly resources = new Map<string, ResourcesSnapshot>();
  private latest: ResourcesSnapshot | undefined;
  /** Snapshots in version order: `byVersion[v - 1]` has version v. */
  private readonly byVersion: ResourcesSnapshot[] = [];
  private readonly runs = new Map<string, RunLog>();
  private readonly workerEntries = new Map<string, WorkerEntry>();

  async insertRollouts(rollouts: Rollout[]): Promise<Array<{ rollout: Rollout; created: boolean }>> {
    return rollouts.map((rollout) => {
      const existing = this.rollouts.get(rollout.rolloutId);
      if (existing) return { rollout: cloneJson(existing.rollout), created: false };
      const last = this.ordered.at(-1);
      if (last && rollout.createdAt < last.rollout.createdAt) this.createdAtMonotonic = false;
      const entry: RolloutEntry = { seq: this.ordered.length + 1, rollout: cloneJson(rollout) };
      this.rollouts.set(rollout.rolloutId, entry);
      this.ordered.push(entry);
      this.statusCounts[rollout.status]++;
      if (isRolloutQueued(rollout.status)) this.queue.set(rollout.rolloutId, true);
      for (const attempt of entry.rollout.attempts) this.indexAttempt(attempt, true);
      return { rollout: cloneJson(entry.rollout), created: true };
    });
  }

  async claimRollouts<C extends RolloutChange>(limit: number, claim: (rollout: Rollout) => C): Promise<C[]> {
    const ids: string[] = [];
    for (const id of this.queue.keys()) {
      if (ids.length >= limit) break;
      ids.push(id);
    }
    return ids.map((id) => this.apply(this.entry(id), claim));
  }

  async updateRollout<C extends RolloutChange>(rolloutId: string, step: (rollout: Rollout) => C): Promise<C> {
    return this.apply(this.entry(rolloutId), step);
  }

  private entry(rolloutId: string): RolloutEntry {
    const entry = this.rollouts.get(rolloutId);
    if (!entry) throw new NotFoundError("rollout", rolloutId);
    return entry;
  }

  /**
   * Runs a state-machine step and keeps its result. The step sees attempt copies (it must not be
   * able to touch private state) but shares the private JSON, which no step modifies; the caller
   * gets a full copy.
   */
  private apply<C extends RolloutChange>(entry: RolloutEntry, step: (rollout: Rollout) => C): C {
    const before = entry.rollout;
    const change = step({ ...before, attempts: before.attempts.map((a) => ({ ...a })) });
    if (!change.changed) return { ...change, rollout: cloneJson(change.rollout), attempt: cloneJson(change.attempt) };
    const after: Rollout = { ...change.rollout, attempts: change.rollout.attempts.map((a) => ({ ...a })) };
    entry.rollout = after;
    this.statusCounts[before.status]--;
    this.statusCounts[after.status]++;
    if (!isRolloutQueued(after.status)) this.queue.delete(after.rolloutId);
    else if (!isRolloutQueued(before.status)) this.queue.set(after.rolloutId, true);
    const changed = change.attempt && after.attempts.find((a) => a.attemptId === change.attempt!.attemptId);
    if (changed) this.indexAttempt(changed, !this.attemptOwners.has(changed.attemptId));
    return { ...change, rollout: cloneJson(after), attempt: cloneJson(change.attempt) };
  }

  private indexAttempt(attempt: Attempt, isNew: boolean): void {
    if (isNew) {
      this.attemptTotal++;
      this.attemptOwners.set(attempt.attemptId, attempt.rolloutId);
    }
    if (isAttemptActive(attempt.status)) this.activeAttempts.set(attempt.attemptId, attempt.rolloutId);
    else this.activeAttempts.delete(attempt.attemptId);
  }

  async getRollout(rolloutId: string): Promise<Rollout | undefined> {
    const entry = this.rollouts.get(rolloutId);
    return entry && cloneJson(entry.rollout);
  }

  async getRollouts(rolloutIds: readonly string[]): Promise<Rollout[]> {
    return rolloutIds.flatMap((id) => {
      const entry = this.rollouts.get(id);
      return entry ? [cloneJson(entry.rollout)] : [];
    });
  }

  async queryRollouts(query: ParsedRolloutQuery): Promise<Page<Rollout>> {
    const after = query.cursor === undefined ? undefined : decodeRolloutCursor(query, query.cursor);
    const keyOf = (entry: RolloutEntry): RolloutKey => ({ value: sortValue(entry.rollout, query.sortBy), seq: entry.seq });
    const inPage = (entry: RolloutEntry) =>
      matchesRolloutFilters(entry.rollout, query) && (after === undefined || compareRolloutKeys(keyOf(entry), after, query.order) > 0);
    const page: RolloutEntry[] = [];
    if (query.sortBy === "createdAt" && this.createdAtMonotonic) {
      // Creation order already is the sort order: walk it, no sorting.
      const step = query.order === "asc" ? 1 : -1;
      for (let i = query.order === "asc" ? 0 : this.ordered.length - 1; i >= 0 && i < this.ordered.length; i += step) {
        const entry = this.ordered[i]!;
        if (!inPage(entry)) continue;
        page.push(entry);
        if (page.length > query.limit) break;
      }
    } else {
      const sorted = this.ordered.filter(inPage).sort((a, b) => compareRolloutKeys(keyOf(a), keyOf(b), query.order));
      page.push(...sorted.slice(0, query.limit + 1));
    }
    const hasMore = page.length > query.limit;
    const items = page.slice(0, query.limit);
    const last = items.at(-1);
    return { items: items.map((e) => cloneJson(e.rollout)), nextCursor: hasMore && last ? encodeRolloutCursor(query, keyOf(last)) : null };
  }

  async appendSpans(spans: ParsedSpanInput[], now: number): Promise<AppendedSpans[]> {
    // Check every target before storing anything: the batch is all or nothing.
    const targets = groupByAttempt(spans).map((group) => ({ attempt: this.findAttempt(group[0]!), group }));
    return targets.map(({ attempt, group }) => {
      let bucket = this.spans.get(attempt.attemptId);
      if (!bucket) this.spans.set(attempt.attemptId, (bucket = { spans: [], ids: new Set() }));
      const before = attempt.spanCount;
      for (const span of group) {
        if (bucket.ids.has(span.spanId)) continue;
        bucket.ids.add(span.spanId);
        // Parsed spans are already private copies (parseSpanBatch), so no further copy is needed.
        bucket.spans.push({ ...span, sequence: ++attempt.spanCount });
      }
      const added = attempt.spanCount - before;
      this.spanTotal += added;
      return {
        rolloutId: attempt.rolloutId,
        attemptId: attempt.attemptId,
        added,
        duplicates: group.length - added,
        lastSequence: attempt.spanCount,
        activity: this.touch(attempt, now),
      };
    });
  }

  /** The private attempt a reference names; NotFoundError unless it exists and belongs to that rollout. */
  private findAttempt(ref: AttemptRef): Attempt {
    const owner = this.attemptOwners.get(ref.attemptId);
    const attempt = owner === ref.rolloutId ? this.rollouts.get(owner)?.rollout.attempts.find((a) => a.attemptId === ref.attemptId) : undefined;
    if (!attempt) {
      throw NotFoundError.attempt(ref.rolloutId, ref.attemptId);
    }
    return attempt;
  }

  /** Applies a sign of life to a private attempt in place (the hot path: no copies). */
  private touch(attempt: Attempt, now: number): AttemptStatusEvent | null {
    const activity = recordActivity(attempt, now);
    if (!activity) return null;
    attempt.status = activity.attempt.status;
    attempt.lastHeartbeatAt = activity.attempt.lastHeartbeatAt;
    return activity.event;
  }

  async querySpans(query: ResolvedSpanQuery): Promise<Page<Span>> {
    const rollout = this.entry(query.rolloutId).rollout;
    const after = query.cursor === undefined ? undefined : decodeSpanCursor(query.cursor);
    const attempts = query.attemptId === undefined ? rollout.attempts : rollout.attempts.filter((a) => a.attemptId === query.attemptId);
    const items: Span[] = [];
    let lastKey = { attemptSeq: 0, seq: 0 };
    for (const attempt of attempts) {
      if (after && attempt.sequence < after.attemptSeq) continue;
      const list = this.spans.get(attempt.attemptId)?.spans ?? [];
      const start = after && attempt.sequence === after.attemptSeq ? after.seq : 0;
      for (let i = start; i < list.length; i++) {
        const span = list[i]!;
        if (query.name !== undefined && span.name !== query.name) continue;
        if (query.namePrefix !== undefined && !span.name.startsWith(query.namePrefix)) continue;
        if (items.length === query.limit) return { items, nextCursor: encodeSpanCursor(lastKey) };
        items.push(cloneJson(span));
        lastKey = { attemptSeq: attempt.sequence, seq: span.sequence };
      }
    }
    return { items, nextCursor: null };
  }

  async touchAttempts(refs: readonly AttemptRef[], now: number): Promise<TouchedAttempt[]> {
    const attempts = refs.map((ref) => this.findAttempt(ref));
    return attempts.map((attempt) => {
      const activity = this.touch(attempt, now);
      return { rolloutId: attempt.rolloutId, attemptId: attempt.attemptId, status: attempt.status, activity };
    });
  }

  async listActiveAttempts(): Promise<Array<{ attempt: Attempt; config: RolloutConfig }>> {
    return [...this.activeAttempts].map(([attemptId, rolloutId]) => {
      const rollout = this.entry(rolloutId).rollout;
      return cloneJson({ attempt: rollout.attempts.find((a) => a.attemptId === attemptId)!, config: rollout.config });
    });
  }

  async insertResources(input: { resourcesId: string; createdAt: number; resources: ResourcesMap }): Promise<{
    snapshot: ResourcesSnapshot;
    created: boolean;
  }> {
    const existing = this.resources.get(input.resourcesId);
    if (existing) return { snapshot: cloneJson(existing), created: false };
    const snapshot: ResourcesSnapshot = cloneJson({ ...input, version: this.resources.size + 1 });
    this.resources.set(snapshot.resourcesId, snapshot);
    this.byVersion.push(snapshot);
    this.latest = snapshot;
    return { snapshot: cloneJson(snapshot), created: true };
  }

  async getResources(resourcesId: string): Promise<ResourcesSnapshot | undefined> {
    return cloneJson(this.resources.get(resourcesId));
  }

  async latestResources(): Promise<ResourcesSnapshot | undefined> {
    return cloneJson(this.latest);
  }

  async queryResources(query: ParsedResourcesQuery): Promise<Page<ResourcesSnapshot>> {
    const below = query.cursor === undefined ? this.byVersion.length + 1 : decodeCountCursor("resources", query.cursor);
    const items = this.byVersion.slice(Math.max(0, below - 1 - query.limit), Math.max(0, below - 1)).reverse();
    const last = items.at(-1);
    return { items: cloneJson(items), nextCursor: last && last.version > 1 && items.length === query.limit ? encodeCountCursor("resources", last.version) : null };
  }

  async upsertRun(update: ParsedRunUpdate, now: number): Promise<TrainingRun> {
    const log = this.runs.get(update.runId);
    if (log && log.run.algorithm !== update.algorithm) throw runOwnedElsewhere(log.run, update.algorithm);
    const run: TrainingRun = log
      ? { ...log.run, status: update.status ?? log.run.status, updatedAt: now, ...(update.config ? { config: update.config } : {}), ...(update.summary ? { summary: update.summary } : {}) }
      : { runId: update.runId, algorithm: update.algorithm, status: update.status ?? "running", createdAt: now, updatedAt: now, config: update.config ?? {}, summary: update.summary ?? null, entries: 0 };
    const stored = cloneJson(run);
    if (log) log.run = stored;
    else this.runs.set(run.runId, { run: stored, entries: [], keys: new Set() });
    return cloneJson(stored);
  }

  async appendRunEntries(runId: string, entries: readonly ParsedRunEntryInput[], now: number): Promise<{ run: TrainingRun; added: number; duplicates: number }> {
    const log = this.runs.get(runId);
    if (!log) throw new NotFoundError("run", runId);
    let added = 0;
    for (const entry of entries) {
      if (entry.key !== undefined) {
        if (log.keys.has(entry.key)) continue;
        log.keys.add(entry.key);
      }
      log.entries.push(cloneJson({ runId, sequence: log.entries.length + 1, kind: entry.kind, key: entry.key ?? null, at: entry.at ?? now, data: entry.data }));
      added++;
    }
    if (added > 0) log.run = { ...log.run, entries: log.entries.length, updatedAt: now };
    return { run: cloneJson(log.run), added, duplicates: entries.length - added };
  }

  async getRun(runId: string): Promise<TrainingRun | undefined> {
    return cloneJson(this.runs.get(runId)?.run);
  }

  async queryRuns(query: ParsedRunQuery): Promise<Page<TrainingRun>> {
    const after = query.cursor === undefined ? undefined : decodeRunCursor(query.cursor);
    const matching = [...this.runs.values()]
      .map((log) => log.run)
      .filter((run) => (!query.algorithm || query.algorithm.includes(run.algorithm)) && (!query.status || query.status.includes(run.status)))
      .filter((run) => after === undefined || compareRuns(after, run) < 0)
      .sort(compareRuns);
    const items = matching.slice(0, query.limit);
    return { items: cloneJson(items), nextCursor: matching.length > query.limit ? encodeRunCursor(items.at(-1)!) : null };
  }

  async queryRunEntries(query: ParsedRunEntryQuery): Promise<Page<RunEntry>> {
    const log = this.runs.get(query.runId);
    if (!log) return { items: [], nextCursor: null };
    const from = runEntriesStart(query);
    const matching = log.entries.slice(from).filter((entry) => !query.kind || query.kind.includes(entry.kind));
    const items = matching.slice(0, query.limit);
    return { items: cloneJson(items), nextCursor: matching.length > query.limit ? encodeCountCursor("entries", items.at(-1)!.sequence) : null };
  }

  async recordWorker(workerId: string, now: number, update: { dequeued?: boolean; stats?: JsonObject }): Promise<void> {
    const entry = this.workerEntries.get(workerId) ?? { firstSeenAt: now, lastSeenAt: now, lastDequeueAt: null, stats: null };
    entry.lastSeenAt = Math.max(entry.lastSeenAt, now);
    if (update.dequeued) entry.lastDequeueAt = now;
    if (update.stats !== undefined) entry.stats = cloneJson(update.stats);
    this.workerEntries.set(workerId, entry);
  }

  async listWorkers(): Promise<Worker[]> {
    const active = new Map<string, number>();
    for (const { attempt } of await this.listActiveAttempts()) {
      if (attempt.workerId !== null) active.set(attempt.workerId, (active.get(attempt.workerId) ?? 0) + 1);
    }
    return [...this.workerEntries].map(([workerId, entry]) => {
      const activeAttempts = active.get(workerId) ?? 0;
      return cloneJson({ workerId, status: activeAttempts > 0 ? "busy" : "idle", activeAttempts, ...entry });
    });
  }

  async stats(): Promise<Omit<StoreStats, "uptimeMs">> {
    return {
      rollouts: { total: this.rollouts.size, ...this.statusCounts },
      attempts: { total: this.attemptTotal, active: this.activeAttempts.size },
      spans: this.spanTotal,
      resources: this.resources.size,
      workers: this.workerEntries.size,
      queueDepth: this.queue.size,
    };
  }

  async close(): Promise<void> {}
}

/** An in-memory store: fast and dependency-free, for tests, notebooks and single-process runs. Nothing survives the process. */
export class MemoryStore extends BaseStore {
  constructor(options: StoreOptions = {}) {
    super(new MemoryEngine(), options);
  }
}
