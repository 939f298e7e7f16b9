export { PostgresStore } from "./postgres-store.js";
export {
  type PostgresStoreOptions,
  type ParsedPostgresStoreOptions,
  type PostgresPoolOptions,
  type PostgresSslOptions,
  PostgresStoreOptionsSchema,
} from "./options.js";
