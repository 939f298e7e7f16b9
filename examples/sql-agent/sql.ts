/**
 * The Chinook database as the agents and the verifier use it: read-only, queries run in a child
 * process with a timeout and a row cap, and a query that fails is a result (its error text), never
 * an exception.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

export const CHINOOK = fileURLToPath(new URL("./data/chinook.db", import.meta.url));

export type QueryResult = { ok: true; columns: string[]; rows: unknown[][]; truncated: boolean } | { ok: false; error: string };

export interface SqlRunnerOptions {
  /** A query running longer is stopped and reported as an error. @default 5000 */
  timeoutMs?: number;
  /** Rows read at most; a longer result is cut and marked `truncated`. @default 500 */
  maxRows?: number;
}

type Pending = { resolve: (result: QueryResult) => void; timer: NodeJS.Timeout; worker: ChildProcess };

/** Runs queries one at a time on a read-only connection in a child process; `close()` ends it. */
export class SqlRunner {
  private worker: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timeoutMs: number;
  private readonly maxRows: number;

  constructor(
    private readonly file: string = CHINOOK,
    options: SqlRunnerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.maxRows = options.maxRows ?? 500;
  }

  run(sql: string): Promise<QueryResult> {
    const next = this.queue.then(() => this.runNow(sql));
    this.queue = next;
    return next;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    const worker = this.worker;
    this.worker = undefined;
    if (worker !== undefined && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.kill();
      await exited;
    }
  }

  private async runNow(sql: string): Promise<QueryResult> {
    let worker: ChildProcess;
    try {
      worker = await this.started();
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // The only way to stop a synchronous SQLite call: end its process; the next query starts a new one.
        this.worker = undefined;
        worker.kill("SIGKILL");
        resolve({ ok: false, error: `the query ran longer than ${this.timeoutMs} ms and was stopped` });
      }, this.timeoutMs);
      this.pending.set(id, { resolve, timer, worker });
      worker.send({ id, sql, maxRows: this.maxRows });
    });
  }

  /** The database process, started (and its database opened) if it is not running. */
  private started(): Promise<ChildProcess> {
    if (this.worker !== undefined) return Promise.resolve(this.worker);
    // execArgv: [] — the child is plain JavaScript and needs none of the parent's loaders (tsx).
    const worker = fork(fileURLToPath(new URL("./sql-process.mjs", import.meta.url)), [this.file], { execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    this.worker = worker;
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      worker.once("message", () => resolve(worker));
      worker.once("error", (error) => reject(new Error(`the database process failed to start: ${error.message}`)));
      worker.once("exit", (code, signal) => reject(new Error(`the database process exited before opening ${this.file} (${signal ?? `code ${code}`})`)));
    });
    worker.on("message", (message: { id?: number } & QueryResult) => {
      const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
      if (waiting === undefined) return;
      clearTimeout(waiting.timer);
      this.pending.delete(message.id!);
      const { id: _id, ...result } = message;
      waiting.resolve(result);
    });
    worker.on("error", (error) => this.failAll(worker, `the database process failed: ${error.message}`));
    worker.on("exit", (code, signal) => this.failAll(worker, `the database process exited (${signal ?? `code ${code}`})`));
    return ready;
  }

  /** A process that died answers every query it still had with its cause. */
  private failAll(worker: ChildProcess, error: string): void {
    if (this.worker === worker) this.worker = undefined;
    for (const [id, waiting] of this.pending) {
      if (waiting.worker !== worker) continue;
      clearTimeout(waiting.timer);
      this.pending.delete(id);
      waiting.resolve({ ok: false, error });
    }
  }
}

/** The tables and columns, one line each, as the writer is shown them. */
export function schemaText(file: string = CHINOOK): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    return tables
      .map((table) => {
        const columns = db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string; pk: number }>;
        const keys = db.prepare(`PRAGMA foreign_key_list("${table}")`).all() as Array<{ from: string; table: string; to: string }>;
        const described = columns.map((c) => {
          const ref = keys.find((k) => k.from === c.name);
          return `${c.name}${c.pk ? " PK" : ""}${ref ? ` → ${ref.table}.${ref.to}` : ""}`;
        });
        return `${table}(${described.join(", ")})`;
      })
      .join("\n");
  } finally {
    db.close();
  }
}

/** A result as the checker reads it: the columns and the first rows, or the error. */
export function describeResult(result: QueryResult, shown = 10): string {
  if (!result.ok) return `ERROR: ${result.error}`;
  const lines = [`${result.rows.length}${result.truncated ? "+" : ""} row(s); columns: ${result.columns.join(", ")}`];
  for (const row of result.rows.slice(0, shown)) lines.push(JSON.stringify(row));
  if (result.rows.length > shown) lines.push(`… ${result.rows.length - shown} more`);
  return lines.join("\n");
}
