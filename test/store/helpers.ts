import { expect } from "vitest";
import { MissingDependencyError, ValidationError } from "tracetrain";
import { SqliteStore, type SqliteDriverName } from "tracetrain/store";
import { rejectionAssertion } from "../../src/testing/rejection.js";
export { hexId, makeSpan } from "../../src/testing/spans.js";

/** Asserts that `promise` rejects with an instance of `type`, and returns the error for further checks. */
export const expectCode = rejectionAssertion(expect);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve function (Promise.withResolvers needs Node 22). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The SQLite drivers this Node can run, each checked by opening a store with it: node:sqlite on
 * Node 22.16+ and 24, better-sqlite3 wherever its native module was built for this Node.
 * test/store/sqlite.test.ts asserts which ones must be here, so a driver cannot silently drop out.
 */
export function usableSqliteDrivers(): SqliteDriverName[] {
  return (["node:sqlite", "better-sqlite3"] as const).filter((driver) => {
    try {
      void new SqliteStore(":memory:", { driver, watchdogIntervalMs: false }).close();
      return true;
    } catch (error) {
      if (error instanceof MissingDependencyError || error instanceof ValidationError) return false;
      throw error;
    }
  });
}
