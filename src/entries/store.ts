/**
 * `tracetrain/store`: the {@link Store} interface and its backends. `SqliteStore` loads its SQLite
 * driver (`node:sqlite` or `better-sqlite3`) when constructed; `PostgresStore` is in
 * `tracetrain/postgres`. A new backend implements {@link StorageEngine} under {@link BaseStore}
 * and proves itself with `describeStoreConformance` from `tracetrain/testing`.
 *
 * @packageDocumentation
 */
export {
  type Store,
  type StoreEventMap,
  type StoreEvents,
  type WaitOptions,
  BaseStore,
  type StoreOptions,
  type StorageEngine,
  type AppendedSpans,
  type ResolvedSpanQuery,
  type TouchedAttempt,
  MemoryStore,
  SqliteStore,
  type SqliteStoreOptions,
  type SqliteDriverName,
  HttpStore,
  type HttpStoreOptions,
  createStore,
  type CreateStoreOptions,
  isAttemptActive,
  isRolloutQueued,
  isRolloutTerminal,
  spansOf,
  spanPages,
  type SpansOfOptions,
} from "../store/index.js";
