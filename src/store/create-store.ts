import { z } from "zod";
import { ValidationError, parseOrThrow } from "../types/index.js";
import { redactUrl } from "../util/index.js";
import { HttpStore, HttpStoreOptionsSchema } from "./http/index.js";
import { MemoryStore } from "./memory-store.js";
import { PostgresStore, PostgresStoreOptionsSchema } from "./postgres/index.js";
import { SqliteStore, SqliteStoreOptionsSchema } from "./sqlite/index.js";
import type { Store } from "./store.js";

/**
 * What `createStore` accepts: the options of every backend it can open (each field documented,
 * with its default, in that backend's schema). Fields of other backends are ignored, so one
 * options object serves any URL; a field no backend knows is an error.
 */
export const CreateStoreOptionsSchema = z.strictObject({
  ...SqliteStoreOptionsSchema.shape,
  ...PostgresStoreOptionsSchema.shape,
  ...HttpStoreOptionsSchema.shape,
});
export type CreateStoreOptions = z.input<typeof CreateStoreOptionsSchema>;

/**
 * Opens a store from a URL-like string:
 * - `"memory"` — {@link MemoryStore};
 * - `"sqlite:PATH"` — {@link SqliteStore} on PATH (relative to the working directory; parent
 *   folders are created, unless `options.mustExist` asks for an existing store), or `"sqlite::memory:"` for a private in-memory SQLite database;
 * - `"postgres://…"` or `"postgresql://…"` — {@link PostgresStore} on that database (a libpq-style
 *   URL: user, password, host, port, database and parameters such as `sslmode`); `options.schema`
 *   picks the schema (default "tracetrain"). It connects on first use, not here;
 * - `"http://…"` or `"https://…"` — {@link HttpStore}, a store served by `startStoreServer`
 *   (`options.token`, or `TRACETRAIN_TOKEN`, for a server that requires one).
 *
 * Options that do not apply to the chosen backend are ignored; unknown options are a ValidationError.
 * Only the chosen backend's package is loaded (better-sqlite3 on Node 20, pg).
 */
export function createStore(spec: string, options: CreateStoreOptions = {}): Store {
  const { durability, driver, mustExist, schema, pool, token, retryDelaysMs, requestTimeoutMs, ...common } = parseOrThrow(CreateStoreOptionsSchema, options, "createStore options");
  if (spec.startsWith("http://") || spec.startsWith("https://")) {
    return new HttpStore(spec, { token, retryDelaysMs, requestTimeoutMs, logger: common.logger });
  }
  if (spec === "memory") return new MemoryStore(common);
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (path.length === 0) throw invalid(spec, "the SQLite path is empty");
    return new SqliteStore(path, { ...common, durability, driver, mustExist });
  }
  if (spec.startsWith("postgres://") || spec.startsWith("postgresql://")) {
    return new PostgresStore(spec, { ...common, schema, pool });
  }
  throw invalid(spec, 'expected "memory", "sqlite:PATH", "postgres://…" or "http(s)://…"');
}

/** The message quotes the spec with its credentials masked: a mistyped URL must not leak a secret into logs. */
function invalid(spec: string, message: string): ValidationError {
  const shown = redactUrl(spec);
  return new ValidationError("store URL", [{ path: "store", message: `${message} (got ${JSON.stringify(shown)})` }]);
}
