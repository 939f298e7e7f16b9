import { BaseStore } from "../base-store.js";
import { type PostgresStoreOptions, parsePostgresStoreOptions } from "./options.js";
import { PostgresEngine } from "./postgres-engine.js";

/**
 * A store in PostgreSQL, shared by any number of processes: each runs its own PostgresStore on the
 * same database and schema. Dequeues never hand one rollout to two processes, and events cross
 * processes (LISTEN/NOTIFY), so a long-polling dequeue or `waitForRollouts` in one process wakes
 * for work enqueued or finished in another.
 *
 * The constructor loads the `pg` package (MissingDependencyError naming it when it is not
 * installed) and connects nothing: the first call connects, creates or upgrades the schema, and
 * starts listening; an unreachable server makes calls fail with StoreUnavailableError naming the
 * server (never the password). Run the watchdog in one process, or in all: sweeps are idempotent.
 */
export class PostgresStore extends BaseStore {
  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    const { schema, pool, ...common } = parsePostgresStoreOptions(options);
    super(new PostgresEngine(connectionString, { schema, pool, logger: common.logger }), common);
  }
}
