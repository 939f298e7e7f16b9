import { randomUUID } from "node:crypto";
import type pg from "pg";
import type {
  Attempt,
  AttemptRef,
  JsonObject,
  Logger,
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
  StoreEvent,
  StoreStats,
  TrainingRun,
  Worker,
} from "../../types/index.js";
import { NotFoundError, StoreClosedError, StoreUnavailableError, TracetrainError, ValidationError, cloneJson } from "../../types/index.js";
import { type AppendedSpans, type ResolvedSpanQuery, type StorageEngine, type TouchedAttempt, groupByAttempt } from "../engine.js";
import { asciiLower, decodeRolloutCursor, decodeSpanCursor, encodeRolloutCursor, encodeSpanCursor } from "../ordering.js";
import { decodeCountCursor, decodeRunCursor, encodeCountCursor, encodeRunCursor, runEntriesStart, runOwnedElsewhere } from "../runs.js";
import { type RunColumns, type RunEntryColumns, attemptFromRow, pageFromRows, runEntryFromRow, runFromRow, sortedRolloutRows } from "../sql-rows.js";
import { type RolloutChange, isRolloutQueued, recordActivity } from "../state-machine.js";
import { channelFor, decodeAnnouncement, encodeAnnouncements } from "./announcements.js";
import { type CallOutcome, Coalescer } from "./coalescer.js";
import {
  type PgModule,
  checkConnectionString,
  clientConfig,
  createPool,
  describeTarget,
  isConnectionError,
  loadPg,
  unavailable,
} from "./connection.js";
import { quoteSchema } from "./identifiers.js";
import { ListenConnection } from "./listen-connection.js";
import type { ParsedPostgresStoreOptions } from "./options.js";
import {
  type AttemptRow,
  type ResourcesRow,
  type RolloutRow,
  type RolloutWithAttemptsRow,
  type SpanColumns,
  type SpanRow,
  type WorkerRow,
  attemptColumns,
  resourcesFromRow,
  rolloutFromRow,
  spanColumns,
  spanFromRow,
} from "./rows.js";
import { migrate } from "./schema.js";
import { RUN_COLUMNS, RUN_ENTRY, RUN_ORDER, type Statement, type Statements, statements } from "./statements.js";
import { PipelinedTransaction } from "./transaction.js";

type RunRow = RunColumns<JsonObject>;
type RunEntryRow = RunEntryColumns<JsonObject>;
/** pg parses jsonb already. */
const asIs = (value: JsonObject) => value;

/** The parsed options the engine uses: stores in different schemas share nothing. */
export type PostgresEngineOptions = Pick<ParsedPostgresStoreOptions, "schema" | "pool" | "logger">;

/** Each sort's SQL expression; migration 2 indexes each as `(expression, seq)`. */
const ROLLOUT_SORT_KEYS = { createdAt: "r.created_at", endedAt: "r.ended_at", finalReward: "r.final_reward", duration: "(r.ended_at - r.created_at)" } as const;

const ASCII_LOWER = (column: string) => `translate(${column}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`;

/** The value a row sorts by, computed as the SQL expression computes it (a float8 difference is the same double in JS). */
function rowSortValue(row: RolloutWithAttemptsRow, field: ParsedRolloutQuery["sortBy"]): number | null {
  if (field === "createdAt") return row.created_at;
  if (field === "endedAt") return row.ended_at;
  if (field === "finalReward") return row.final_reward;
  return row.ended_at === null ? null : row.ended_at - row.created_at;
}
/** Span inserts are split so no statement's parameters grow huge: at most this many rows… */
const SPAN_CHUNK_ROWS = 2000;
/** …or about this many bytes of span data. */
const SPAN_CHUNK_BYTES = 16 * 1024 * 1024;
/** Deadlocks and serialization failures are retried this many times in all; nothing was committed. */
const TRANSACTION_TRIES = 3;
/** Most calls one batched transaction serves. */
const MAX_BATCH = 128;

interface AppendCall {
  groups: SpanColumns[][];
  now: number;
}
interface ClaimCall {
  limit: number;
  claim: (rollout: Rollout) => RolloutChange;
}
interface UpdateCall {
  rolloutId: string;
  step: (rollout: Rollout) => RolloutChange;
}
interface InsertedSpanRow {
  attempt_ref: number;
  span_id: string;
}
interface WorkerUpdate {
  workerId: string;
  seenAt: number;
  dequeuedAt: number | null;
  stats: string | null;
}
/** A rollout's state after a transaction's steps, and the attempts they changed. */
interface RolloutWrite {
  seq: number;
  rollout: Rollout;
  attempts: Attempt[];
}

/**
 * PostgreSQL persistence over a `pg.Pool`, for several processes ("replicas") sharing one
 * database. Every call runs in one transaction (or one autocommit statement): read with row locks,
 * run the pure state-machine step, write what changed, commit. Dequeuers take rows with
 * `FOR UPDATE SKIP LOCKED`, so replicas never hand out the same rollout and never wait for each
 * other. Events cross processes with LISTEN/NOTIFY on a channel per schema.
 *
 * Throughput comes from doing fewer round trips, not faster SQL: concurrent calls of the hot kinds
 * (span appends, claims, rollout updates, worker sightings) share one transaction ({@link Coalescer}),
 * and a transaction pipelines its statements ({@link PipelinedTransaction}) — typically two round
 * trips for a whole batch of calls. Each call still succeeds or fails on its own.
 *
 * Construction is synchronous, loads the pg package and connects nothing; the first call connects
 * and migrates, and every call waits for that.
 */
export class PostgresEngine implements StorageEngine {
  private readonly schema: string;
  private readonly quoted: string;
  private readonly sql: Statements;
  private readonly pg: PgModule;
  private readonly config: pg.ClientConfig;
  private readonly pool: pg.Pool;
  private readonly target: string;
  private readonly logger: Logger;
  /** Identifies this engine's own announcements, which PostgreSQL also delivers back to it. */
  private readonly origin = randomUUID();
  private readonly channel: string;
  private opening: Promise<void> | undefined;
  private readonly listeners: Array<(event: StoreEvent) => void> = [];
  private listen: ListenConnection | undefined;
  private outbox: StoreEvent[] = [];
  private sending: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  // The hot calls are coalesced: calls that arrive while earlier ones run share one transaction.
  // The in-flight limits keep a share of the pool for everything else.
  private readonly appends = this.coalescer<AppendCall, AppendedSpans[]>("span appends", 4, (calls) => this.appendBatch(calls));
  private readonly claims = this.coalescer<ClaimCall, RolloutChange[]>("claims", 2, (calls) => this.claimBatch(calls));
  private readonly updates = this.coalescer<UpdateCall, RolloutChange>("rollout updates", 2, (calls) => this.updateBatch(calls));
  private readonly workerUpdates = this.coalescer<WorkerUpdate, void>("worker updates", 1, (calls) => this.recordWorkerBatch(calls));

  constructor(connectionString: string, options: PostgresEngineOptions) {
    this.schema = options.schema;
    checkConnectionString(connectionString);
    this.quoted = quoteSchema(this.schema);
    this.sql = statements(this.quoted);
    this.channel = channelFor(this.schema);
    this.logger = options.logger;
    this.target = describeTarget(connectionString);
    // Loaded here, not at import: a process that never opens a PostgresStore never needs pg.
    this.pg = loadPg();
    this.config = clientConfig(this.pg, connectionString, options.pool);
    this.pool = createPool(this.pg, this.config, options.pool, this.logger, this.target);
  }

  // ---- connection, transactions and errors -------------------------------------------------

  /** Connects and migrates once; a failure is reported to the calls that waited and retried by the next call. */
  private ready(): Promise<void> {
    if (!this.opening) {
      const opening = this.open();
      this.opening = opening;
      opening.catch(() => {
        if (this.opening === opening) this.opening = undefined;
      });
    }
    return this.opening;
  }

  private async open(): Promise<void> {
    const client = await this.checkout();
    let broken: Error | undefined;
    try {
      await migrate(client, this.schema, this.quoted);
    } catch (error) {
      if (isConnectionError(error)) broken = error as Error;
      throw this.translate(error);
    } finally {
      client.release(broken);
    }
    // Listen before the first call runs, so no announcement made after that call is missed.
    if (this.listen) {
      try {
        await this.listen.start();
      } catch (error) {
        throw this.translate(error);
      }
    }
  }

  private async checkout(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw this.closed ? new StoreClosedError() : unavailable(this.target, error);
    }
  }

  /** One autocommit statement. */
  private async query<R extends pg.QueryResultRow>(sql: Statement | string, values: unknown[] = []): Promise<R[]> {
    await this.ready();
    try {
      const config = typeof sql === "string" ? { text: sql, values } : { ...sql, values };
      return (await this.pool.query<R>(config)).rows;
    } catch (error) {
      throw this.translate(error);
    }
  }

  /**
   * Runs `work` in one transaction (READ COMMITTED; atomicity comes from row locks), committing when
   * it returns unless it committed with its last statement. A deadlock or serialization failure
   * rolls everything back and runs `work` again, so `work` must only depend on what it reads — true
   * of every state-machine step.
   */
  private async transaction<T>(work: (tx: PipelinedTransaction) => Promise<T>): Promise<T> {
    await this.ready();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(work);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attempt < TRANSACTION_TRIES && (code === "40P01" || code === "40001")) continue;
        throw this.translate(error);
      }
    }
  }

  private async transactionOnce<T>(work: (tx: PipelinedTransaction) => Promise<T>): Promise<T> {
    const client = await this.checkout();
    const tx = new PipelinedTransaction(client);
    let broken: Error | undefined;
    try {
      const result = await work(tx);
      await tx.commit();
      return result;
    } catch (error) {
      try {
        await tx.rollback();
      } catch (rollbackError) {
        // The connection is unusable; release it with the error so the pool discards it.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** The error a caller should see: typed errors as they are, an unreachable server as StoreUnavailableError. */
  private translate(error: unknown): unknown {
    if (error instanceof TracetrainError) return error;
    if (this.closed) return new StoreClosedError();
    if (isConnectionError(error)) return unavailable(this.target, error);
    const code = (error as { code?: unknown }).code;
    // NUL cannot be stored in PostgreSQL text or jsonb (\u0000 in JSON, 0x00 in text).
    if (code === "22P05" || code === "22021") {
      return new ValidationError("data for PostgreSQL", [
        { path: "", message: `PostgreSQL cannot store the NUL character (\\u0000) in text or JSON: ${(error as Error).message}` },
      ]);
    }
    return error;
  }

  private coalescer<I, O>(kind: string, maxInFlight: number, execute: (calls: I[]) => Promise<Array<CallOutcome<O>>>): Coalescer<I, O> {
    return new Coalescer(execute, {
      maxInFlight,
      maxBatch: MAX_BATCH,
      // Nothing was stored; each call now runs alone, so only the one at fault fails.
      splitOnFailure: (error) => !(error instanceof StoreUnavailableError || error instanceof StoreClosedError),
      onSplit: (error, calls) => this.logger.debug(`a batch of ${calls} ${kind} failed as a whole; retrying each call alone`, { error }),
    });
  }

  // ---- rollouts ----------------------------------------------------------------------------

  async insertRollouts(rollouts: Rollout[]): Promise<Array<{ rollout: Rollout; created: boolean }>> {
    if (rollouts.length === 0) return [];
    // Copy and serialize now: the caller's objects may change once this call awaits.
    const firstOf = new Map<string, number>();
    rollouts.forEach((r, i) => {
      if (!firstOf.has(r.rolloutId)) firstOf.set(r.rolloutId, i);
    });
    const candidates = [...firstOf.values()].map((i) => {
      const rollout = cloneJson(rollouts[i]!);
      return { rollout, input: JSON.stringify(rollout.input), config: JSON.stringify(rollout.config), metadata: JSON.stringify(rollout.metadata) };
    });
    const queuedCount = candidates.filter((c) => isRolloutQueued(c.rollout.status)).length;

    const outcome = await this.transaction(async (tx) => {
      // Creation numbers and queue positions come from sequences; sorted, they follow the batch order.
      const keys = (await tx.query<{ seq: number; pos: number | null }>({ ...this.sql.allocate, values: [candidates.length, queuedCount] })).rows;
      const seqs = keys.map((k) => k.seq).sort((a, b) => a - b);
      const positions = keys.flatMap((k) => (k.pos === null ? [] : [k.pos])).sort((a, b) => a - b);
      let nextPosition = 0;
      const rows = candidates.map((c, i) => ({
        ...c,
        seq: seqs[i]!,
        queuePos: isRolloutQueued(c.rollout.status) ? positions[nextPosition++]! : null,
      }));
      // Insert in id order: concurrent batches sharing ids then wait for each other in one order
      // and cannot deadlock. The batch order is already carried by seq and queue_pos.
      const byId = [...rows].sort((a, b) => compareText(a.rollout.rolloutId, b.rollout.rolloutId));
      const columns: unknown[][] = Array.from({ length: 12 }, () => []);
      for (const row of byId) {
        const r = row.rollout;
        const values = [row.seq, r.rolloutId, row.input, r.mode, r.resourcesId, r.status, row.config, row.metadata, r.createdAt, r.endedAt, r.finalReward, row.queuePos];
        values.forEach((value, i) => columns[i]!.push(value));
      }
      const inserted = await tx.query<{ rollout_id: string }>({ ...this.sql.insertRollouts, values: columns });
      const created = new Set(inserted.rows.map((r) => r.rollout_id));
      const attempts = rows
        .filter((row) => created.has(row.rollout.rolloutId))
        .flatMap((row) => row.rollout.attempts.map((attempt) => ({ attempt, rolloutSeq: row.seq })));
      // The attempts and the rows that were already there do not depend on each other: one round trip.
      if (attempts.length > 0) void tx.query({ ...this.sql.upsertAttempts, values: attemptColumns(attempts) });
      const existingIds = candidates.map((c) => c.rollout.rolloutId).filter((id) => !created.has(id));
      const existing = existingIds.length > 0 ? await this.loadRollouts(tx, existingIds) : [];
      return { created, existing: new Map(existing.map((r) => [r.rolloutId, r])) };
    });

    const createdRollouts = new Map(candidates.map((c) => [c.rollout.rolloutId, c.rollout]));
    return rollouts.map((r, i) => {
      if (outcome.created.has(r.rolloutId)) {
        return { rollout: cloneJson(createdRollouts.get(r.rolloutId)!), created: firstOf.get(r.rolloutId) === i };
      }
      const stored = outcome.existing.get(r.rolloutId);
      // Rows are never deleted, so a conflicting id is always there to read.
      if (!stored) throw new TracetrainError("internal", `rollout '${r.rolloutId}' conflicted on insert but could not be read`);
      return { rollout: cloneJson(stored), created: false };
    });
  }

  async claimRollouts<C extends RolloutChange>(limit: number, claim: (rollout: Rollout) => C): Promise<C[]> {
    // The changes are the ones `claim` returned, so they are C.
    return (await this.claims.run({ limit, claim })) as C[];
  }

  /**
   * Claims for several calls in one transaction: the queue head for all of them in one statement,
   * shared out in call order, each taking up to its limit.
   */
  private claimBatch(calls: readonly ClaimCall[]): Promise<Array<CallOutcome<RolloutChange[]>>> {
    return this.transaction(async (tx) => {
      const total = calls.reduce((sum, call) => sum + call.limit, 0);
      const rows = (await tx.query<RolloutRow>({ ...this.sql.claimable, values: [total] })).rows;
      if (rows.length === 0) return calls.map(() => ({ ok: true, value: [] }));
      // Only a requeued rollout has attempts; a fresh one needs no second query. Existing attempts
      // are not locked: a claim only adds one, and needs the rollout lock (held) to do so.
      const requeued = rows.filter((row) => row.status === "requeuing").map((row) => row.seq);
      const attempts = new Map<number, Attempt[]>(rows.map((row) => [row.seq, []]));
      if (requeued.length > 0) {
        for (const a of (await tx.query<AttemptRow>({ ...this.sql.attemptsOf, values: [requeued] })).rows) {
          attempts.get(a.rollout_seq)!.push(attemptFromRow(a));
        }
      }
      const writes: RolloutWrite[] = [];
      let next = 0;
      const outcomes = calls.map(({ limit, claim }): CallOutcome<RolloutChange[]> => {
        const mine = rows.slice(next, next + limit);
        next += mine.length;
        const changes = mine.map((row) => {
          const change = claim(rolloutFromRow(row, attempts.get(row.seq)!));
          if (change.changed) writes.push({ seq: row.seq, rollout: change.rollout, attempts: change.attempt ? [change.attempt] : [] });
          return change;
        });
        return { ok: true, value: changes };
      });
      await this.commitWrites(tx, writes);
      return outcomes;
    });
  }

  async updateRollout<C extends RolloutChange>(rolloutId: string, step: (rollout: Rollout) => C): Promise<C> {
    // The change is the one `step` returned, so it is C.
    return (await this.updates.run({ rolloutId, step })) as C;
  }

  /**
   * State-machine steps for several calls in one transaction. Steps on the same rollout apply in
   * call order, each to what the one before left; a step that throws, or names a rollout that does
   * not exist, fails alone and changes nothing.
   */
  private updateBatch(calls: readonly UpdateCall[]): Promise<Array<CallOutcome<RolloutChange>>> {
    return this.transaction(async (tx) => {
      const ids = [...new Set(calls.map((call) => call.rolloutId))];
      // The attempts are locked too: span appends and heartbeats update attempt rows, and a step's
      // result is written back whole.
      const rows = (await tx.query<RolloutWithAttemptsRow>({ ...this.sql.lockRollouts, values: [ids] })).rows;
      const current = new Map(rows.map((row) => [row.rollout_id, { seq: row.seq, rollout: withAttempts(row), changedAttempts: new Set<string>(), changed: false }]));
      const outcomes = calls.map(({ rolloutId, step }): CallOutcome<RolloutChange> => {
        const entry = current.get(rolloutId);
        if (!entry) return { ok: false, error: new NotFoundError("rollout", rolloutId) };
        let change: RolloutChange;
        try {
          change = step(entry.rollout);
        } catch (error) {
          return { ok: false, error };
        }
        if (change.changed) {
          entry.rollout = change.rollout;
          entry.changed = true;
          if (change.attempt) entry.changedAttempts.add(change.attempt.attemptId);
        }
        return { ok: true, value: change };
      });
      const writes = [...current.values()]
        .filter((entry) => entry.changed)
        .map(({ seq, rollout, changedAttempts }) => ({ seq, rollout, attempts: rollout.attempts.filter((a) => changedAttempts.has(a.attemptId)) }));
      await this.commitWrites(tx, writes);
      return outcomes;
    });
  }

  /** Writes rollouts' new states and the attempts that changed, and commits, in one round trip. */
  private async commitWrites(tx: PipelinedTransaction, writes: readonly RolloutWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const attempts = writes.flatMap(({ seq, attempts }) => attempts.map((attempt) => ({ attempt, rolloutSeq: seq })));
    const rollouts: unknown[][] = [[], [], [], [], []];
    for (const { seq, rollout: r } of writes) {
      // No transition goes from one queued status to another, so entering the queue always means its back.
      [seq, r.status, r.endedAt, r.finalReward, isRolloutQueued(r.status)].forEach((value, i) => rollouts[i]!.push(value));
    }
    await tx.commitWith({ ...this.sql.persist, values: [...attemptColumns(attempts), ...rollouts] });
  }

  private async loadRollouts(tx: PipelinedTransaction, rolloutIds: readonly string[]): Promise<Rollout[]> {
    const rows = (await tx.query<RolloutWithAttemptsRow>({ ...this.sql.rolloutsByIds, values: [rolloutIds] })).rows;
    return rows.map(withAttempts);
  }

  async getRollout(rolloutId: string): Promise<Rollout | undefined> {
    const [row] = await this.query<RolloutWithAttemptsRow>(this.sql.rolloutById, [rolloutId]);
    return row && withAttempts(row);
  }

  async getRollouts(rolloutIds: readonly string[]): Promise<Rollout[]> {
    if (rolloutIds.length === 0) return [];
    return (await this.query<RolloutWithAttemptsRow>(this.sql.rolloutsByIds, [rolloutIds])).map(withAttempts);
  }

  async queryRollouts(query: ParsedRolloutQuery): Promise<Page<Rollout>> {
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const where: string[] = ["true"];
    if (query.status) where.push(`r.status = ANY(${param(query.status)}::text[])`);
    if (query.mode) where.push(`r.mode = ANY(${param(query.mode)}::text[])`);
    if (query.idPrefix !== undefined) where.push(`starts_with(r.rollout_id, ${param(query.idPrefix)})`);
    if (query.createdAfter !== undefined) where.push(`r.created_at >= ${param(query.createdAfter)}::float8`);
    if (query.createdBefore !== undefined) where.push(`r.created_at < ${param(query.createdBefore)}::float8`);
    if (query.minReward !== undefined) where.push(`r.final_reward >= ${param(query.minReward)}::float8`);
    if (query.maxReward !== undefined) where.push(`r.final_reward <= ${param(query.maxReward)}::float8`);
    if (query.text !== undefined) {
      // strpos, not LIKE: the caller's % and _ are plain characters. translate folds A–Z only, as
      // the other backends do (lower() would also fold other letters, depending on the collation).
      const needle = param(asciiLower(query.text));
      where.push(`(strpos(${ASCII_LOWER("r.rollout_id")}, ${needle}) > 0 OR strpos(${ASCII_LOWER("r.input::text")}, ${needle}) > 0)`);
    }
    const filtered = params.length;
    // The sort expression and direction come from fixed tables, never from the caller's text.
    const key = ROLLOUT_SORT_KEYS[query.sortBy];
    const direction = query.order === "asc" ? "ASC" : "DESC";
    const beyond = query.order === "asc" ? ">" : "<";
    const after = query.cursor === undefined ? undefined : decodeRolloutCursor(query, query.cursor);
    const rows = await sortedRolloutRows(query, after, async (scan, limit) => {
      params.length = filtered;
      const terms = [...where, `${key} IS ${scan.nulls ? "" : "NOT "}NULL`];
      if (!scan.nulls && scan.after) terms.push(`(${key}, r.seq) ${beyond} (${param(scan.after.value)}::float8, ${param(scan.after.seq)}::bigint)`);
      if (scan.nulls && scan.afterSeq !== undefined) terms.push(`r.seq ${beyond} ${param(scan.afterSeq)}::bigint`);
      const orderBy = scan.nulls ? `r.seq ${direction}` : `${key} ${direction}, r.seq ${direction}`;
      return this.query<RolloutWithAttemptsRow>(`${this.sql.rolloutSelect} WHERE ${terms.join(" AND ")} ORDER BY ${orderBy} LIMIT ${param(limit)}`, [...params]);
    });
    return pageFromRows(rows, query.limit, withAttempts, (last) => encodeRolloutCursor(query, { value: rowSortValue(last, query.sortBy), seq: last.seq }));
  }

  // ---- spans and heartbeats ----------------------------------------------------------------

  async appendSpans(spans: ParsedSpanInput[], now: number): Promise<AppendedSpans[]> {
    // Serialize now: the caller's objects may change once this call waits for its batch.
    return this.appends.run({ groups: groupByAttempt(spans).map((group) => group.map(spanColumns)), now });
  }

  /**
   * Appends for several calls in one transaction of two round trips: the first locks every attempt
   * named; the second inserts the spans not stored yet, numbering them after each attempt's last,
   * updates the attempts and commits. Calls apply in order, so a span id sent by two calls is
   * stored for the first and is a duplicate for the second. A call naming an attempt that does not
   * exist fails alone and stores nothing.
   */
  private appendBatch(calls: readonly AppendCall[]): Promise<Array<CallOutcome<AppendedSpans[]>>> {
    return this.transaction(async (tx) => {
      const locked = await this.lockAttempts(tx, calls.flatMap((call) => call.groups.map((group) => group[0]!)));
      // Status and heartbeat follow from the locked rows alone; the attempts' span counts are
      // added to in SQL, from the spans actually inserted.
      const touched = new Map<string, Attempt>();
      const rows: unknown[][] = [];
      const accepted = calls.map(({ groups, now }) => {
        const missing = groups.find((group) => locked.get(group[0]!.attemptId)?.rollout_id !== group[0]!.rolloutId)?.[0];
        if (missing) return { error: NotFoundError.attempt(missing.rolloutId, missing.attemptId) };
        const activities = groups.map((group) => {
          const row = locked.get(group[0]!.attemptId)!;
          for (const span of group) rows.push([row.rollout_seq, row.sequence, row.id, span.rolloutId, span.attemptId, span.spanId, ...span.values, span.bytes]);
          const attempt = touched.get(row.attempt_id) ?? attemptFromRow(row);
          const activity = recordActivity(attempt, now);
          touched.set(row.attempt_id, activity?.attempt ?? attempt);
          return activity?.event ?? null;
        });
        return { groups, activities };
      });
      const inserted = rows.length === 0 ? new Set<string>() : await this.insertSpans(tx, rows, touched, locked);

      // Replay the batch in order to tell each call what it added: the first sender of a span id
      // that was inserted added it; every other sender sent a duplicate.
      const counts = new Map([...touched.keys()].map((attemptId) => [attemptId, locked.get(attemptId)!.span_count]));
      return accepted.map((call): CallOutcome<AppendedSpans[]> => {
        if ("error" in call) return { ok: false, error: call.error };
        const value = call.groups.map((group, g): AppendedSpans => {
          const row = locked.get(group[0]!.attemptId)!;
          let added = 0;
          for (const span of group) if (inserted.delete(`${row.id}/${span.spanId}`)) added++;
          const lastSequence = counts.get(row.attempt_id)! + added;
          counts.set(row.attempt_id, lastSequence);
          return { rolloutId: row.rollout_id, attemptId: row.attempt_id, added, duplicates: group.length - added, lastSequence, activity: call.activities[g]! };
        });
        return { ok: true, value };
      });
    });
  }

  /**
   * Inserts span rows not stored yet and updates the attempts (status, heartbeat, span count), then
   * commits; returns `attemptRow/spanId` of the spans inserted.
   */
  private async insertSpans(tx: PipelinedTransaction, rows: unknown[][], touched: Map<string, Attempt>, locked: Map<string, AttemptRow>): Promise<Set<string>> {
    const touch: unknown[][] = [[], [], []];
    for (const [attemptId, a] of touched) [locked.get(attemptId)!.id, a.status, a.lastHeartbeatAt].forEach((value, i) => touch[i]!.push(value));
    // Each chunk sees the spans and counts the chunks before it wrote.
    const chunks = [...chunkSpanRows(rows)];
    const results = chunks.map((chunk, i) => {
      const query = { ...this.sql.appendSpans, values: [...chunk, ...touch] };
      return i < chunks.length - 1 ? tx.query<InsertedSpanRow>(query) : tx.commitWith<InsertedSpanRow>(query);
    });
    return new Set((await Promise.all(results)).flatMap((result) => result.rows.map((row) => `${row.attempt_ref}/${row.span_id}`)));
  }

  /** Locks the attempts the references name, in id order, and returns those that exist by attempt id. */
  private async lockAttempts(tx: PipelinedTransaction, refs: readonly AttemptRef[]): Promise<Map<string, AttemptRow>> {
    const ids = [...new Set(refs.map((ref) => ref.attemptId))];
    const rows = (await tx.query<AttemptRow>({ ...this.sql.lockAttempts, values: [ids] })).rows;
    return new Map(rows.map((row) => [row.attempt_id, row]));
  }

  async querySpans(query: ResolvedSpanQuery): Promise<Page<Span>> {
    const [keys] = await this.query<{ seq: number; attempt_seq: number | null }>(this.sql.spanKeys, [query.rolloutId, query.attemptId ?? null]);
    if (!keys) throw new NotFoundError("rollout", query.rolloutId);
    const params: unknown[] = [keys.seq];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const where = ["rollout_seq = $1"];
    if (query.attemptId !== undefined) {
      if (keys.attempt_seq === null) {
        throw NotFoundError.attempt(query.rolloutId, query.attemptId);
      }
      where.push(`attempt_seq = ${param(keys.attempt_seq)}::int`);
    }
    if (query.name !== undefined) where.push(`name = ${param(query.name)}`);
    if (query.namePrefix !== undefined) where.push(`starts_with(name, ${param(query.namePrefix)})`);
    if (query.cursor !== undefined) {
      const after = decodeSpanCursor(query.cursor);
      where.push(`(attempt_seq, sequence) > (${param(after.attemptSeq)}::int, ${param(after.seq)}::int)`);
    }
    const text = `SELECT rollout_id, attempt_seq, sequence, attempt_id, span_id, trace_id, parent_id, name, kind, start_time, end_time,
                         status, attributes, events, links
                  FROM ${this.quoted}.spans WHERE ${where.join(" AND ")} ORDER BY attempt_seq, sequence LIMIT ${param(query.limit + 1)}`;
    const rows = await this.query<SpanRow>(text, params);
    return pageFromRows(rows, query.limit, spanFromRow, (last) => encodeSpanCursor({ attemptSeq: last.attempt_seq, seq: last.sequence }));
  }

  async touchAttempts(refs: readonly AttemptRef[], now: number): Promise<TouchedAttempt[]> {
    return this.transaction(async (tx) => {
      const locked = await this.lockAttempts(tx, refs);
      const missing = refs.find((ref) => locked.get(ref.attemptId)?.rollout_id !== ref.rolloutId);
      if (missing) throw NotFoundError.attempt(missing.rolloutId, missing.attemptId);
      // A heartbeat may name an attempt twice; the second sees what the first did.
      const current = new Map([...locked].map(([id, row]) => [id, attemptFromRow(row)]));
      const dirty = new Set<string>();
      const results = refs.map((ref): TouchedAttempt => {
        const attempt = current.get(ref.attemptId)!;
        const activity = recordActivity(attempt, now);
        if (activity) {
          current.set(ref.attemptId, activity.attempt);
          dirty.add(ref.attemptId);
        }
        return { rolloutId: attempt.rolloutId, attemptId: attempt.attemptId, status: activity?.attempt.status ?? attempt.status, activity: activity?.event ?? null };
      });
      if (dirty.size > 0) {
        const columns: unknown[][] = [[], [], [], []];
        for (const id of dirty) {
          const a = current.get(id)!;
          [locked.get(id)!.id, a.status, a.lastHeartbeatAt, a.spanCount].forEach((value, i) => columns[i]!.push(value));
        }
        await tx.commitWith({ ...this.sql.touchAttempts, values: columns });
      }
      return results;
    });
  }

  async listActiveAttempts(): Promise<Array<{ attempt: Attempt; config: RolloutConfig }>> {
    const rows = await this.query<AttemptRow & { config: RolloutConfig }>(this.sql.activeAttempts);
    return rows.map((row) => ({ attempt: attemptFromRow(row), config: row.config }));
  }

  // ---- resources, workers, stats -----------------------------------------------------------

  async insertResources(input: { resourcesId: string; createdAt: number; resources: ResourcesMap }): Promise<{
    snapshot: ResourcesSnapshot;
    created: boolean;
  }> {
    const resources = JSON.stringify(input.resources);
    return this.transaction(async (tx) => {
      void tx.query({ text: this.sql.lockResources });
      const [existing] = (await tx.query<ResourcesRow>({ ...this.sql.resourcesById, values: [input.resourcesId] })).rows;
      if (existing) return { snapshot: resourcesFromRow(existing), created: false };
      const [row] = (await tx.commitWith<ResourcesRow>({ ...this.sql.insertResources, values: [input.resourcesId, input.createdAt, resources] })).rows;
      return { snapshot: resourcesFromRow(row!), created: true };
    });
  }

  async getResources(resourcesId: string): Promise<ResourcesSnapshot | undefined> {
    const [row] = await this.query<ResourcesRow>(this.sql.resourcesById, [resourcesId]);
    return row && resourcesFromRow(row);
  }

  async latestResources(): Promise<ResourcesSnapshot | undefined> {
    const [row] = await this.query<ResourcesRow>(this.sql.latestResources);
    return row && resourcesFromRow(row);
  }

  async queryResources(query: ParsedResourcesQuery): Promise<Page<ResourcesSnapshot>> {
    const below = query.cursor === undefined ? 2 ** 31 - 1 : Math.min(decodeCountCursor("resources", query.cursor), 2 ** 31 - 1);
    const rows = await this.query<ResourcesRow>(this.sql.resourcesBelow, [below, query.limit + 1]);
    return pageFromRows(rows, query.limit, resourcesFromRow, (last) => encodeCountCursor("resources", last.version));
  }

  // ---- training runs -----------------------------------------------------------------------

  async upsertRun(update: ParsedRunUpdate, now: number): Promise<TrainingRun> {
    const config = update.config === undefined ? null : JSON.stringify(update.config);
    const summary = update.summary === undefined ? null : JSON.stringify(update.summary);
    const [row] = await this.query<RunRow>(this.sql.upsertRun, [update.runId, update.algorithm, update.status ?? null, now, config, summary]);
    if (row) return runFromRow(row, asIs);
    // No row: the run exists under another algorithm, which never changes once set.
    const [other] = await this.query<RunRow>(this.sql.runById, [update.runId]);
    if (!other) throw new TracetrainError("internal", `run '${update.runId}' conflicted on upsert but could not be read`);
    throw runOwnedElsewhere(runFromRow(other, asIs), update.algorithm);
  }

  async appendRunEntries(runId: string, entries: readonly ParsedRunEntryInput[], now: number): Promise<{ run: TrainingRun; added: number; duplicates: number }> {
    // Serialize now: the caller's objects may change once this call awaits.
    const columns: unknown[][] = [[], [], [], []];
    for (const entry of entries) [entry.kind, entry.key ?? null, entry.at ?? now, JSON.stringify(entry.data)].forEach((value, i) => columns[i]!.push(value));
    return this.transaction(async (tx) => {
      const [run] = (await tx.query<RunRow>({ ...this.sql.lockRun, values: [runId] })).rows;
      if (!run) throw new NotFoundError("run", runId);
      const [result] = (await tx.commitWith<{ added: number }>({ ...this.sql.appendRunEntries, values: [runId, run.entries, ...columns, now] })).rows;
      const added = result!.added;
      const after = added === 0 ? run : { ...run, entries: run.entries + added, updated_at: now };
      return { run: runFromRow(after, asIs), added, duplicates: entries.length - added };
    });
  }

  async getRun(runId: string): Promise<TrainingRun | undefined> {
    const [row] = await this.query<RunRow>(this.sql.runById, [runId]);
    return row && runFromRow(row, asIs);
  }

  async queryRuns(query: ParsedRunQuery): Promise<Page<TrainingRun>> {
    const params: unknown[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const where = ["true"];
    if (query.algorithm) where.push(`algorithm = ANY(${param(query.algorithm)}::text[])`);
    if (query.status) where.push(`status = ANY(${param(query.status)}::text[])`);
    if (query.cursor !== undefined) {
      const after = decodeRunCursor(query.cursor);
      where.push(`(updated_at, run_id COLLATE "C") < (${param(after.updatedAt)}::float8, ${param(after.runId)}::text)`);
    }
    const sql = `SELECT ${RUN_COLUMNS} FROM ${this.quoted}.runs WHERE ${where.join(" AND ")} ORDER BY ${RUN_ORDER} LIMIT ${param(query.limit + 1)}`;
    const rows = await this.query<RunRow>(sql, params);
    return pageFromRows(rows, query.limit, (row) => runFromRow(row, asIs), (last) => encodeRunCursor({ updatedAt: last.updated_at, runId: last.run_id }));
  }

  async queryRunEntries(query: ParsedRunEntryQuery): Promise<Page<RunEntry>> {
    const params: unknown[] = [query.runId, runEntriesStart(query), query.limit + 1];
    const kind = query.kind ? ` AND kind = ANY($4::text[])` : "";
    if (query.kind) params.push(query.kind);
    const sql = `SELECT ${RUN_ENTRY} FROM ${this.quoted}.run_entries WHERE run_id = $1 AND sequence > $2::bigint${kind} ORDER BY sequence LIMIT $3`;
    const rows = await this.query<RunEntryRow>(sql, params);
    return pageFromRows(rows, query.limit, (row) => runEntryFromRow(row, asIs), (last) => encodeCountCursor("entries", last.sequence));
  }

  async recordWorker(workerId: string, now: number, update: { dequeued?: boolean; stats?: JsonObject }): Promise<void> {
    const stats = update.stats === undefined ? null : JSON.stringify(update.stats);
    await this.workerUpdates.run({ workerId, seenAt: now, dequeuedAt: update.dequeued ? now : null, stats });
  }

  /** Worker updates of several calls in one statement, merged per worker as if applied in call order. */
  private async recordWorkerBatch(calls: readonly WorkerUpdate[]): Promise<Array<CallOutcome<void>>> {
    const merged = new Map<string, { firstSeenAt: number; seenAt: number; dequeuedAt: number | null; stats: string | null }>();
    for (const call of calls) {
      const before = merged.get(call.workerId);
      merged.set(call.workerId, {
        firstSeenAt: Math.min(before?.firstSeenAt ?? call.seenAt, call.seenAt),
        seenAt: Math.max(before?.seenAt ?? call.seenAt, call.seenAt),
        dequeuedAt: call.dequeuedAt ?? before?.dequeuedAt ?? null,
        stats: call.stats ?? before?.stats ?? null,
      });
    }
    // In id order, so concurrent batches lock worker rows in one order and cannot deadlock.
    const ids = [...merged.keys()].sort(compareText);
    const values = [ids, ...(["firstSeenAt", "seenAt", "dequeuedAt", "stats"] as const).map((field) => ids.map((id) => merged.get(id)![field]))];
    await this.query(this.sql.recordWorkers, values);
    return calls.map(() => ({ ok: true, value: undefined }));
  }

  async listWorkers(): Promise<Worker[]> {
    return (await this.query<WorkerRow>(this.sql.workers)).map((row) => ({
      workerId: row.worker_id,
      status: row.active > 0 ? "busy" : "idle",
      firstSeenAt: row.first_seen_at,
      lastSeenAt: row.last_seen_at,
      lastDequeueAt: row.last_dequeue_at,
      activeAttempts: row.active,
      stats: row.stats,
    }));
  }

  async stats(): Promise<Omit<StoreStats, "uptimeMs">> {
    const [c] = await this.query<{
      by_status: Partial<Record<RolloutStatus, number>>;
      attempts: number;
      active: number;
      spans: number;
      resources: number;
      workers: number;
      queued: number;
    }>(this.sql.stats);
    const rollouts = { total: 0, queuing: 0, running: 0, requeuing: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const [status, n] of Object.entries(c!.by_status) as Array<[RolloutStatus, number]>) {
      rollouts[status] = n;
      rollouts.total += n;
    }
    return {
      rollouts,
      attempts: { total: c!.attempts, active: c!.active },
      spans: c!.spans,
      resources: c!.resources,
      workers: c!.workers,
      queueDepth: c!.queued,
    };
  }

  // ---- events across processes -------------------------------------------------------------

  /**
   * Delivers events announced by other engines on the same schema (other processes, or other
   * stores in this one). Uses one dedicated LISTEN connection, opened with the pool on first use.
   */
  subscribe(listener: (event: StoreEvent) => void): void {
    this.listeners.push(listener);
    if (this.listen) return;
    this.listen = new ListenConnection({
      newClient: () => new this.pg.Client(this.config),
      channel: this.channel,
      onPayload: (payload) => this.receive(payload),
      logger: this.logger,
      target: this.target,
    });
    // BaseStore subscribes before any call, so open() starts it; a later subscriber starts it here.
    if (this.opening) {
      void this.opening
        .then(() => this.listen?.start())
        .catch((error: unknown) => this.logger.error(`could not LISTEN for events from other processes on ${this.target}`, { error }));
    }
  }

  private receive(payload: string): void {
    const announcement = decodeAnnouncement(payload);
    if (!announcement.ok) {
      this.logger.warn(`ignored a malformed event notification on channel "${this.channel}": ${announcement.reason}`);
      return;
    }
    if (announcement.origin === this.origin) return;
    for (const event of announcement.events) {
      for (const listener of this.listeners) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error("an event listener failed on an event from another process", { error });
        }
      }
    }
  }

  /**
   * Sends events to the other engines with NOTIFY, after the change they describe committed.
   * Events queue here while a send is in flight and go out together in the next one, in order;
   * a failed send is logged, never thrown (the change itself is stored).
   */
  announce(events: readonly StoreEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.outbox.push(...events);
    this.sending ??= this.sendOutbox();
  }

  private async sendOutbox(): Promise<void> {
    try {
      while (this.outbox.length > 0) {
        const events = this.outbox;
        this.outbox = [];
        try {
          await this.pool.query({ ...this.sql.notify, values: [this.channel, encodeAnnouncements(this.origin, events)] });
        } catch (error) {
          this.logger.warn(`could not announce ${events.length} event(s) to other processes through ${this.target}`, { error });
        }
      }
    } finally {
      this.sending = undefined;
    }
  }

  async close(): Promise<void> {
    this.closing ??= (async () => {
      // Let calls already made, opening and pending announcements finish first: events of calls
      // that succeeded still go out.
      await Promise.all([this.appends, this.claims, this.updates, this.workerUpdates].map((coalescer) => coalescer.drain()));
      await this.opening?.catch(() => undefined);
      await this.sending;
      this.closed = true;
      await this.listen?.stop();
      await this.pool.end();
    })();
    return this.closing;
  }
}

function withAttempts(row: RolloutWithAttemptsRow): Rollout {
  return rolloutFromRow(row, row.attempts.map(attemptFromRow));
}

/** One fixed order for ids (ASCII by their schema), so every inserting transaction takes row locks in the same order. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Turns span rows (columns, then a size estimate last) into per-column arrays for the unnest
 * insert, a chunk at a time so a very large batch never becomes one enormous statement.
 */
function* chunkSpanRows(rows: readonly unknown[][]): Generator<unknown[][]> {
  const width = (rows[0]?.length ?? 1) - 1;
  let start = 0;
  while (start < rows.length) {
    let end = start;
    let bytes = 0;
    while (end < rows.length && end - start < SPAN_CHUNK_ROWS && (end === start || bytes < SPAN_CHUNK_BYTES)) {
      bytes += rows[end]![width] as number;
      end++;
    }
    const columns: unknown[][] = Array.from({ length: width }, () => []);
    for (let i = start; i < end; i++) {
      const row = rows[i]!;
      for (let c = 0; c < width; c++) columns[c]!.push(row[c]);
    }
    yield columns;
    start = end;
  }
}
