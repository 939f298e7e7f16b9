/**
 * The raw SQLite ceiling for span ingestion: the fastest this process can durably put the
 * benchmark's spans into SQLite through a driver (node:sqlite or better-sqlite3), with none of the
 * store's work (validation, attempt lookup and update, unique indexes, events). A store's span
 * rate divided by this says how much it adds.
 */
import type { ParsedSpanInput } from "tracetrain/schemas";
import type { SqliteDriverName } from "tracetrain/store";
import type { SqliteDriver } from "../../src/store/sqlite/driver.js";
import { openSqliteDriver } from "../../src/store/sqlite/open-driver.js";
import { SPANS_PER_ROLLOUT, nextTraceId, rewardFor, rolloutBatches } from "./spans.js";

// The columns of the store's `spans` table (src/store/sqlite/schema.ts), minus its two unique indexes.
const SCHEMA = `
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
    status      TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    events      TEXT NOT NULL,
    links       TEXT NOT NULL
  )`;

const INSERT = `INSERT INTO spans (rollout_seq, attempt_seq, sequence, attempt_row, rollout_id, attempt_id, span_id, trace_id, parent_id,
  name, kind, start_time, end_time, status, attributes, events, links) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Opens `filename` with the pragmas SqliteStore uses, so only the store's own work differs. */
function openLikeSqliteStore(filename: string, driver: SqliteDriverName): SqliteDriver {
  const db = openSqliteDriver(filename, driver);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16000;");
  db.exec(SCHEMA);
  return db;
}

/**
 * Inserts `spanCount` spans into a fresh database at `filename` and returns spans per second.
 * Spans are generated and sent exactly as the store benchmark's runners send them (one
 * transaction per batch: 3, 3, 3 then 1 span per rollout), JSON serialization included, so the
 * comparison is like for like.
 */
export function measureSqliteCeiling(filename: string, spanCount: number, driver: SqliteDriverName): number {
  const db = openLikeSqliteStore(filename, driver);
  try {
    const insert = db.prepare(INSERT);
    let rolloutNumber = 0;
    const insertBatch = (spans: ParsedSpanInput[], firstSequence: number) =>
      db.transaction(() => spans.forEach((span, i) => insert.run(...spanRow(span, rolloutNumber, firstSequence + i))), { immediate: true });
    const started = performance.now();
    let written = 0;
    for (let n = 0; written < spanCount; n++) {
      const target = { rolloutId: `ro-ceiling-${n}`, attemptId: `at-ceiling-${n}` };
      rolloutNumber = n + 1;
      for (const batch of rolloutBatches(target, nextTraceId(), rewardFor(n))) {
        const spans = batch.slice(0, spanCount - written);
        if (spans.length === 0) break;
        // BEGIN IMMEDIATE, like the store's write transactions.
        insertBatch(spans, (written % SPANS_PER_ROLLOUT) + 1);
        written += spans.length;
      }
    }
    return written / ((performance.now() - started) / 1000);
  } finally {
    db.close();
  }
}

/**
 * The values the store writes for a span. Every benchmark attempt is its rollout's first, so the
 * rollout and attempt row numbers coincide and attempt_seq is 1.
 */
function spanRow(span: ParsedSpanInput, rolloutNumber: number, sequence: number): Array<string | number | null> {
  return [
    rolloutNumber,
    1,
    sequence,
    rolloutNumber,
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
    JSON.stringify(span.events),
    JSON.stringify(span.links),
  ];
}
