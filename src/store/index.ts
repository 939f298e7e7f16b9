/**
 * Where rollouts live: the {@link Store} interface, the state machine every backend shares
 * (through {@link BaseStore} over a {@link StorageEngine}), the backends — memory, SQLite,
 * PostgreSQL, and {@link HttpStore}, a client of a store served over HTTP — and `createStore`,
 * which opens one from a URL.
 */
export { type Store, type StoreEventMap, type StoreEvents, type WaitOptions, isStore, StoreSchema } from "./store.js";
export { BaseStore, type StoreOptions } from "./base-store.js";
export type { StorageEngine, AppendedSpans, ResolvedSpanQuery, TouchedAttempt } from "./engine.js";
export { MemoryStore } from "./memory-store.js";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite/index.js";
export { PostgresStore, type PostgresStoreOptions, type PostgresPoolOptions, type PostgresSslOptions } from "./postgres/index.js";
export * from "./http/index.js";
export { createStore } from "./create-store.js";
export { isAttemptActive, isRolloutQueued, isRolloutTerminal } from "./state-machine.js";
export { parseRequest } from "./requests.js";
export { newId } from "./ids.js";
