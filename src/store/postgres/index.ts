export { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
export type { PostgresPoolOptions, PostgresSslOptions } from "./connection.js";
