import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { EventEmitter } from "eventemitter3";
import type { z } from "zod";
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
  AddRunEntriesResult,
  Page,
  ResourcesMapInput,
  ResourcesQuery,
  ResourcesSnapshot,
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
} from "../../types/index.js";
import { StoreClosedError, StoreEventSchema, StoreUnavailableError, TracetrainError, ValidationError } from "../../types/index.js";
import { parseRequest } from "../requests.js";
import type { Store, StoreEventMap, WaitOptions } from "../store.js";
import { newId } from "../ids.js";
import { type HttpStoreOptions, parseHttpStoreOptions } from "./options.js";
import { errorFromBody } from "../../http/index.js";
import {
  AddRunEntriesResultSchema,
  AddSpansResultSchema,
  AttemptedRolloutSchema,
  DequeueResponseSchema,
  EnqueueResponseSchema,
  HeartbeatResultSchema,
  MAX_POLL_MS,
  ResourcesPageSchema,
  ResourcesSnapshotSchema,
  RolloutPageSchema,
  RolloutSchema,
  type RouteName,
  Routes,
  RunEntryPageSchema,
  RunPageSchema,
  SpanPageSchema,
  StoreStatsSchema,
  TrainingRunSchema,
  WaitResponseSchema,
  WorkersResponseSchema,
  toSearchParams,
} from "./protocol.js";
import { sleep } from "../../util/index.js";

interface CallOptions<S extends z.ZodType> {
  params?: Record<string, string>;
  query?: string;
  body?: unknown;
  schema: S;
  /** Safe to send twice (the server dedupes or the call changes nothing the second time). */
  idempotent: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * A `Store` on the other side of HTTP — runners, trainers and algorithms use it exactly like an
 * in-process store. Connections are pooled (keep-alive). Every call that is safe to repeat is
 * retried with backoff while the server is unreachable or restarting, and made safe where it
 * would not be: ids for new rollouts and resources are chosen here, so a retried enqueue cannot
 * create a duplicate. Server errors arrive as the same typed errors an in-process store throws.
 */
export class HttpStore implements Store {
  readonly url: string;
  readonly events: RemoteEvents;
  private readonly base: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly token: string | undefined;
  private readonly retries: readonly number[];
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly closing = new AbortController();

  constructor(url: string, options: HttpStoreOptions = {}) {
    const { token, retryDelaysMs, requestTimeoutMs, logger } = parseHttpStoreOptions(options);
    let base: URL;
    try {
      base = new URL(url);
    } catch {
      throw new ValidationError("store URL", [{ path: "url", message: `not a URL: ${JSON.stringify(url)}` }]);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new ValidationError("store URL", [{ path: "url", message: `expected http:// or https://, got ${base.protocol}` }]);
    }
    this.base = base;
    this.url = base.origin;
    this.agent = base.protocol === "https:" ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 });
    this.token = token;
    this.retries = retryDelaysMs;
    this.timeoutMs = requestTimeoutMs;
    this.logger = logger;
    this.events = new RemoteEvents((signal) => this.streamEvents(signal), this.logger);
  }

  // ---- the Store interface ---------------------------------------------------------------------

  // Every call validates its arguments here with the same checks as an in-process store (see
  // store/requests.ts): same errors, and nothing silently changed by JSON on the way.

  async enqueue(request: EnqueueRequest): Promise<Rollout> {
    // An id chosen here makes a retried enqueue idempotent: the server returns the rollout it already has.
    const parsed = parseRequest.enqueue(request);
    const body = { rollout: { ...parsed, rolloutId: parsed.rolloutId ?? newId("ro") } };
    const { rollouts } = await this.call("enqueue", { body, schema: EnqueueResponseSchema, idempotent: true });
    return rollouts[0]!;
  }

  async enqueueMany(requests: EnqueueRequest[]): Promise<Rollout[]> {
    const withIds = parseRequest.enqueueMany(requests).map((r) => ({ ...r, rolloutId: r.rolloutId ?? newId("ro") }));
    const { rollouts } = await this.call("enqueue", { body: { rollouts: withIds }, schema: EnqueueResponseSchema, idempotent: true });
    return rollouts;
  }

  async dequeue(request: DequeueRequest = {}, options: WaitOptions = {}): Promise<AttemptedRollout[]> {
    const parsed = parseRequest.dequeue(request);
    const deadline = performance.now() + parsed.waitMs;
    for (;;) {
      const remaining = Math.max(0, Math.min(MAX_POLL_MS, deadline - performance.now()));
      const { claimed } = await this.call("dequeue", {
        body: { ...parsed, waitMs: Math.round(remaining) },
        schema: DequeueResponseSchema,
        // A dequeue whose answer was lost has claimed rollouts nobody will run; it is only resent
        // when the request never reached the server. (The watchdog recovers the rest.)
        idempotent: false,
        timeoutMs: remaining + this.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (claimed.length > 0 || performance.now() >= deadline || options.signal?.aborted) return claimed;
    }
  }

  async startRollout(request: StartRolloutRequest): Promise<AttemptedRollout> {
    const parsed = parseRequest.startRollout(request);
    return this.call("startRollout", { body: { ...parsed, rolloutId: parsed.rolloutId ?? newId("ro") }, schema: AttemptedRolloutSchema, idempotent: true });
  }

  async addSpans(spans: SpanInput[]): Promise<AddSpansResult> {
    // Duplicate span ids are skipped by the store, so a resent batch adds nothing twice.
    return this.call("addSpans", { body: { spans: parseRequest.spans(spans) }, schema: AddSpansResultSchema, idempotent: true });
  }

  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    return this.call("heartbeat", { body: parseRequest.heartbeat(request), schema: HeartbeatResultSchema, idempotent: true });
  }

  async completeAttempt(rolloutId: string, attemptId: string, completion: AttemptCompletion): Promise<AttemptedRollout> {
    const params = { rolloutId: parseRequest.rolloutId(rolloutId), attemptId: parseRequest.attemptId(attemptId) };
    // Repeating an identical completion is a no-op in the store.
    return this.call("completeAttempt", { params, body: parseRequest.completion(completion), schema: AttemptedRolloutSchema, idempotent: true });
  }

  async cancelRollout(rolloutId: string, options: CancelOptions = {}): Promise<Rollout> {
    const params = { rolloutId: parseRequest.rolloutId(rolloutId) };
    return this.call("cancelRollout", { params, body: parseRequest.cancel(options), schema: RolloutSchema, idempotent: true });
  }

  async getRollout(rolloutId: string): Promise<Rollout> {
    return this.call("getRollout", { params: { rolloutId: parseRequest.rolloutId(rolloutId) }, schema: RolloutSchema, idempotent: true });
  }

  async queryRollouts(query: RolloutQuery = {}): Promise<Page<Rollout>> {
    const parsed = parseRequest.rolloutQuery(query);
    return this.call("queryRollouts", { query: toSearchParams(parsed), schema: RolloutPageSchema, idempotent: true });
  }

  async querySpans(query: SpanQuery): Promise<Page<Span>> {
    const { rolloutId, ...rest } = parseRequest.spanQuery(query);
    return this.call("querySpans", { params: { rolloutId }, query: toSearchParams(rest), schema: SpanPageSchema, idempotent: true });
  }

  async addResources(resources: ResourcesMapInput, options: AddResourcesOptions = {}): Promise<ResourcesSnapshot> {
    const parsed = parseRequest.resources(resources);
    const { resourcesId } = parseRequest.addResourcesOptions(options);
    // An id chosen here makes a retried call idempotent.
    return this.call("addResources", { body: { resources: parsed, resourcesId: resourcesId ?? newId("rs") }, schema: ResourcesSnapshotSchema, idempotent: true });
  }

  async getResources(resourcesId: string): Promise<ResourcesSnapshot> {
    return this.call("getResources", { params: { resourcesId: parseRequest.resourcesId(resourcesId) }, schema: ResourcesSnapshotSchema, idempotent: true });
  }

  async queryResources(query: ResourcesQuery = {}): Promise<Page<ResourcesSnapshot>> {
    return this.call("queryResources", { query: toSearchParams(parseRequest.resourcesQuery(query)), schema: ResourcesPageSchema, idempotent: true });
  }

  async recordRun(update: RunUpdate): Promise<TrainingRun> {
    // Setting the same header twice leaves the same run.
    return this.call("recordRun", { body: parseRequest.runUpdate(update), schema: TrainingRunSchema, idempotent: true });
  }

  async addRunEntries(runId: string, entries: RunEntryInput[]): Promise<AddRunEntriesResult> {
    const parsed = parseRequest.runEntries({ runId, entries });
    // Only keyed entries are skipped when sent again; a retry of unkeyed ones could record them twice.
    const idempotent = parsed.entries.every((e) => e.key !== undefined);
    return this.call("addRunEntries", { params: { runId: parsed.runId }, body: { entries: parsed.entries }, schema: AddRunEntriesResultSchema, idempotent });
  }

  async getRun(runId: string): Promise<TrainingRun> {
    return this.call("getRun", { params: { runId: parseRequest.runId(runId) }, schema: TrainingRunSchema, idempotent: true });
  }

  async queryRuns(query: RunQuery = {}): Promise<Page<TrainingRun>> {
    return this.call("queryRuns", { query: toSearchParams(parseRequest.runQuery(query)), schema: RunPageSchema, idempotent: true });
  }

  async queryRunEntries(query: RunEntryQuery): Promise<Page<RunEntry>> {
    const { runId, ...rest } = parseRequest.runEntryQuery(query);
    return this.call("queryRunEntries", { params: { runId }, query: toSearchParams(rest), schema: RunEntryPageSchema, idempotent: true });
  }

  async waitForRollouts(rolloutIds: string[], options: WaitOptions & { timeoutMs?: number } = {}): Promise<Rollout[]> {
    const { signal, ...rest } = options;
    parseRequest.wait({ rolloutIds, ...rest });
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.timeoutMs;
    const ended = new Map<string, Rollout>();
    for (;;) {
      const pending = [...new Set(rolloutIds)].filter((id) => !ended.has(id));
      const remaining = Math.max(0, Math.min(MAX_POLL_MS, deadline - performance.now()));
      const { rollouts } = await this.call("waitForRollouts", {
        body: { rolloutIds: pending, timeoutMs: Math.round(remaining) },
        schema: WaitResponseSchema,
        idempotent: true,
        timeoutMs: remaining + this.timeoutMs,
        ...(signal ? { signal } : {}),
      });
      for (const rollout of rollouts) ended.set(rollout.rolloutId, rollout);
      const done = rolloutIds.every((id) => ended.has(id));
      if (done || performance.now() >= deadline || signal?.aborted) {
        return rolloutIds.flatMap((id, i) => (ended.has(id) && rolloutIds.indexOf(id) === i ? [ended.get(id)!] : []));
      }
    }
  }

  async workers(): Promise<Worker[]> {
    return (await this.call("workers", { schema: WorkersResponseSchema, idempotent: true })).workers;
  }

  async stats(): Promise<StoreStats> {
    return this.call("stats", { schema: StoreStatsSchema, idempotent: true });
  }

  /** Closes this client (not the server's store): pending calls and the event stream end. */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.events.removeAllListeners();
    this.agent.destroy();
  }

  // ---- transport ---------------------------------------------------------------------------------

  private async call<S extends z.ZodType>(route: RouteName, options: CallOptions<S>): Promise<z.output<S>> {
    if (this.closing.signal.aborted) throw new StoreClosedError("this HttpStore was closed");
    const { method } = Routes[route];
    const path = Routes[route].path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(options.params?.[name] ?? "")) + (options.query ?? "");
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        const { status, json } = await this.send(method, path, options);
        if (status === 200) {
          const parsed = options.schema.safeParse(json);
          if (parsed.success) return parsed.data;
          throw new TracetrainError("internal", `the store server sent a malformed ${route} response: ${parsed.error.issues[0]?.message ?? ""}`);
        }
        const error = errorFromBody(status, json);
        if (!(error instanceof StoreUnavailableError) && status !== 502 && status !== 504) throw error;
        failure = error;
      } catch (error) {
        if (error instanceof TracetrainError || options.signal?.aborted || this.closing.signal.aborted) throw this.closed(error);
        if (!options.idempotent && !isNotDelivered(error)) throw new StoreUnavailableError(`${route} failed: ${messageOf(error)}`, { cause: error });
        failure = error;
      }
      const delay = this.retries[attempt];
      if (delay === undefined) throw this.gaveUp(failure, attempt + 1, performance.now() - started);
      if (attempt === 0) this.logger.warn(`${this.unavailable(failure)}; retrying for up to ${seconds(this.retries.reduce((sum, d) => sum + d, 0))}`);
      await sleep(delay, this.closing.signal);
    }
  }

  /** What went wrong, naming the URL: not reachable at all (wrong URL, server not running), or reachable but unavailable. */
  private unavailable(failure: unknown): string {
    return failure instanceof TracetrainError ? `the store at ${this.url} is unavailable (${failure.message})` : `cannot reach the store at ${this.url} (${messageOf(failure)})`;
  }

  private gaveUp(failure: unknown, tries: number, elapsedMs: number): StoreUnavailableError {
    const retried = tries > 1 ? `gave up after ${tries} tries over ${seconds(elapsedMs)}` : "not retried";
    return new StoreUnavailableError(`${this.unavailable(failure)}; ${retried} (the HttpStore option retryDelaysMs sets how long to keep trying)`, { cause: failure });
  }

  private closed(error: unknown): unknown {
    return this.closing.signal.aborted && !(error instanceof TracetrainError) ? new StoreClosedError("this HttpStore was closed") : error;
  }

  /** One HTTP exchange; resolves with the status and parsed JSON body, rejects on network failure. */
  private send(method: string, path: string, options: CallOptions<z.ZodType>): Promise<{ status: number; json: unknown }> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const signal = AbortSignal.any([this.closing.signal, ...(options.signal ? [options.signal] : [])]);
    return new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const request = (this.base.protocol === "https:" ? httpsRequest : httpRequest)(
        new URL(path, this.base),
        { method, agent: this.agent, headers: this.headers(body), signal, timeout: options.timeoutMs ?? this.timeoutMs },
        (response) => {
          readAll(response).then((text) => {
            try {
              resolve({ status: response.statusCode ?? 0, json: text.length > 0 ? JSON.parse(text) : undefined });
            } catch {
              resolve({ status: response.statusCode ?? 0, json: undefined });
            }
          }, reject);
        },
      );
      request.on("timeout", () => request.destroy(Object.assign(new Error(`request timed out after ${options.timeoutMs ?? this.timeoutMs} ms`), { code: "ETIMEDOUT" })));
      request.on("error", (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed just as we reused it: the request never arrived.
        reject(request.reusedSocket && error.code === "ECONNRESET" ? Object.assign(error, { notDelivered: true }) : error);
      });
      request.end(body);
    }).catch((error: unknown) => {
      if (signal.aborted && options.signal?.aborted) return { status: 200, json: abortedAnswer(options.schema) };
      throw error;
    });
  }

  private headers(body: string | undefined): Record<string, string | number> {
    const headers: Record<string, string | number> = { accept: "application/json" };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = Buffer.byteLength(body);
    }
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  /** Reads the server's event stream into `events` until `signal` aborts; reconnects when it drops. */
  private async streamEvents(signal: AbortSignal): Promise<void> {
    let backoff = 100;
    while (!signal.aborted && !this.closing.signal.aborted) {
      try {
        await this.readEventStream(signal);
        backoff = 100;
      } catch (error) {
        if (signal.aborted) return;
        this.logger.warn(`event stream from ${this.url} dropped (${messageOf(error)}); reconnecting`);
      }
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  private readEventStream(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = (this.base.protocol === "https:" ? httpsRequest : httpRequest)(new URL(Routes.events.path, this.base), { method: "GET", headers: this.headers(undefined), signal }, (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new StoreUnavailableError(`the event stream of ${this.url} answered HTTP ${response.statusCode}`));
          return;
        }
        response.setEncoding("utf8");
        this.events.setConnected(true);
        response.on("close", () => this.events.setConnected(false));
        let buffer = "";
        response.on("data", (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            this.deliver(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        });
        response.on("end", () => resolve());
        response.on("error", reject);
      });
      request.on("error", (error) => (signal.aborted ? resolve() : reject(error)));
      request.end();
    });
  }

  private deliver(message: string): void {
    const data = message
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trimStart())
      .join("\n");
    if (!data) return;
    try {
      const event = StoreEventSchema.parse(JSON.parse(data)) as StoreEvent;
      this.events.deliver(event);
    } catch (error) {
      this.logger.warn("ignored a malformed event from the store server", { error });
    }
  }
}

/**
 * `store.events` for a remote store: the server's event stream is opened when the first listener
 * subscribes and closed when the last one leaves, so clients that never listen pay nothing.
 */
export class RemoteEvents extends EventEmitter<StoreEventMap> {
  private stream: AbortController | undefined;
  private connectedNow = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly open: (signal: AbortSignal) => Promise<void>,
    private readonly logger: Logger,
  ) {
    super();
  }

  /**
   * Resolves once the event stream is open, so events of calls made afterwards will arrive (events
   * from before a listener subscribed, or while the stream was reconnecting, are not replayed).
   */
  connected(): Promise<void> {
    return this.connectedNow ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The stream opened (`true`) or dropped (`false`). */
  setConnected(connected: boolean): void {
    this.connectedNow = connected;
    if (connected) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Emits an event from the server; a throwing listener is reported, and the stream goes on. */
  deliver(event: StoreEvent): void {
    try {
      (this.emit as (name: StoreEvent["type"], payload: StoreEvent) => boolean)(event.type, event);
    } catch (error) {
      this.logger.error(`a '${event.type}' event listener threw`, { error });
    }
  }

  override on<T extends keyof StoreEventMap>(event: T, fn: (...args: StoreEventMap[T]) => void, context?: unknown): this {
    super.on(event, fn, context);
    return this.sync();
  }

  override once<T extends keyof StoreEventMap>(event: T, fn: (...args: StoreEventMap[T]) => void, context?: unknown): this {
    super.once(event, fn, context);
    return this.sync();
  }

  override off<T extends keyof StoreEventMap>(event: T, fn?: (...args: StoreEventMap[T]) => void, context?: unknown, once?: boolean): this {
    super.off(event, fn, context, once);
    return this.sync();
  }

  override removeAllListeners(event?: keyof StoreEventMap): this {
    super.removeAllListeners(event);
    return this.sync();
  }

  private sync(): this {
    const listening = this.eventNames().length > 0;
    if (listening && !this.stream) {
      this.stream = new AbortController();
      void this.open(this.stream.signal);
    } else if (!listening && this.stream) {
      this.stream.abort();
      this.stream = undefined;
      this.setConnected(false);
    }
    return this;
  }
}

/** What an aborted long-poll returns: nothing claimed, nothing ended. */
function abortedAnswer(schema: z.ZodType): unknown {
  if (schema === DequeueResponseSchema) return { claimed: [] };
  if (schema === WaitResponseSchema) return { rollouts: [] };
  throw new StoreClosedError("the call was aborted");
}

/** Errors that prove the request never reached the server, so even a non-idempotent call may be resent. */
function isNotDelivered(error: unknown): boolean {
  const { code, notDelivered } = error as { code?: unknown; notDelivered?: unknown };
  return notDelivered === true || code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function messageOf(error: unknown): string {
  // A connection tried on several addresses (IPv4 and IPv6 for localhost) fails with an AggregateError whose own message is empty.
  if (error instanceof AggregateError && error.message === "") return error.errors.map(messageOf).join("; ");
  return error instanceof Error ? error.message : String(error);
}

async function readAll(response: IncomingMessage): Promise<string> {
  response.setEncoding("utf8");
  let text = "";
  for await (const chunk of response) text += chunk as string;
  return text;
}
