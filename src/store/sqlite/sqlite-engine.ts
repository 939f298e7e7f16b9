import { existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type {
  Attempt,
  AttemptRef,
  JsonObject,
  JsonValue,
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
  RolloutMode,
  RolloutStatus,
  RunEntry,
  Span,
  SpanKind,
  StoreStats,
  TrainingRun,
  Worker,
} from "../../types/index.js";
import { NotFoundError } from "../../types/index.js";
import { type AppendedSpans, type ResolvedSpanQuery, type StorageEngine, type TouchedAttempt, groupByAttempt } from "../engine.js";
import { asciiLower, decodeRolloutCursor, decodeSpanCursor, encodeRolloutCursor, encodeSpanCursor } from "../ordering.js";
import { type RolloutChange, isRolloutQueued, recordActivity } from "../state-machine.js";
import { decodeCountCursor, decodeRunCursor, encodeCountCursor, encodeRunCursor, runEntriesStart, runOwnedElsewhere } from "../runs.js";
import {
  type AttemptColumns,
  type RunColumns,
  type RunEntryColumns,
  attemptFromRow,
  pageFromRows,
  runEntryFromRow,
  runFromRow,
  sortedRolloutRows,
} from "../sql-rows.js";
import type { SqlValue, SqliteDriver, SqliteStatement } from "./driver.js";
import { GroupCommit } from "./group-commit.js";
import type { ParsedSqliteStoreOptions } from "./options.js";
import { openSqliteDriver } from "./open-driver.js";
import { migrate, schemaVersion } from "./schema.js";

interface RolloutRow {
  seq: number;
  rollout_id: string;
  input: string;
  mode: string;
  resources_id: string | null;
  status: string;
  config: string;
  metadata: string;
  created_at: number;
  ended_at: number | null;
  final_reward: number | null;
  queue_pos: number | null;
}

interface SortedRolloutRow extends RolloutRow {
  sort_key: number | null;
}

interface AttemptRow extends AttemptColumns {
  row?: number;
  rollout_seq: number;
}

interface SpanRow {
  rollout_id: string;
  attempt_seq: number;
  sequence: number;
  attempt_id: string;
  span_id: string;
  trace_id: string;
  parent_id: string | null;
  name: string;
  kind: string;
  start_time: number;
  end_time: number;
  status: string;
  attributes: string;
  events: string;
  links: string;
}

interface WorkerRow {
  worker_id: string;
  first_seen_at: number;
  last_seen_at: number;
  last_dequeue_at: number | null;
  stats: string | null;
  active: number;
}

interface ResourcesRow {
  version: number;
  resources_id: string;
  created_at: number;
  resources: string;
}

type RunRow = RunColumns<string>;
type RunEntryRow = RunEntryColumns<string>;
const parseObject = (text: string) => JSON.parse(text) as JsonObject;

/** An attempt with the row numbers its spans are keyed by. */
interface AttemptRecord {
  attempt: Attempt;
  row: number;
  rolloutSeq: number;
}

function noStoreAt(filename: string, why: string): NotFoundError {
  return new NotFoundError("store", filename, `no store at ${filename}: ${why}`);
}

const ACTIVE = "status IN ('preparing', 'running')";
/** Each sort's SQL expression; migration 2 indexes each as `(expression, seq)`. Never built from caller text. */
const ROLLOUT_SORT_KEYS = { createdAt: "created_at", endedAt: "ended_at", finalReward: "final_reward", duration: "(ended_at - created_at)" } as const;

/** The WHERE terms (always at least one) and named parameters of a rollout query's filters. */
function rolloutFilters(query: ParsedRolloutQuery): { where: string[]; params: Record<string, SqlValue> } {
  const where = ["1"];
  const params: Record<string, SqlValue> = {};
  const add = (term: string, name: string, value: SqlValue) => {
    where.push(term);
    params[name] = value;
  };
  // Without statistics SQLite would rather search the status/mode index and then sort every match
  // (90k rows for "succeeded": ~45 ms at 100k rollouts) than walk the sort's index and stop after a
  // page (~1 ms). The unary + keeps it off those indexes for every sort but creation order, which
  // they serve. The price: a filter matching almost nothing walks the whole sort index (~70 ms).
  const plain = query.sortBy === "createdAt" ? "" : "+";
  if (query.status) add(`${plain}status IN (SELECT value FROM json_each(@status))`, "status", JSON.stringify(query.status));
  if (query.mode) add(`${plain}mode IN (SELECT value FROM json_each(@mode))`, "mode", JSON.stringify(query.mode));
  if (query.idPrefix !== undefined) add("substr(rollout_id, 1, length(@idPrefix)) = @idPrefix", "idPrefix", query.idPrefix);
  if (query.createdAfter !== undefined) add("created_at >= @createdAfter", "createdAfter", query.createdAfter);
  if (query.createdBefore !== undefined) add("created_at < @createdBefore", "createdBefore", query.createdBefore);
  if (query.minReward !== undefined) add("final_reward >= @minReward", "minReward", query.minReward);
  if (query.maxReward !== undefined) add("final_reward <= @maxReward", "maxReward", query.maxReward);
  // instr, not LIKE: the caller's % and _ are plain characters. SQLite's lower() folds A–Z only, as asciiLower does.
  if (query.text !== undefined) add("(instr(lower(rollout_id), @text) > 0 OR instr(lower(input), @text) > 0)", "text", asciiLower(query.text));
  return { where, params };
}

/**
 * SQLite persistence through a {@link SqliteDriver} (node:sqlite or better-sqlite3): WAL journal,
 * prepared statements, and group commit — the write calls of one event-loop turn share a
 * transaction, each in its own savepoint, and none is acknowledged before the commit. Anything that depends on the caller's objects is serialized
 * when the call is made, not when the group commits. Write transactions are `BEGIN IMMEDIATE`,
 * so a second process on the same file is safe too.
 */
export class SqliteEngine implements StorageEngine {
  private readonly db: SqliteDriver;
  private readonly sql;
  private readonly writes: GroupCommit;
  private readonly statements = new Map<string, SqliteStatement>();

  constructor(filename: string, options: Pick<ParsedSqliteStoreOptions, "durability" | "driver" | "mustExist">) {
    const mustExist = options.mustExist && filename !== ":memory:";
    if (mustExist && !existsSync(filename)) throw noStoreAt(filename, "the file does not exist");
    if (filename !== ":memory:" && !mustExist) mkdirSync(dirname(resolve(filename)), { recursive: true });
    this.db = openSqliteDriver(filename, options.driver);
    // Checked before the pragmas below, which would already write to a file that is not ours.
    if (mustExist) this.refuseUnlessStore(filename);
    // The page cache is set, not inherited: better-sqlite3 is built with a 16 MB default and
    // node:sqlite with SQLite's 2 MB, which left the store on node:sqlite about a third slower
    // in `npm run bench -- store`.
    this.db.exec(`PRAGMA journal_mode = WAL;
                  PRAGMA synchronous = ${options.durability === "full" ? "FULL" : "NORMAL"};
                  PRAGMA busy_timeout = 5000;
                  PRAGMA cache_size = -16000;`);
    // Checkpoint the WAL every ~40 MB instead of every 4 MB: pages rewritten many times between
    // checkpoints (indexes, the attempts table) are copied into the database once.
    this.db.exec("PRAGMA wal_autocheckpoint = 10000");
    migrate(this.db);
    this.sql = this.prepare();
    this.writes = new GroupCommit(this.db);
  }

  /** Closes the file and throws unless it holds a tracetrain schema (an empty or foreign database, or no database at all). */
  private refuseUnlessStore(filename: string): void {
    let version: number;
    try {
      version = schemaVersion(this.db);
    } catch (error) {
      this.db.close();
      throw noStoreAt(filename, `not a SQLite database (${error instanceof Error ? error.message : String(error)})`);
    }
    if (version === 0) {
      this.db.close();
      throw noStoreAt(filename, "the file holds no tracetrain store");
    }
  }

  private prepare() {
    const db = this.db;
    return {
      rolloutById: db.prepare("SELECT * FROM rollouts WHERE rollout_id = ?"),
      rolloutsByIds: db.prepare("SELECT * FROM rollouts WHERE rollout_id IN (SELECT value FROM json_each(?))"),
      rolloutSeq: db.prepare("SELECT seq FROM rollouts WHERE rollout_id = ?"),
      attemptsOf: db.prepare("SELECT * FROM attempts WHERE rollout_id = ? ORDER BY sequence"),
      attemptsOfMany: db.prepare("SELECT * FROM attempts WHERE rollout_id IN (SELECT value FROM json_each(?)) ORDER BY sequence"),
      attemptById: db.prepare("SELECT * FROM attempts WHERE attempt_id = ?"),
      insertRollout: db.prepare(
        `INSERT INTO rollouts (rollout_id, input, mode, resources_id, status, config, metadata, created_at, ended_at, final_reward, queue_pos)
         VALUES (@rollout_id, @input, @mode, @resources_id, @status, @config, @metadata, @created_at, @ended_at, @final_reward, @queue_pos)`,
      ),
      updateRollout: db.prepare(
        "UPDATE rollouts SET status = @status, ended_at = @ended_at, final_reward = @final_reward, queue_pos = @queue_pos WHERE rollout_id = @rollout_id",
      ),
      nextQueuePos: db.prepare("SELECT COALESCE(MAX(queue_pos), 0) + 1 AS pos FROM rollouts WHERE queue_pos IS NOT NULL"),
      queued: db.prepare("SELECT * FROM rollouts WHERE queue_pos IS NOT NULL ORDER BY queue_pos LIMIT ?"),
      upsertAttempt: db.prepare(
        `INSERT INTO attempts (attempt_id, rollout_id, rollout_seq, sequence, worker_id, status, started_at, ended_at, last_heartbeat_at, error_kind, error_message, final_reward, span_count)
         VALUES (@attempt_id, @rollout_id, @rollout_seq, @sequence, @worker_id, @status, @started_at, @ended_at, @last_heartbeat_at, @error_kind, @error_message, @final_reward, @span_count)
         ON CONFLICT (attempt_id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at,
           last_heartbeat_at = excluded.last_heartbeat_at, error_kind = excluded.error_kind, error_message = excluded.error_message,
           final_reward = excluded.final_reward, span_count = excluded.span_count`,
      ),
      touchAttempt: db.prepare("UPDATE attempts SET status = ?, last_heartbeat_at = ?, span_count = ? WHERE row = ?"),
      insertSpan: db.prepare(
        `INSERT INTO spans (rollout_seq, attempt_seq, sequence, attempt_row, rollout_id, attempt_id, span_id, trace_id, parent_id, name, kind,
                            start_time, end_time, status, attributes, events, links)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (attempt_row, span_id) DO NOTHING`,
      ),
      activeAttempts: db.prepare(`SELECT a.*, r.config AS config FROM attempts a JOIN rollouts r USING (rollout_id) WHERE a.${ACTIVE}`),
      resourcesById: db.prepare("SELECT * FROM resources WHERE resources_id = ?"),
      latestResources: db.prepare("SELECT * FROM resources ORDER BY version DESC LIMIT 1"),
      insertResources: db.prepare(
        "INSERT INTO resources (version, resources_id, created_at, resources) SELECT COALESCE(MAX(version), 0) + 1, ?, ?, ? FROM resources",
      ),
      resourcesBelow: db.prepare("SELECT * FROM resources WHERE version < ? ORDER BY version DESC LIMIT ?"),
      runById: db.prepare("SELECT * FROM runs WHERE run_id = ?"),
      insertRun: db.prepare(
        `INSERT INTO runs (run_id, algorithm, status, created_at, updated_at, config, summary, entries)
         VALUES (@run_id, @algorithm, COALESCE(@status, 'running'), @now, @now, COALESCE(@config, '{}'), @summary, 0)`,
      ),
      updateRun: db.prepare(
        "UPDATE runs SET status = COALESCE(@status, status), updated_at = @now, config = COALESCE(@config, config), summary = COALESCE(@summary, summary) WHERE run_id = @run_id",
      ),
      insertRunEntry: db.prepare(
        `INSERT INTO run_entries (run_id, sequence, kind, key, at, data) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, key) WHERE key IS NOT NULL DO NOTHING`,
      ),
      countRunEntries: db.prepare("UPDATE runs SET entries = ?, updated_at = ? WHERE run_id = ?"),
      recordWorker: db.prepare(
        `INSERT INTO workers (worker_id, first_seen_at, last_seen_at, last_dequeue_at, stats) VALUES (@id, @now, @now, @dequeue_at, @stats)
         ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = MAX(last_seen_at, excluded.last_seen_at),
           last_dequeue_at = COALESCE(excluded.last_dequeue_at, last_dequeue_at), stats = COALESCE(excluded.stats, stats)`,
      ),
      workers: db.prepare(
        `SELECT w.*, (SELECT COUNT(*) FROM attempts a WHERE a.worker_id = w.worker_id AND a.${ACTIVE}) AS active FROM workers w ORDER BY w.first_seen_at, w.worker_id`,
      ),
      rolloutCounts: db.prepare("SELECT status, COUNT(*) AS n FROM rollouts GROUP BY status"),
      counts: db.prepare(
        `SELECT (SELECT COUNT(*) FROM attempts) AS attempts, (SELECT COUNT(*) FROM attempts WHERE ${ACTIVE}) AS active,
                (SELECT COUNT(*) FROM spans) AS spans, (SELECT COUNT(*) FROM resources) AS resources,
                (SELECT COUNT(*) FROM workers) AS workers, (SELECT COUNT(*) FROM rollouts WHERE queue_pos IS NOT NULL) AS queued`,
      ),
    };
  }

  /** The name of the driver this engine runs on. */
  get driver(): SqliteDriver["name"] {
    return this.db.name;
  }

  /** A prepared statement for SQL built from a query's shape; there are only a few shapes, so each is prepared once. */
  private statement(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  // ---- rollouts ----------------------------------------------------------------------------

  async insertRollouts(rollouts: Rollout[]): Promise<Array<{ rollout: Rollout; created: boolean }>> {
    const rows = rollouts.map(rolloutRow);
    return this.writes.run(() => {
      let nextPos: number | undefined;
      return rollouts.map((rollout, i) => {
        const existing = this.sql.rolloutById.get(rollout.rolloutId) as RolloutRow | undefined;
        if (existing) return { rollout: this.load(existing), created: false };
        const row = rows[i]!;
        if (isRolloutQueued(rollout.status)) {
          nextPos ??= this.nextQueuePos();
          row.queue_pos = nextPos++;
        }
        const seq = Number(this.sql.insertRollout.run(row).lastInsertRowid);
        for (const attempt of rollout.attempts) this.sql.upsertAttempt.run(attemptRow(attempt, seq));
        return { rollout: this.load({ ...row, seq }), created: true };
      });
    });
  }

  private nextQueuePos(): number {
    return (this.sql.nextQueuePos.get() as { pos: number }).pos;
  }

  async claimRollouts<C extends RolloutChange>(limit: number, claim: (rollout: Rollout) => C): Promise<C[]> {
    return this.writes.run(() => {
      const rows = this.sql.queued.all(limit) as RolloutRow[];
      return rows.map((row) => this.persist(row, claim));
    });
  }

  async updateRollout<C extends RolloutChange>(rolloutId: string, step: (rollout: Rollout) => C): Promise<C> {
    return this.writes.run(() => {
      const row = this.sql.rolloutById.get(rolloutId) as RolloutRow | undefined;
      if (!row) throw new NotFoundError("rollout", rolloutId);
      return this.persist(row, step);
    });
  }

  /** Applies a state-machine step to a stored rollout and writes what changed. Runs inside a transaction. */
  private persist<C extends RolloutChange>(row: RolloutRow, step: (rollout: Rollout) => C): C {
    const change = step(this.load(row));
    if (!change.changed) return change;
    const after = change.rollout;
    // No transition goes from one queued status to another, so entering the queue always means the back of it.
    this.sql.updateRollout.run({
      rollout_id: after.rolloutId,
      status: after.status,
      ended_at: after.endedAt,
      final_reward: after.finalReward,
      queue_pos: isRolloutQueued(after.status) ? this.nextQueuePos() : null,
    });
    if (change.attempt) this.sql.upsertAttempt.run(attemptRow(change.attempt, row.seq));
    return change;
  }

  /** A rollout row with its attempts. */
  private load(row: RolloutRow, attempts?: Attempt[]): Rollout {
    return {
      rolloutId: row.rollout_id,
      input: JSON.parse(row.input) as JsonValue,
      mode: row.mode as RolloutMode,
      resourcesId: row.resources_id,
      status: row.status as RolloutStatus,
      config: JSON.parse(row.config) as RolloutConfig,
      metadata: JSON.parse(row.metadata) as JsonObject,
      createdAt: row.created_at,
      endedAt: row.ended_at,
      finalReward: row.final_reward,
      attempts: attempts ?? (this.sql.attemptsOf.all(row.rollout_id) as AttemptRow[]).map(attemptFromRow),
    };
  }

  /** Loads many rollout rows with one query for all their attempts. */
  private loadMany(rows: RolloutRow[]): Rollout[] {
    if (rows.length === 0) return [];
    const byRollout = new Map<string, Attempt[]>(rows.map((r) => [r.rollout_id, []]));
    const attemptRows = this.sql.attemptsOfMany.all(JSON.stringify(rows.map((r) => r.rollout_id))) as AttemptRow[];
    for (const a of attemptRows) byRollout.get(a.rollout_id)!.push(attemptFromRow(a));
    return rows.map((row) => this.load(row, byRollout.get(row.rollout_id)));
  }

  async getRollout(rolloutId: string): Promise<Rollout | undefined> {
    const row = this.sql.rolloutById.get(rolloutId) as RolloutRow | undefined;
    return row ? this.load(row) : undefined;
  }

  async getRollouts(rolloutIds: readonly string[]): Promise<Rollout[]> {
    const rollouts: Rollout[] = [];
    for (let i = 0; i < rolloutIds.length; i += 500) {
      const chunk = JSON.stringify(rolloutIds.slice(i, i + 500));
      rollouts.push(...this.loadMany(this.sql.rolloutsByIds.all(chunk) as RolloutRow[]));
    }
    return rollouts;
  }

  async queryRollouts(query: ParsedRolloutQuery): Promise<Page<Rollout>> {
    const filters = rolloutFilters(query);
    const key = ROLLOUT_SORT_KEYS[query.sortBy];
    const direction = query.order === "asc" ? "ASC" : "DESC";
    const beyond = query.order === "asc" ? ">" : "<";
    const after = query.cursor === undefined ? undefined : decodeRolloutCursor(query, query.cursor);
    const rows = await sortedRolloutRows(query, after, (scan, limit) => {
      const where = [...filters.where, `${key} IS ${scan.nulls ? "" : "NOT "}NULL`];
      const params: Record<string, SqlValue> = { ...filters.params, limit };
      if (!scan.nulls && scan.after) {
        where.push(`(${key}, seq) ${beyond} (@afterValue, @afterSeq)`);
        Object.assign(params, { afterValue: scan.after.value, afterSeq: scan.after.seq });
      }
      if (scan.nulls && scan.afterSeq !== undefined) {
        where.push(`seq ${beyond} @afterSeq`);
        params.afterSeq = scan.afterSeq;
      }
      const orderBy = scan.nulls ? `seq ${direction}` : `${key} ${direction}, seq ${direction}`;
      const sql = `SELECT *, ${key} AS sort_key FROM rollouts WHERE ${where.join(" AND ")} ORDER BY ${orderBy} LIMIT @limit`;
      return this.statement(sql).all(params) as SortedRolloutRow[];
    });
    const page = pageFromRows(rows, query.limit, (row) => row, (last) => encodeRolloutCursor(query, { value: last.sort_key, seq: last.seq }));
    return { items: this.loadMany(page.items), nextCursor: page.nextCursor };
  }

  // ---- spans and heartbeats ----------------------------------------------------------------

  async appendSpans(spans: ParsedSpanInput[], now: number): Promise<AppendedSpans[]> {
    const groups = groupByAttempt(spans).map((group) => group.map(spanColumns));
    return this.writes.run(() =>
      groups.map((group) => {
        const { attempt, row, rolloutSeq } = this.findAttempt(group[0]!);
        let sequence = attempt.spanCount;
        for (const span of group) {
          sequence += Number(this.sql.insertSpan.run(rolloutSeq, attempt.sequence, sequence + 1, row, ...span.columns).changes);
        }
        const activity = recordActivity(attempt, now);
        const touched = activity?.attempt ?? attempt;
        this.sql.touchAttempt.run(touched.status, touched.lastHeartbeatAt, sequence, row);
        const added = sequence - attempt.spanCount;
        return {
          rolloutId: attempt.rolloutId,
          attemptId: attempt.attemptId,
          added,
          duplicates: group.length - added,
          lastSequence: sequence,
          activity: activity?.event ?? null,
        };
      }),
    );
  }

  /** The stored attempt a reference names; NotFoundError unless it exists and belongs to that rollout. */
  private findAttempt(ref: AttemptRef): AttemptRecord {
    const row = this.sql.attemptById.get(ref.attemptId) as AttemptRow | undefined;
    if (!row || row.rollout_id !== ref.rolloutId) {
      throw NotFoundError.attempt(ref.rolloutId, ref.attemptId);
    }
    return { attempt: attemptFromRow(row), row: row.row!, rolloutSeq: row.rollout_seq };
  }

  async querySpans(query: ResolvedSpanQuery): Promise<Page<Span>> {
    const where = ["rollout_seq = @rolloutSeq"];
    const rollout = this.sql.rolloutSeq.get(query.rolloutId) as { seq: number } | undefined;
    if (rollout === undefined) throw new NotFoundError("rollout", query.rolloutId);
    const params: Record<string, SqlValue> = { rolloutSeq: rollout.seq, limit: query.limit + 1 };
    if (query.attemptId !== undefined) {
      where.push("attempt_seq = @attemptSeq");
      params.attemptSeq = this.findAttempt({ rolloutId: query.rolloutId, attemptId: query.attemptId }).attempt.sequence;
    }
    if (query.name !== undefined) {
      where.push("name = @name");
      params.name = query.name;
    }
    if (query.namePrefix !== undefined) {
      where.push("substr(name, 1, length(@namePrefix)) = @namePrefix");
      params.namePrefix = query.namePrefix;
    }
    if (query.cursor !== undefined) {
      const after = decodeSpanCursor(query.cursor);
      where.push("(attempt_seq, sequence) > (@afterAttempt, @afterSeq)");
      params.afterAttempt = after.attemptSeq;
      params.afterSeq = after.seq;
    }
    const sql = `SELECT * FROM spans WHERE ${where.join(" AND ")} ORDER BY attempt_seq, sequence LIMIT @limit`;
    const rows = this.statement(sql).all(params) as SpanRow[];
    return pageFromRows(rows, query.limit, spanFromRow, (last) => encodeSpanCursor({ attemptSeq: last.attempt_seq, seq: last.sequence }));
  }

  async touchAttempts(refs: readonly AttemptRef[], now: number): Promise<TouchedAttempt[]> {
    return this.writes.run(() =>
      refs.map((ref) => {
        const { attempt, row } = this.findAttempt(ref);
        const activity = recordActivity(attempt, now);
        if (activity) this.sql.touchAttempt.run(activity.attempt.status, activity.attempt.lastHeartbeatAt, attempt.spanCount, row);
        return {
          rolloutId: attempt.rolloutId,
          attemptId: attempt.attemptId,
          status: activity?.attempt.status ?? attempt.status,
          activity: activity?.event ?? null,
        };
      }),
    );
  }

  async listActiveAttempts(): Promise<Array<{ attempt: Attempt; config: RolloutConfig }>> {
    const rows = this.sql.activeAttempts.all() as Array<AttemptRow & { config: string }>;
    return rows.map((row) => ({ attempt: attemptFromRow(row), config: JSON.parse(row.config) as RolloutConfig }));
  }

  // ---- resources, workers, stats -----------------------------------------------------------

  async insertResources(input: { resourcesId: string; createdAt: number; resources: ResourcesMap }): Promise<{
    snapshot: ResourcesSnapshot;
    created: boolean;
  }> {
    const resources = JSON.stringify(input.resources);
    return this.writes.run(() => {
      const existing = this.sql.resourcesById.get(input.resourcesId) as ResourcesRow | undefined;
      if (existing) return { snapshot: resourcesFromRow(existing), created: false };
      this.sql.insertResources.run(input.resourcesId, input.createdAt, resources);
      return { snapshot: resourcesFromRow(this.sql.resourcesById.get(input.resourcesId) as ResourcesRow), created: true };
    });
  }

  async getResources(resourcesId: string): Promise<ResourcesSnapshot | undefined> {
    const row = this.sql.resourcesById.get(resourcesId) as ResourcesRow | undefined;
    return row ? resourcesFromRow(row) : undefined;
  }

  async latestResources(): Promise<ResourcesSnapshot | undefined> {
    const row = this.sql.latestResources.get() as ResourcesRow | undefined;
    return row ? resourcesFromRow(row) : undefined;
  }

  async queryResources(query: ParsedResourcesQuery): Promise<Page<ResourcesSnapshot>> {
    const below = query.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCountCursor("resources", query.cursor);
    const rows = this.sql.resourcesBelow.all(below, query.limit + 1) as ResourcesRow[];
    return pageFromRows(rows, query.limit, resourcesFromRow, (last) => encodeCountCursor("resources", last.version));
  }

  // ---- training runs -----------------------------------------------------------------------

  async upsertRun(update: ParsedRunUpdate, now: number): Promise<TrainingRun> {
    const params = {
      run_id: update.runId,
      algorithm: update.algorithm,
      status: update.status ?? null,
      now,
      config: update.config === undefined ? null : JSON.stringify(update.config),
      summary: update.summary === undefined ? null : JSON.stringify(update.summary),
    };
    return this.writes.run(() => {
      const existing = this.sql.runById.get(update.runId) as RunRow | undefined;
      if (existing === undefined) this.sql.insertRun.run(params);
      else if (existing.algorithm !== update.algorithm) throw runOwnedElsewhere(runFromRow(existing, parseObject), update.algorithm);
      else this.sql.updateRun.run({ run_id: params.run_id, status: params.status, now, config: params.config, summary: params.summary });
      return runFromRow(this.sql.runById.get(update.runId) as RunRow, parseObject);
    });
  }

  async appendRunEntries(runId: string, entries: readonly ParsedRunEntryInput[], now: number): Promise<{ run: TrainingRun; added: number; duplicates: number }> {
    const rows = entries.map((entry) => [entry.kind, entry.key ?? null, entry.at ?? now, JSON.stringify(entry.data)] as const);
    return this.writes.run(() => {
      const run = this.sql.runById.get(runId) as RunRow | undefined;
      if (run === undefined) throw new NotFoundError("run", runId);
      let sequence = run.entries;
      // A key already in the log, or earlier in this batch, inserts nothing and takes no sequence.
      for (const [kind, key, at, data] of rows) sequence += Number(this.sql.insertRunEntry.run(runId, sequence + 1, kind, key, at, data).changes);
      const added = sequence - run.entries;
      if (added === 0) return { run: runFromRow(run, parseObject), added, duplicates: rows.length };
      this.sql.countRunEntries.run(sequence, now, runId);
      return { run: runFromRow({ ...run, entries: sequence, updated_at: now }, parseObject), added, duplicates: rows.length - added };
    });
  }

  async getRun(runId: string): Promise<TrainingRun | undefined> {
    const row = this.sql.runById.get(runId) as RunRow | undefined;
    return row && runFromRow(row, parseObject);
  }

  async queryRuns(query: ParsedRunQuery): Promise<Page<TrainingRun>> {
    const where = ["1"];
    const params: Record<string, SqlValue> = { limit: query.limit + 1 };
    if (query.algorithm) {
      where.push("algorithm IN (SELECT value FROM json_each(@algorithm))");
      params.algorithm = JSON.stringify(query.algorithm);
    }
    if (query.status) {
      where.push("status IN (SELECT value FROM json_each(@status))");
      params.status = JSON.stringify(query.status);
    }
    if (query.cursor !== undefined) {
      const after = decodeRunCursor(query.cursor);
      where.push("(updated_at, run_id) < (@afterUpdated, @afterRun)");
      Object.assign(params, { afterUpdated: after.updatedAt, afterRun: after.runId });
    }
    const sql = `SELECT * FROM runs WHERE ${where.join(" AND ")} ORDER BY updated_at DESC, run_id DESC LIMIT @limit`;
    const rows = this.statement(sql).all(params) as RunRow[];
    return pageFromRows(rows, query.limit, (row) => runFromRow(row, parseObject), (last) => encodeRunCursor({ updatedAt: last.updated_at, runId: last.run_id }));
  }

  async queryRunEntries(query: ParsedRunEntryQuery): Promise<Page<RunEntry>> {
    const where = ["run_id = @runId", "sequence > @after"];
    const params: Record<string, SqlValue> = { runId: query.runId, after: runEntriesStart(query), limit: query.limit + 1 };
    if (query.kind) {
      where.push("kind IN (SELECT value FROM json_each(@kind))");
      params.kind = JSON.stringify(query.kind);
    }
    const sql = `SELECT * FROM run_entries WHERE ${where.join(" AND ")} ORDER BY sequence LIMIT @limit`;
    const rows = this.statement(sql).all(params) as RunEntryRow[];
    return pageFromRows(rows, query.limit, (row) => runEntryFromRow(row, parseObject), (last) => encodeCountCursor("entries", last.sequence));
  }

  async recordWorker(workerId: string, now: number, update: { dequeued?: boolean; stats?: JsonObject }): Promise<void> {
    const params = {
      id: workerId,
      now,
      dequeue_at: update.dequeued ? now : null,
      stats: update.stats === undefined ? null : JSON.stringify(update.stats),
    };
    await this.writes.run(() => this.sql.recordWorker.run(params));
  }

  async listWorkers(): Promise<Worker[]> {
    return (this.sql.workers.all() as WorkerRow[]).map((row) => ({
      workerId: row.worker_id,
      status: row.active > 0 ? "busy" : "idle",
      firstSeenAt: row.first_seen_at,
      lastSeenAt: row.last_seen_at,
      lastDequeueAt: row.last_dequeue_at,
      activeAttempts: row.active,
      stats: row.stats === null ? null : (JSON.parse(row.stats) as JsonObject),
    }));
  }

  async stats(): Promise<Omit<StoreStats, "uptimeMs">> {
    const rollouts = { total: 0, queuing: 0, running: 0, requeuing: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const { status, n } of this.sql.rolloutCounts.all() as Array<{ status: RolloutStatus; n: number }>) {
      rollouts[status] = n;
      rollouts.total += n;
    }
    const c = this.sql.counts.get() as { attempts: number; active: number; spans: number; resources: number; workers: number; queued: number };
    return {
      rollouts,
      attempts: { total: c.attempts, active: c.active },
      spans: c.spans,
      resources: c.resources,
      workers: c.workers,
      queueDepth: c.queued,
    };
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.writes.flush();
    this.db.close();
  }
}

function rolloutRow(rollout: Rollout): Omit<RolloutRow, "seq"> {
  return {
    rollout_id: rollout.rolloutId,
    input: JSON.stringify(rollout.input),
    mode: rollout.mode,
    resources_id: rollout.resourcesId,
    status: rollout.status,
    config: JSON.stringify(rollout.config),
    metadata: JSON.stringify(rollout.metadata),
    created_at: rollout.createdAt,
    ended_at: rollout.endedAt,
    final_reward: rollout.finalReward,
    queue_pos: null,
  };
}

/** A span's own columns (everything but the keys the store assigns), serialized when the call is made. */
function spanColumns(span: ParsedSpanInput): AttemptRef & { columns: SqlValue[] } {
  return {
    rolloutId: span.rolloutId,
    attemptId: span.attemptId,
    columns: [
      span.rolloutId,
      span.attemptId,
      span.spanId,
      span.traceId,
      span.parentId,
      span.name,
      span.kind,
      span.startTime,
      span.endTime,
      JSON.stringify(span.status),
      JSON.stringify(span.attributes),
      span.events.length === 0 ? "[]" : JSON.stringify(span.events),
      span.links.length === 0 ? "[]" : JSON.stringify(span.links),
    ],
  };
}

function resourcesFromRow(row: ResourcesRow): ResourcesSnapshot {
  return {
    resourcesId: row.resources_id,
    version: row.version,
    createdAt: row.created_at,
    resources: JSON.parse(row.resources) as ResourcesMap,
  };
}

function attemptRow(attempt: Attempt, rolloutSeq: number): AttemptRow {
  return {
    attempt_id: attempt.attemptId,
    rollout_id: attempt.rolloutId,
    rollout_seq: rolloutSeq,
    sequence: attempt.sequence,
    worker_id: attempt.workerId,
    status: attempt.status,
    started_at: attempt.startedAt,
    ended_at: attempt.endedAt,
    last_heartbeat_at: attempt.lastHeartbeatAt,
    error_kind: attempt.error?.kind ?? null,
    error_message: attempt.error?.message ?? null,
    final_reward: attempt.finalReward,
    span_count: attempt.spanCount,
  };
}

function spanFromRow(row: SpanRow): Span {
  return {
    rolloutId: row.rollout_id,
    attemptId: row.attempt_id,
    sequence: row.sequence,
    traceId: row.trace_id,
    spanId: row.span_id,
    parentId: row.parent_id,
    name: row.name,
    kind: row.kind as SpanKind,
    startTime: row.start_time,
    endTime: row.end_time,
    status: JSON.parse(row.status) as Span["status"],
    attributes: JSON.parse(row.attributes) as JsonObject,
    events: JSON.parse(row.events) as Span["events"],
    links: JSON.parse(row.links) as Span["links"],
  };
}
