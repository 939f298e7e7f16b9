/**
 * Where rollouts live: the {@link Store} interface, the state machine every backend shares
 * (through {@link BaseStore} over a {@link StorageEngine}), the backends — memory, SQLite,
 * PostgreSQL, and {@link HttpStore}, a client of a store served over HTTP — and `createStore`,
 * which opens one from a URL.
 */
export { type Store, type StoreEventMap, type StoreEvents, type WaitOptions, isStore, StoreSchema } from "./store.js";
export { BaseStore } from "./base-store.js";
export { type StoreOptions, type ParsedStoreOptions, StoreOptionsSchema } from "./options.js";
export type { StorageEngine, AppendedSpans, ResolvedSpanQuery, TouchedAttempt } from "./engine.js";
export { MemoryStore } from "./memory-store.js";
export * from "./sqlite/index.js";
export * from "./postgres/index.js";
export * from "./http/index.js";
export { createStore, type CreateStoreOptions, CreateStoreOptionsSchema } from "./create-store.js";
export { isAttemptActive, isRolloutQueued, isRolloutTerminal } from "./state-machine.js";
export { parseRequest } from "./requests.js";
export { newId } from "./ids.js";
export { type SpansOfOptions, spanPages, spansOf } from "./spans-of.js";
