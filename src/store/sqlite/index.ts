export { SqliteStore } from "./sqlite-store.js";
export { type SqliteStoreOptions, type ParsedSqliteStoreOptions, SqliteStoreOptionsSchema } from "./options.js";
export type { SqliteDriverName } from "./driver.js";
