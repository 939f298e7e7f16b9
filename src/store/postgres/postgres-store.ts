import { BaseStore, type StoreOptions } from "../base-store.js";
import type { PostgresPoolOptions } from "./connection.js";
import { PostgresEngine } from "./postgres-engine.js";

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions extends StoreOptions {
  /**
   * The schema holding the store's tables (default "tracetrain"; lower-case letters, digits and _).
   * Stores on the same schema share one store — that is how replicas scale out; stores on
   * different schemas of one database are fully isolated, events included.
   */
  schema?: string;
  /** Connection pool and connect settings; settings in the connection string take precedence. */
  pool?: PostgresPoolOptions;
}

/**
 * A store in PostgreSQL, shared by any number of processes: each runs its own PostgresStore on the
 * same database and schema. Dequeues never hand one rollout to two processes, and events cross
 * processes (LISTEN/NOTIFY), so a long-polling dequeue or `waitForRollouts` in one process wakes
 * for work enqueued or finished in another.
 *
 * The constructor connects nothing: the first call connects, creates or upgrades the schema, and
 * starts listening; an unreachable server makes calls fail with StoreUnavailableError naming the
 * server (never the password). Run the watchdog in one process, or in all: sweeps are idempotent.
 */
export class PostgresStore extends BaseStore {
  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    const { schema, pool, ...rest } = options;
    super(
      new PostgresEngine(connectionString, {
        ...(schema === undefined ? {} : { schema }),
        ...(pool === undefined ? {} : { pool }),
        ...(rest.logger === undefined ? {} : { logger: rest.logger }),
      }),
      rest,
    );
  }
}
