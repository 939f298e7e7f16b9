import { newerSchemaError } from "../schema-version.js";
import type { SqliteDriver } from "./driver.js";

/**
 * Schema migrations, applied in order on open and recorded in `PRAGMA user_version`. Append new
 * migrations; never edit a released one.
 */
const MIGRATIONS: readonly string[] = [
  // 1: initial schema.
  `
  CREATE TABLE rollouts (
    seq          INTEGER PRIMARY KEY,          -- creation order
    rollout_id   TEXT NOT NULL UNIQUE,
    input        TEXT NOT NULL,                -- JSON
    mode         TEXT NOT NULL,
    resources_id TEXT,
    status       TEXT NOT NULL,
    config       TEXT NOT NULL,                -- JSON
    metadata     TEXT NOT NULL,                -- JSON
    created_at   REAL NOT NULL,
    ended_at     REAL,
    final_reward REAL,
    queue_pos    INTEGER                       -- set while queuing/requeuing; lower is served first
  );
  CREATE INDEX rollouts_queue   ON rollouts (queue_pos) WHERE queue_pos IS NOT NULL;
  CREATE INDEX rollouts_status  ON rollouts (status);
  CREATE INDEX rollouts_created ON rollouts (created_at, seq);
  CREATE INDEX rollouts_ended   ON rollouts (ended_at, seq);
  CREATE INDEX rollouts_reward  ON rollouts (final_reward, seq);

  CREATE TABLE attempts (
    row               INTEGER PRIMARY KEY,
    attempt_id        TEXT NOT NULL UNIQUE,
    rollout_id        TEXT NOT NULL,
    rollout_seq       INTEGER NOT NULL,       -- rollouts.seq, so span indexes lead with integers
    sequence          INTEGER NOT NULL,
    worker_id         TEXT,
    status            TEXT NOT NULL,
    started_at        REAL NOT NULL,
    ended_at          REAL,
    last_heartbeat_at REAL NOT NULL,
    error_kind        TEXT,
    error_message     TEXT,
    final_reward      REAL,
    span_count        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (rollout_id, sequence)
  );
  CREATE INDEX attempts_active ON attempts (status) WHERE status IN ('preparing', 'running');

  -- The indexes lead with integer keys (rollout and attempt row numbers), which grow over time:
  -- new spans land at the right edge of each index instead of at random places, as random text
  -- ids would put them. That halves the cost of an insert.
  CREATE TABLE spans (
    id          INTEGER PRIMARY KEY,
    rollout_seq INTEGER NOT NULL,
    attempt_seq INTEGER NOT NULL,
    sequence    INTEGER NOT NULL,
    attempt_row INTEGER NOT NULL,
    rollout_id  TEXT NOT NULL,
    attempt_id  TEXT NOT NULL,
    span_id     TEXT NOT NULL,
    trace_id    TEXT NOT NULL,
    parent_id   TEXT,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    start_time  REAL NOT NULL,
    end_time    REAL NOT NULL,
    status      TEXT NOT NULL,                 -- JSON
    attributes  TEXT NOT NULL,                 -- JSON
    events      TEXT NOT NULL,                 -- JSON
    links       TEXT NOT NULL                  -- JSON
  );
  CREATE UNIQUE INDEX spans_order    ON spans (rollout_seq, attempt_seq, sequence);
  CREATE UNIQUE INDEX spans_identity ON spans (attempt_row, span_id);

  CREATE TABLE resources (
    version      INTEGER PRIMARY KEY,
    resources_id TEXT NOT NULL UNIQUE,
    created_at   REAL NOT NULL,
    resources    TEXT NOT NULL                 -- JSON
  );

  CREATE TABLE workers (
    worker_id       TEXT PRIMARY KEY,
    first_seen_at   REAL NOT NULL,
    last_seen_at    REAL NOT NULL,
    last_dequeue_at REAL,
    stats           TEXT                       -- JSON
  );
  `,
  // 2: the dashboard's listings. A sort by duration walks an index of the same expression the
  // query orders by; a filter on status or mode with the default sort walks creation order
  // within each value instead of sorting every match.
  `
  CREATE INDEX rollouts_duration       ON rollouts ((ended_at - created_at), seq);
  CREATE INDEX rollouts_status_created ON rollouts (status, created_at, seq);
  CREATE INDEX rollouts_mode_created   ON rollouts (mode, created_at, seq);
  DROP INDEX rollouts_status;
  `,
  // 3: training runs and their logs. Runs are listed most recently updated first; a log is read
  // by sequence, and keys (when given) are unique per run so a resumed run re-records safely.
  // Resources need no index for their listing: version is the rowid, walked backwards.
  `
  CREATE TABLE runs (
    run_id     TEXT PRIMARY KEY,
    algorithm  TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    config     TEXT NOT NULL,                  -- JSON
    summary    TEXT,                           -- JSON
    entries    INTEGER NOT NULL DEFAULT 0      -- also the last entry's sequence
  );
  CREATE INDEX runs_updated ON runs (updated_at DESC, run_id DESC);

  CREATE TABLE run_entries (
    run_id   TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    key      TEXT,
    at       REAL NOT NULL,
    data     TEXT NOT NULL,                    -- JSON
    PRIMARY KEY (run_id, sequence)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX run_entries_key ON run_entries (run_id, key) WHERE key IS NOT NULL;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The schema version recorded in the file: 0 for a new or foreign database. */
export function schemaVersion(db: SqliteDriver): number {
  return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/**
 * Brings the database up to {@link SCHEMA_VERSION}, each migration in its own transaction.
 * `upTo` stops at an older version: as released migrations never change, that is the file an
 * older tracetrain wrote (the upgrade tests start from one).
 */
export function migrate(db: SqliteDriver, upTo = SCHEMA_VERSION): void {
  const current = schemaVersion(db);
  if (current > SCHEMA_VERSION) throw newerSchemaError(current, SCHEMA_VERSION);
  for (let version = current + 1; version <= upTo; version++) {
    db.transaction(
      () => {
        db.exec(MIGRATIONS[version - 1]!);
        db.exec(`PRAGMA user_version = ${version}`);
      },
      { immediate: true },
    );
  }
}
