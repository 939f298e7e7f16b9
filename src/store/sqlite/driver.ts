/**
 * The seam between the SQLite engine and a SQLite binding: the few calls the engine makes, with
 * one adapter per driver (`node:sqlite`, built into Node ≥ 22.16 and 24; `better-sqlite3`, an
 * npm package with a native module, for Node 20). Both are synchronous, run SQLite in-process and
 * bind parameters the same way, so the adapters are thin.
 */

/** A value SQLite can bind: `undefined` is not one (node:sqlite refuses it; pass `null`). */
export type SqlValue = string | number | bigint | null | Uint8Array;

/**
 * Positional values (`?`), or one object of named values (`@name` in the SQL, `name` as the key).
 * A named object must have exactly the statement's parameters: node:sqlite rejects extra keys.
 */
export type SqlParams = SqlValue[] | [object];

export interface RunResult {
  changes: number | bigint;
  lastInsertRowid: number | bigint;
}

/** A prepared statement; rows are plain objects keyed by column name. */
export interface SqliteStatement {
  run(...params: SqlParams): RunResult;
  get(...params: SqlParams): unknown;
  all(...params: SqlParams): unknown[];
}

export interface SqliteDriver {
  /** Which binding this is. */
  readonly name: SqliteDriverName;
  /** False once {@link close} has run. */
  readonly open: boolean;
  prepare(sql: string): SqliteStatement;
  /** Runs one or more statements that bind nothing and return nothing (DDL, PRAGMA …). */
  exec(sql: string): void;
  /**
   * Runs `work` in a transaction — `BEGIN IMMEDIATE` when `immediate`, else `BEGIN` — committing
   * when it returns and rolling back when it throws. Called inside a transaction, it uses a
   * savepoint instead, so a failing inner call undoes only its own changes.
   */
  transaction<T>(work: () => T, options?: { immediate?: boolean }): T;
  close(): void;
}

export const SQLITE_DRIVERS = ["node:sqlite", "better-sqlite3"] as const;
export type SqliteDriverName = (typeof SQLITE_DRIVERS)[number];
