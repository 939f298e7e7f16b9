import type BetterSqlite3 from "better-sqlite3";
import type { SqliteDriver, SqliteStatement } from "./driver.js";

type Transaction = ((work: () => unknown) => unknown) & { immediate: (work: () => unknown) => unknown };

/** {@link SqliteDriver} over the better-sqlite3 package (a native module; the driver for Node 20). */
export class BetterSqlite3Driver implements SqliteDriver {
  readonly name = "better-sqlite3";
  private readonly db: BetterSqlite3.Database;
  // better-sqlite3 makes a transaction function called inside another one a savepoint.
  private readonly inTransaction: Transaction;

  constructor(filename: string, Database: typeof BetterSqlite3) {
    this.db = new Database(filename);
    this.inTransaction = this.db.transaction((work: () => unknown) => work());
  }

  get open(): boolean {
    return this.db.open;
  }

  prepare(sql: string): SqliteStatement {
    return this.db.prepare(sql);
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  transaction<T>(work: () => T, options: { immediate?: boolean } = {}): T {
    return (options.immediate ? this.inTransaction.immediate(work) : this.inTransaction(work)) as T;
  }

  close(): void {
    this.db.close();
  }
}
