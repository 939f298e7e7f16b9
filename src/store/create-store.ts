import { ValidationError } from "../types/index.js";
import type { StoreOptions } from "./base-store.js";
import { MemoryStore } from "./memory-store.js";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

/**
 * Opens a store from a URL-like string:
 * - `"memory"` — {@link MemoryStore};
 * - `"sqlite:PATH"` — {@link SqliteStore} on PATH (relative to the working directory; parent
 *   folders are created), or `"sqlite::memory:"` for a private in-memory SQLite database.
 */
export function createStore(spec: string, options: StoreOptions & SqliteStoreOptions = {}): Store {
  if (spec === "memory") return new MemoryStore(options);
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (path.length === 0) throw invalid(spec, "the SQLite path is empty");
    return new SqliteStore(path, options);
  }
  throw invalid(spec, 'expected "memory" or "sqlite:PATH"');
}

function invalid(spec: string, message: string): ValidationError {
  return new ValidationError("store URL", [{ path: "store", message: `${message} (got ${JSON.stringify(spec)})` }]);
}
