export type { Store, StoreEventMap, StoreEvents, WaitOptions } from "./store.js";
export { BaseStore, type StoreOptions } from "./base-store.js";
export type { StorageEngine, AppendedSpans, ResolvedSpanQuery, TouchedAttempt } from "./engine.js";
export { MemoryStore } from "./memory-store.js";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite/sqlite-store.js";
export { PostgresStore, type PostgresStoreOptions } from "./postgres/postgres-store.js";
export type { PostgresPoolOptions, PostgresSslOptions } from "./postgres/connection.js";
export { isAttemptActive, isRolloutQueued, isRolloutTerminal } from "./state-machine.js";
