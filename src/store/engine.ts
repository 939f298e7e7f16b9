/**
 * The persistence contract under {@link BaseStore}.
 *
 * A storage engine only stores and finds records; it never decides a status. Every status change
 * arrives as a pure step from `state-machine.ts`, which the engine applies inside its own atomic
 * section (a JS turn for memory, a transaction for SQL). Validation, events, waiting and the
 * watchdog live in BaseStore, so a new backend is just a new engine.
 */
import type {
  Attempt,
  AttemptRef,
  AttemptStatus,
  AttemptStatusEvent,
  JsonObject,
  Page,
  ParsedResourcesQuery,
  ParsedRunEntryInput,
  ParsedRunEntryQuery,
  ParsedRunQuery,
  ParsedRunUpdate,
  RunEntry,
  TrainingRun,
  ParsedRolloutQuery,
  ParsedSpanInput,
  ResourcesMap,
  ResourcesSnapshot,
  Rollout,
  RolloutConfig,
  Span,
  StoreEvent,
  StoreStats,
  Worker,
} from "../types/index.js";
import type { RolloutChange } from "./state-machine.js";

/** The spans one `appendSpans` call stored for one attempt. */
export interface AppendedSpans {
  rolloutId: string;
  attemptId: string;
  added: number;
  duplicates: number;
  /** The attempt's highest span sequence after the call. */
  lastSequence: number;
  /** Set when the spans moved the attempt from `preparing` to `running`. */
  activity: AttemptStatusEvent | null;
}

/** A span query whose `attemptId` has been resolved (no `"latest"`). */
export interface ResolvedSpanQuery {
  rolloutId: string;
  attemptId?: string;
  name?: string;
  namePrefix?: string;
  limit: number;
  cursor?: string;
}

/** The current status of an attempt named in a heartbeat, and the event if the heartbeat changed it. */
export interface TouchedAttempt extends AttemptRef {
  status: AttemptStatus;
  activity: AttemptStatusEvent | null;
}

export interface StorageEngine {
  /**
   * Stores new rollouts (with any attempts they already have) atomically. A rollout whose id is
   * already stored is left untouched and returned as stored, with `created: false`.
   */
  insertRollouts(rollouts: Rollout[]): Promise<Array<{ rollout: Rollout; created: boolean }>>;

  /** Claims up to `limit` queued rollouts, oldest place in the queue first, applying `claim` to each. */
  claimRollouts<C extends RolloutChange>(limit: number, claim: (rollout: Rollout) => C): Promise<C[]>;

  /** Reads a rollout, applies `step` and persists the result, atomically. Throws NotFoundError for an unknown id. */
  updateRollout<C extends RolloutChange>(rolloutId: string, step: (rollout: Rollout) => C): Promise<C>;

  getRollout(rolloutId: string): Promise<Rollout | undefined>;
  /** The stored rollouts among `rolloutIds` (unknown ids are left out), in no particular order. */
  getRollouts(rolloutIds: readonly string[]): Promise<Rollout[]>;
  queryRollouts(query: ParsedRolloutQuery): Promise<Page<Rollout>>;

  /**
   * Appends spans, assigning each attempt's next sequences in order and skipping span ids the
   * attempt already has. Each target attempt that is still active counts it as a heartbeat.
   * All or nothing: an unknown rollout/attempt pair throws NotFoundError and stores nothing.
   */
  appendSpans(spans: ParsedSpanInput[], now: number): Promise<AppendedSpans[]>;
  querySpans(query: ResolvedSpanQuery): Promise<Page<Span>>;

  /** Records a heartbeat for each attempt. Throws NotFoundError (changing nothing) if any is unknown. */
  touchAttempts(refs: readonly AttemptRef[], now: number): Promise<TouchedAttempt[]>;
  /** Every `preparing` or `running` attempt, with its rollout's config (for the watchdog). */
  listActiveAttempts(): Promise<Array<{ attempt: Attempt; config: RolloutConfig }>>;

  /** Stores a snapshot under the next version; an id that exists returns the stored snapshot with `created: false`. */
  insertResources(input: { resourcesId: string; createdAt: number; resources: ResourcesMap }): Promise<{
    snapshot: ResourcesSnapshot;
    created: boolean;
  }>;
  getResources(resourcesId: string): Promise<ResourcesSnapshot | undefined>;
  latestResources(): Promise<ResourcesSnapshot | undefined>;
  /** Snapshots, highest version first. */
  queryResources(query: ParsedResourcesQuery): Promise<Page<ResourcesSnapshot>>;

  /**
   * Creates the run (createdAt = updatedAt = `now`, status `running` and config `{}` when not
   * given) or updates it: status, config and summary when given, updatedAt = `now`. Atomic. Throws ConflictError,
   * changing nothing, when the stored run has another algorithm.
   */
  upsertRun(update: ParsedRunUpdate, now: number): Promise<TrainingRun>;
  /**
   * Appends entries to an existing run's log (NotFoundError otherwise, storing nothing), giving
   * them the next sequences in order and skipping any whose key the log (or this batch) already
   * has; sets the run's `entries` and `updatedAt` (= `now`, also each entry's `at` when it has
   * none). Atomic. Returns the run after the change and the counts.
   */
  appendRunEntries(runId: string, entries: readonly ParsedRunEntryInput[], now: number): Promise<{ run: TrainingRun; added: number; duplicates: number }>;
  getRun(runId: string): Promise<TrainingRun | undefined>;
  /** Most recently updated first (ties: runId descending). */
  queryRuns(query: ParsedRunQuery): Promise<Page<TrainingRun>>;
  /** In sequence order; only sequences above `afterSequence` when given. */
  queryRunEntries(query: ParsedRunEntryQuery): Promise<Page<RunEntry>>;

  recordWorker(workerId: string, now: number, update: { dequeued?: boolean; stats?: JsonObject }): Promise<void>;
  listWorkers(): Promise<Worker[]>;

  stats(): Promise<Omit<StoreStats, "uptimeMs">>;
  close(): Promise<void>;

  /**
   * For backends several processes share (PostgreSQL): deliver the events that happened in the
   * other processes, so long-polls, waits and event listeners here wake for their changes too.
   */
  subscribe?(listener: (event: StoreEvent) => void): void;
  /** The counterpart of `subscribe`: tell the other processes about events that happened here. */
  announce?(events: readonly StoreEvent[]): void;
}

/**
 * Groups spans by the (rollout, attempt) pair they name, keeping each group in arrival order.
 * Keying by the pair means a span that names the right attempt under the wrong rollout forms its
 * own group, which then fails the existence check.
 */
export function groupByAttempt(spans: readonly ParsedSpanInput[]): ParsedSpanInput[][] {
  const groups = new Map<string, ParsedSpanInput[]>();
  for (const span of spans) {
    const key = `${span.rolloutId}/${span.attemptId}`;
    const group = groups.get(key);
    if (group) group.push(span);
    else groups.set(key, [span]);
  }
  return [...groups.values()];
}
