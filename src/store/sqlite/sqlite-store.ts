import { BaseStore } from "../base-store.js";
import { type SqliteStoreOptions, parseSqliteStoreOptions } from "./options.js";
import { SqliteEngine } from "./sqlite-engine.js";

/**
 * A durable store in one SQLite file: the embedded default. Everything a call acknowledged is
 * still there after the process is killed. One process should own the file; other processes
 * reach it through the store server.
 *
 * The SQLite binding is loaded here, not when tracetrain is imported: `node:sqlite` on Node 22.16+
 * and 24, the `better-sqlite3` package on Node 20 (see the `driver` option). A missing package
 * throws MissingDependencyError naming it.
 */
export class SqliteStore extends BaseStore {
  private readonly sqlite: SqliteEngine;

  constructor(filename: string, options: SqliteStoreOptions = {}) {
    // Parsed before the file is opened, so bad options leave nothing open behind them.
    const { durability, driver, mustExist, ...common } = parseSqliteStoreOptions(options);
    const engine = new SqliteEngine(filename, { durability, driver, mustExist });
    super(engine, common);
    this.sqlite = engine;
  }

  /** The SQLite binding this store runs on. */
  get driver(): "node:sqlite" | "better-sqlite3" {
    return this.sqlite.driver;
  }
}
