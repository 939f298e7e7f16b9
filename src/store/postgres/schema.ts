import { createHash } from "node:crypto";
import type pg from "pg";
import { newerSchemaError } from "../schema-version.js";

/**
 * Schema migrations, applied in order on open and recorded in `schema_migrations`. Each takes the
 * quoted schema name. Append new migrations; never edit a released one.
 */
const MIGRATIONS: ReadonlyArray<(s: string) => string> = [
  // 1: initial schema. Same tables and meaning as the SQLite engine's; JSON in jsonb, times in
  // fractional ms as double precision.
  (s) => `
  -- Creation order and queue order come from sequences, not MAX()+1, so concurrent writers never
  -- compute the same value and never have to serialize on a table lock to get one.
  CREATE SEQUENCE ${s}.rollout_seq;
  CREATE SEQUENCE ${s}.queue_pos;
  CREATE SEQUENCE ${s}.attempt_id_seq;

  -- fillfactor < 100 leaves room on each page, so the frequent updates of status, heartbeat and
  -- span count can be HOT updates (no new index entries).
  CREATE TABLE ${s}.rollouts (
    seq          bigint PRIMARY KEY DEFAULT nextval('${s}.rollout_seq'),   -- creation order
    rollout_id   text NOT NULL UNIQUE,
    input        jsonb NOT NULL,
    mode         text NOT NULL,
    resources_id text,
    status       text NOT NULL,
    config       jsonb NOT NULL,
    metadata     jsonb NOT NULL,
    created_at   double precision NOT NULL,
    ended_at     double precision,
    final_reward double precision,
    queue_pos    bigint                        -- set while queuing/requeuing; lower is served first
  ) WITH (fillfactor = 85);
  ALTER SEQUENCE ${s}.rollout_seq OWNED BY ${s}.rollouts.seq;
  CREATE INDEX rollouts_queue   ON ${s}.rollouts (queue_pos) WHERE queue_pos IS NOT NULL;
  CREATE INDEX rollouts_status  ON ${s}.rollouts (status);
  CREATE INDEX rollouts_created ON ${s}.rollouts (created_at, seq);
  CREATE INDEX rollouts_ended   ON ${s}.rollouts (ended_at, seq);
  CREATE INDEX rollouts_reward  ON ${s}.rollouts (final_reward, seq);

  CREATE TABLE ${s}.attempts (
    id                bigint PRIMARY KEY DEFAULT nextval('${s}.attempt_id_seq'),
    attempt_id        text NOT NULL UNIQUE,
    rollout_id        text NOT NULL,
    rollout_seq       bigint NOT NULL REFERENCES ${s}.rollouts (seq),   -- so span keys lead with integers
    sequence          integer NOT NULL,
    worker_id         text,
    status            text NOT NULL,
    started_at        double precision NOT NULL,
    ended_at          double precision,
    last_heartbeat_at double precision NOT NULL,
    error_kind        text,
    error_message     text,
    final_reward      double precision,
    span_count        integer NOT NULL DEFAULT 0,
    UNIQUE (rollout_seq, sequence)
  ) WITH (fillfactor = 80);
  ALTER SEQUENCE ${s}.attempt_id_seq OWNED BY ${s}.attempts.id;
  -- Serves both the watchdog's scan of active attempts and the per-worker busy counts.
  CREATE INDEX attempts_active ON ${s}.attempts (worker_id) WHERE status IN ('preparing', 'running');

  -- Keys lead with integers that grow over time (rollout and attempt numbers), so new spans land
  -- at the right edge of each index. No foreign key to attempts: every insert already holds the
  -- attempt's row lock and checked it exists, and the per-row check would tax the hottest path.
  CREATE TABLE ${s}.spans (
    rollout_seq bigint NOT NULL,
    attempt_seq integer NOT NULL,
    sequence    integer NOT NULL,
    attempt_ref bigint NOT NULL,                 -- attempts.id
    rollout_id  text NOT NULL,
    attempt_id  text NOT NULL,
    span_id     text NOT NULL,
    trace_id    text NOT NULL,
    parent_id   text,
    name        text NOT NULL,
    kind        text NOT NULL,
    start_time  double precision NOT NULL,
    end_time    double precision NOT NULL,
    status      jsonb NOT NULL,
    attributes  jsonb NOT NULL,
    events      jsonb NOT NULL,
    links       jsonb NOT NULL,
    PRIMARY KEY (rollout_seq, attempt_seq, sequence)
  );
  CREATE UNIQUE INDEX spans_identity ON ${s}.spans (attempt_ref, span_id);

  CREATE TABLE ${s}.resources (
    version      integer PRIMARY KEY,
    resources_id text NOT NULL UNIQUE,
    created_at   double precision NOT NULL,
    resources    jsonb NOT NULL
  );

  CREATE TABLE ${s}.workers (
    worker_id       text PRIMARY KEY,
    first_seen_at   double precision NOT NULL,
    last_seen_at    double precision NOT NULL,
    last_dequeue_at double precision,
    stats           jsonb
  );
  `,
  // 2: the dashboard's listings. A sort by duration walks an index of the same expression the
  // query orders by; a filter on status or mode with the default sort walks creation order
  // within each value instead of sorting every match.
  (s) => `
  CREATE INDEX rollouts_duration       ON ${s}.rollouts ((ended_at - created_at), seq);
  CREATE INDEX rollouts_status_created ON ${s}.rollouts (status, created_at, seq);
  CREATE INDEX rollouts_mode_created   ON ${s}.rollouts (mode, created_at, seq);
  DROP INDEX ${s}.rollouts_status;
  `,
  // 3: training runs and their logs, as in the SQLite engine. Run ids sort in "C" collation, as
  // every engine compares them (byte order), whatever the database's collation. An append locks
  // its run's row, so entry sequences come from the run's count without gaps or repeats.
  // Resources need no index for their listing: version is the primary key, walked backwards.
  (s) => `
  CREATE TABLE ${s}.runs (
    run_id     text PRIMARY KEY,
    algorithm  text NOT NULL,
    status     text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    config     jsonb NOT NULL,
    summary    jsonb,
    entries    integer NOT NULL DEFAULT 0        -- also the last entry's sequence
  ) WITH (fillfactor = 85);
  CREATE INDEX runs_updated ON ${s}.runs (updated_at DESC, run_id COLLATE "C" DESC);

  CREATE TABLE ${s}.run_entries (
    run_id   text NOT NULL REFERENCES ${s}.runs (run_id),
    sequence integer NOT NULL,
    kind     text NOT NULL,
    key      text,
    at       double precision NOT NULL,
    data     jsonb NOT NULL,
    PRIMARY KEY (run_id, sequence)
  );
  CREATE UNIQUE INDEX run_entries_key ON ${s}.run_entries (run_id, key) WHERE key IS NOT NULL;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings `schema` up to {@link SCHEMA_VERSION} (or only up to `upTo`: as released migrations never
 * change, that is the schema an older tracetrain wrote, which the upgrade tests start from). A database that is already current is only read
 * (no lock, no DDL, so replicas whose role may not create schemas can still open it). Otherwise
 * every pending migration runs in one transaction that first takes a transaction-scoped advisory
 * lock for this schema: replicas starting together queue on the lock, and each one after the first
 * finds the work done. Throws the shared ConflictError for a database newer than this code.
 */
export async function migrate(client: pg.ClientBase, schema: string, quoted: string, upTo = SCHEMA_VERSION): Promise<void> {
  const current = await currentVersion(client, quoted);
  if (current >= upTo && current <= SCHEMA_VERSION) return;
  if (current > SCHEMA_VERSION) throw newerSchemaError(current, SCHEMA_VERSION);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [migrationLockKey(schema)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    // Read again under the lock: another replica may have migrated while this one waited.
    const locked = await currentVersion(client, quoted);
    if (locked > SCHEMA_VERSION) throw newerSchemaError(locked, SCHEMA_VERSION);
    for (let version = locked + 1; version <= upTo; version++) {
      await client.query(MIGRATIONS[version - 1]!(quoted));
      await client.query(`INSERT INTO ${quoted}.schema_migrations (version) VALUES ($1)`, [version]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

/** The highest applied migration, or 0 when the schema or its migrations table does not exist yet. */
async function currentVersion(client: pg.ClientBase, quoted: string): Promise<number> {
  const table = `${quoted}.schema_migrations`;
  const exists = await client.query<{ exists: boolean }>("SELECT to_regclass($1) IS NOT NULL AS exists", [table]);
  if (!exists.rows[0]?.exists) return 0;
  const result = await client.query<{ version: number | null }>(`SELECT MAX(version) AS version FROM ${table}`);
  return result.rows[0]?.version ?? 0;
}

/** A 64-bit advisory lock key for migrating one schema; other schemas migrate in parallel. */
function migrationLockKey(schema: string): string {
  return createHash("sha256").update(`tracetrain:migrate:${schema}`).digest().readBigInt64BE(0).toString();
}
