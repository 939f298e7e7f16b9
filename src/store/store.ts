import type { EventEmitter } from "eventemitter3";
import { z } from "zod";
import type {
  AddResourcesOptions,
  AddSpansResult,
  AttemptCompletion,
  AttemptedRollout,
  AttemptStatusEvent,
  CancelOptions,
  DequeueRequest,
  EnqueueRequest,
  HeartbeatRequest,
  HeartbeatResult,
  Page,
  ResourcesAddedEvent,
  ResourcesMapInput,
  ResourcesQuery,
  ResourcesSnapshot,
  AddRunEntriesResult,
  Rollout,
  RolloutQuery,
  RolloutStatusEvent,
  RunEntry,
  RunEntryInput,
  RunEntryQuery,
  RunEvent,
  RunQuery,
  RunUpdate,
  TrainingRun,
  Span,
  SpanInput,
  SpanQuery,
  SpansAddedEvent,
  StartRolloutRequest,
  StoreStats,
  Worker,
} from "../types/index.js";
import { hasMethods } from "../util/index.js";

/** Event name → listener arguments. Events fire after the change they describe is stored. */
export interface StoreEventMap {
  rollout: [RolloutStatusEvent];
  attempt: [AttemptStatusEvent];
  spans: [SpansAddedEvent];
  resources: [ResourcesAddedEvent];
  run: [RunEvent];
}

export type StoreEvents = EventEmitter<StoreEventMap>;

/** Options for calls that may wait. */
export interface WaitOptions {
  /** Stops the wait early; the call then returns what it has (an empty list for dequeue). */
  signal?: AbortSignal;
}

/**
 * The store: the only meeting point of algorithms and runners. It holds the rollout queue,
 * rollouts and their attempts, spans, versioned resources and workers, and enforces the status
 * state machine. Every implementation (memory, SQLite, PostgreSQL, HTTP client) passes the same
 * conformance suite.
 *
 * Errors: unknown ids throw `NotFoundError`, illegal status changes `ConflictError`, bad payloads
 * `ValidationError` (with the path of each problem), calls after `close()` `StoreClosedError`.
 * Records returned are snapshots: changing them changes nothing in the store.
 */
export interface Store {
  /** Status changes, spans added and resources added, announced after they are stored. */
  readonly events: StoreEvents;

  /** Queues one rollout. Idempotent when the request carries a `rolloutId`: the existing rollout is returned. */
  enqueue(request: EnqueueRequest): Promise<Rollout>;
  /** Queues many rollouts atomically, in order. Same idempotency as {@link enqueue}, per item. */
  enqueueMany(requests: EnqueueRequest[]): Promise<Rollout[]>;
  /**
   * Claims up to `limit` queued rollouts for a worker, oldest first, each with a new attempt in
   * `preparing`. With `waitMs`, waits for work to arrive when the queue is empty (woken the moment
   * it does). Never hands one rollout to two callers.
   */
  dequeue(request?: DequeueRequest, options?: WaitOptions): Promise<AttemptedRollout[]>;
  /** Creates a rollout and its first attempt at once, bypassing the queue (online use, debugging). */
  startRollout(request: StartRolloutRequest): Promise<AttemptedRollout>;

  /**
   * Stores spans in one batch. The store assigns each attempt's `sequence` (1, 2, 3, …); a span id
   * the attempt already has is skipped and counted in `duplicates`, not an error. Spans count as
   * heartbeats for active attempts; spans for an ended attempt are kept but revive nothing.
   */
  addSpans(spans: SpanInput[]): Promise<AddSpansResult>;
  /** A worker is alive and still running these attempts. Returns each attempt's status so the worker can stop ended ones. */
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult>;
  /**
   * Ends an attempt: `succeeded` (optionally with the outcome reward) or `failed` with an error
   * kind. A failure the rollout's retry policy covers requeues the rollout. An attempt that has
   * already ended (e.g. timed out) rejects a different outcome with ConflictError.
   */
  completeAttempt(rolloutId: string, attemptId: string, completion: AttemptCompletion): Promise<AttemptedRollout>;
  /** Cancels a rollout that has not ended, and its active attempt. Repeating it is harmless. */
  cancelRollout(rolloutId: string, options?: CancelOptions): Promise<Rollout>;

  getRollout(rolloutId: string): Promise<Rollout>;
  queryRollouts(query?: RolloutQuery): Promise<Page<Rollout>>;
  /** Spans of a rollout ordered by attempt then sequence; `attemptId: "latest"` gives the rollout's trajectory. */
  querySpans(query: SpanQuery): Promise<Page<Span>>;

  /** Publishes an immutable resources snapshot, which becomes the latest. Idempotent with a caller-chosen `resourcesId`. */
  addResources(resources: ResourcesMapInput, options?: AddResourcesOptions): Promise<ResourcesSnapshot>;
  /** A snapshot by id, or `"latest"`. Throws NotFoundError if there is none. */
  getResources(resourcesId: string): Promise<ResourcesSnapshot>;
  /** Snapshots, newest version first. */
  queryResources(query?: ResourcesQuery): Promise<Page<ResourcesSnapshot>>;

  /**
   * Creates a training run, or updates its status, config or summary. The algorithm is fixed at
   * creation: an update naming another one throws ConflictError (two algorithms sharing a runId).
   */
  recordRun(update: RunUpdate): Promise<TrainingRun>;
  /** Appends entries to a run's log in order; an entry whose `key` the log already has is skipped (a resumed run re-records safely). */
  addRunEntries(runId: string, entries: RunEntryInput[]): Promise<AddRunEntriesResult>;
  getRun(runId: string): Promise<TrainingRun>;
  /** Runs, most recently updated first. */
  queryRuns(query?: RunQuery): Promise<Page<TrainingRun>>;
  /** A run's log in sequence order. */
  queryRunEntries(query: RunEntryQuery): Promise<Page<RunEntry>>;

  /**
   * Waits until every listed rollout has ended or `timeoutMs` passes, then returns the ended ones
   * in the order asked. Event-driven: it wakes the moment the last one ends.
   */
  waitForRollouts(rolloutIds: string[], options?: WaitOptions & { timeoutMs?: number }): Promise<Rollout[]>;

  workers(): Promise<Worker[]>;
  stats(): Promise<StoreStats>;
  /** Stops the watchdog, fails pending waits with StoreClosedError and releases the backend. */
  close(): Promise<void>;
}

const STORE_METHODS = [
  "enqueue",
  "enqueueMany",
  "dequeue",
  "startRollout",
  "addSpans",
  "heartbeat",
  "completeAttempt",
  "cancelRollout",
  "getRollout",
  "queryRollouts",
  "querySpans",
  "addResources",
  "getResources",
  "queryResources",
  "recordRun",
  "addRunEntries",
  "getRun",
  "queryRuns",
  "queryRunEntries",
  "waitForRollouts",
  "workers",
  "stats",
  "close",
] as const satisfies ReadonlyArray<keyof Store>;

/** Whether `value` is a Store: checked by shape, so any implementation (or another copy of tracetrain's) fits. */
export function isStore(value: unknown): value is Store {
  return hasMethods(value, STORE_METHODS) && hasMethods((value as { events?: unknown }).events, ["on", "off"]);
}

/** A `store` field of an options schema: any Store, checked by {@link isStore}. */
export const StoreSchema = z.custom<Store>(isStore, "expected a Store (MemoryStore, SqliteStore, PostgresStore, HttpStore or your own): an object with the Store methods and events");
