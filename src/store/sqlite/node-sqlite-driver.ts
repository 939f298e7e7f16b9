import type { SqliteDriver, SqliteStatement } from "./driver.js";

/** The part of `node:sqlite` this driver uses (@types/node for Node 20 does not describe it). */
interface DatabaseSync {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  close(): void;
  /** Node ≥ 22.16 and 24; this driver needs it, and is not offered without it. */
  readonly isTransaction?: boolean;
}
interface NodeSqlite {
  DatabaseSync: new (filename: string) => DatabaseSync;
}

let loaded: { module: NodeSqlite | undefined } | undefined;

/**
 * `node:sqlite`, when this Node has it without a flag (22.13 and later) and it reports whether a
 * transaction is open (22.16 and later; 24), or undefined. Looked up once per process.
 */
export function nodeSqlite(): NodeSqlite | undefined {
  loaded ??= { module: usable(withoutSqliteExperimentalWarning(loadBuiltin)) };
  return loaded.module;
}

function loadBuiltin(): NodeSqlite | undefined {
  // process.getBuiltinModule itself is missing before Node 20.16 (which has no node:sqlite either).
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  return getBuiltinModule?.call(process, "node:sqlite") as NodeSqlite | undefined;
}

function usable(module: NodeSqlite | undefined): NodeSqlite | undefined {
  if (!module) return undefined;
  const probe = new module.DatabaseSync(":memory:");
  try {
    return typeof probe.isTransaction === "boolean" ? module : undefined;
  } finally {
    probe.close();
  }
}

/**
 * Runs `load` without the "SQLite is an experimental feature" warning that Node 22 and early Node
 * 24 releases print when node:sqlite is first loaded: the application did not choose node:sqlite,
 * tracetrain did. Only that one warning, only during this call, is dropped; every other warning
 * passes through, and `process.emitWarning` is the original again afterwards.
 */
export function withoutSqliteExperimentalWarning<T>(load: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning: string | Error, ...rest: unknown[]) {
    if (isSqliteExperimentalWarning(warning, rest[0])) return;
    Reflect.apply(emitWarning, process, [warning, ...rest]);
  } as typeof process.emitWarning;
  try {
    return load();
  } finally {
    process.emitWarning = emitWarning;
  }
}

function isSqliteExperimentalWarning(warning: string | Error, typeOrOptions: unknown): boolean {
  const type = typeof typeOrOptions === "string" ? typeOrOptions : (typeOrOptions as { type?: unknown } | undefined)?.type;
  const isExperimental = type === "ExperimentalWarning" || (warning instanceof Error && warning.name === "ExperimentalWarning");
  const message = typeof warning === "string" ? warning : warning.message;
  return isExperimental && message.startsWith("SQLite is an experimental feature");
}

/** {@link SqliteDriver} over Node's built-in `node:sqlite`: nothing to install, no native build. */
export class NodeSqliteDriver implements SqliteDriver {
  readonly name = "node:sqlite";
  private readonly db: DatabaseSync;
  private isOpen = true;
  private readonly sql: Record<"begin" | "beginImmediate" | "commit" | "rollback" | "savepoint" | "release" | "rollbackTo", SqliteStatement>;

  constructor(filename: string, module: NodeSqlite) {
    this.db = new module.DatabaseSync(filename);
    this.sql = {
      begin: this.db.prepare("BEGIN"),
      beginImmediate: this.db.prepare("BEGIN IMMEDIATE"),
      commit: this.db.prepare("COMMIT"),
      rollback: this.db.prepare("ROLLBACK"),
      savepoint: this.db.prepare('SAVEPOINT "tracetrain"'),
      release: this.db.prepare('RELEASE "tracetrain"'),
      rollbackTo: this.db.prepare('ROLLBACK TO "tracetrain"'),
    };
  }

  get open(): boolean {
    return this.isOpen;
  }

  prepare(sql: string): SqliteStatement {
    return this.db.prepare(sql);
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  // The same protocol as better-sqlite3's transaction functions, so both drivers behave alike.
  transaction<T>(work: () => T, options: { immediate?: boolean } = {}): T {
    const nested = this.db.isTransaction === true;
    const sql = this.sql;
    if (nested) sql.savepoint.run();
    else (options.immediate ? sql.beginImmediate : sql.begin).run();
    try {
      const result = work();
      (nested ? sql.release : sql.commit).run();
      return result;
    } catch (error) {
      // SQLite may have rolled the whole transaction back itself (a full disk, an I/O error).
      if (this.db.isTransaction) {
        if (nested) {
          sql.rollbackTo.run();
          sql.release.run();
        } else {
          sql.rollback.run();
        }
      }
      throw error;
    }
  }

  close(): void {
    this.db.close();
    this.isOpen = false;
  }
}
