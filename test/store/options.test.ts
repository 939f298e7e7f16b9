/**
 * Store options are zod schemas parsed once in each constructor: hostile values are a
 * ValidationError naming the field, before anything is opened or connected.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ValidationError, createStore } from "tracetrain";
import { PostgresStore } from "tracetrain/postgres";
import { HttpStore, MemoryStore, SqliteStore } from "tracetrain/store";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-store-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The ValidationError `make` throws; fails the test if it throws anything else or nothing. */
function rejection(make: () => unknown): ValidationError {
  let error: unknown;
  try {
    make();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

/** Whether an issue is at `path` or inside it (`retryDelaysMs[1]` is inside `retryDelaysMs`). */
const within = (path: string) => (issue: { path: string }) => issue.path === path || issue.path.startsWith(`${path}[`) || issue.path.startsWith(`${path}.`);

/** Asserts that every value is refused with an issue at (or inside) `path`, naming the options it was given to. */
function refuses(what: string, make: (value: unknown) => unknown, values: unknown[], path: string): void {
  for (const value of values) {
    const error = rejection(() => make(value));
    expect(error.message, `${what} with ${String(value)}`).toContain(`invalid ${what}`);
    expect(error.issues.some(within(path)), `${what} with ${String(value)}: ${error.message}`).toBe(true);
  }
}

const notALogger = [null, "console", {}, { warn() {}, error() {} }, { debug: 1, info: 1, warn: 1, error: 1 }];
const badIntervals = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, "1000", true, null];
const postgresUrl = "postgres://app:secret@127.0.0.1:1/app";

describe("StoreOptions (every engine-backed store)", () => {
  const stores: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it("takes a positive whole number of ms or false for the watchdog, and a Logger", async () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    stores.push(new MemoryStore({ watchdogIntervalMs: false, logger }), new MemoryStore({ watchdogIntervalMs: 5 }), new MemoryStore());
    expect(stores).toHaveLength(3);
  });

  it("refuses a watchdog interval that is not a positive whole number of ms (below the timer's 2^31 limit) or false", () => {
    refuses("store options", (watchdogIntervalMs) => new MemoryStore({ watchdogIntervalMs } as never), badIntervals, "watchdogIntervalMs");
  });

  it("refuses a logger without the four Logger methods", () => {
    refuses("store options", (logger) => new MemoryStore({ logger } as never), notALogger, "logger");
  });

  it("refuses unknown options and non-objects, naming the unknown key", () => {
    const error = rejection(() => new MemoryStore({ watchdogInterval: 10 } as never));
    expect(error.message).toContain("watchdogInterval");
    rejection(() => new MemoryStore("fast" as never));
    rejection(() => new MemoryStore([] as never));
  });
});

describe("SqliteStoreOptions", () => {
  it("refuses a bad durability, driver or base option before the file is created", () => {
    const path = join(dir, "never.db");
    refuses("SqliteStore options", (durability) => new SqliteStore(path, { durability } as never), ["FULL", "off", "", 1, null], "durability");
    refuses("SqliteStore options", (driver) => new SqliteStore(path, { driver } as never), ["sqlite3", "node-sqlite", "BETTER-SQLITE3", "", 0], "driver");
    refuses("SqliteStore options", (watchdogIntervalMs) => new SqliteStore(path, { watchdogIntervalMs } as never), badIntervals, "watchdogIntervalMs");
    refuses("SqliteStore options", (logger) => new SqliteStore(path, { logger } as never), notALogger, "logger");
    expect(rejection(() => new SqliteStore(path, { schema: "x" } as never)).message).toContain('"schema"');
    expect(existsSync(path)).toBe(false);
  });

  it("takes durability and driver, and says which driver it runs on", async () => {
    const store = new SqliteStore(join(dir, "full.db"), { durability: "full", watchdogIntervalMs: false });
    expect(["node:sqlite", "better-sqlite3"]).toContain(store.driver);
    await store.enqueue({ input: 1 });
    await store.close();
  });
});

describe("PostgresStoreOptions", () => {
  it("refuses schema names that are not plain lower-case identifiers", () => {
    const names = ["Bad", "has-dash", "1st", "", "x".repeat(64), 'a"; drop table x; --', "pg_mine", 42];
    refuses("PostgresStore options", (schema) => new PostgresStore(postgresUrl, { schema } as never), names, "schema");
  });

  it("refuses bad pool settings, naming the nested field", () => {
    const make = (pool: unknown) => () => new PostgresStore(postgresUrl, { pool } as never);
    const cases: Array<[unknown, string]> = [
      [{ max: 0 }, "pool.max"],
      [{ max: 1.5 }, "pool.max"],
      [{ max: "10" }, "pool.max"],
      [{ idleTimeoutMs: -1 }, "pool.idleTimeoutMs"],
      [{ connectTimeoutMs: 2 ** 31 }, "pool.connectTimeoutMs"],
      [{ applicationName: "" }, "pool.applicationName"],
      [{ applicationName: "a".repeat(64) }, "pool.applicationName"],
      [{ ssl: "require" }, "pool.ssl"],
      [{ ssl: { rejectUnauthorized: "no" } }, "pool.ssl"],
      [{ ssl: { ca: "pem", minVersion: "TLSv1.3" } }, "pool.ssl"],
      [{ maxConnections: 5 }, "pool"],
      ["ten", "pool"],
    ];
    for (const [pool, path] of cases) {
      const error = rejection(make(pool));
      expect(error.issues.map((issue) => issue.path), JSON.stringify(pool)).toContain(path);
      expect(error.message, "the connection string's password never appears").not.toContain("secret");
    }
    // Inside the TLS settings, the message names the field that is wrong.
    expect(rejection(make({ ssl: { rejectUnauthorized: "no" } })).message).toContain("pool.ssl: rejectUnauthorized: Invalid input: expected boolean");
    expect(rejection(make({ ssl: { ca: "pem", minVersion: "TLSv1.3" } })).message).toContain('"minVersion"');
  });

  it("refuses bad base options too, and accepts good ones without connecting", async () => {
    refuses("PostgresStore options", (watchdogIntervalMs) => new PostgresStore(postgresUrl, { watchdogIntervalMs } as never), badIntervals, "watchdogIntervalMs");
    refuses("PostgresStore options", (logger) => new PostgresStore(postgresUrl, { logger } as never), notALogger, "logger");
    const store = new PostgresStore(postgresUrl, {
      watchdogIntervalMs: false,
      schema: "good_name",
      pool: { max: 2, idleTimeoutMs: 1000, connectTimeoutMs: 1000, applicationName: "tests", ssl: { rejectUnauthorized: false } },
    });
    await store.close();
  });
});

describe("HttpStoreOptions", () => {
  const url = "http://127.0.0.1:1";
  const savedToken = process.env.TRACETRAIN_TOKEN;
  afterEach(() => {
    if (savedToken === undefined) delete process.env.TRACETRAIN_TOKEN;
    else process.env.TRACETRAIN_TOKEN = savedToken;
  });

  it("refuses a token that cannot go in a header: empty, spaces, line breaks (header injection), non-ASCII", () => {
    const tokens = ["", "two words", "t0ken\r\nX-Injected: 1", "tök", "tab\there", 42];
    refuses("HttpStore options", (token) => new HttpStore(url, { token } as never), tokens, "token");
  });

  it("checks a token from TRACETRAIN_TOKEN as strictly, and ignores an empty one", async () => {
    process.env.TRACETRAIN_TOKEN = "t0ken\nX-Injected: 1";
    refuses("HttpStore options", () => new HttpStore(url), [undefined], "token");
    process.env.TRACETRAIN_TOKEN = "";
    await new HttpStore(url).close();
  });

  it("refuses bad retry delays, timeouts and loggers", () => {
    refuses("HttpStore options", (retryDelaysMs) => new HttpStore(url, { retryDelaysMs } as never), ["100", [-1], [1.5], [Number.NaN], [600_001], Array(10_001).fill(1)], "retryDelaysMs");
    const delayPaths = rejection(() => new HttpStore(url, { retryDelaysMs: [100, -1] } as never)).issues.map((issue) => issue.path);
    expect(delayPaths).toEqual(["retryDelaysMs[1]"]);
    refuses("HttpStore options", (requestTimeoutMs) => new HttpStore(url, { requestTimeoutMs } as never), [0, -5, 1.5, 86_400_001, "60000"], "requestTimeoutMs");
    refuses("HttpStore options", (logger) => new HttpStore(url, { logger } as never), notALogger, "logger");
    expect(rejection(() => new HttpStore(url, { watchdogIntervalMs: 10 } as never)).message).toContain("watchdogIntervalMs");
  });
});

describe("createStore options", () => {
  it("accepts every backend's options, ignoring those of other backends", async () => {
    const store = createStore("memory", { watchdogIntervalMs: false, durability: "full", schema: "other", token: "t0ken", retryDelaysMs: [] });
    expect(store).toBeInstanceOf(MemoryStore);
    await store.close();
  });

  it("refuses unknown options and bad values, whichever backend they belong to", () => {
    expect(rejection(() => createStore("memory", { watchdogInterval: 10 } as never)).message).toContain("watchdogInterval");
    refuses("createStore options", (durability) => createStore("memory", { durability } as never), ["FULL"], "durability");
    refuses("createStore options", (schema) => createStore(postgresUrl, { schema } as never), ["Bad"], "schema");
    refuses("createStore options", (token) => createStore("http://127.0.0.1:1", { token } as never), ["a\nb"], "token");
    refuses("createStore options", (driver) => createStore(`sqlite:${join(dir, "never.db")}`, { driver } as never), ["sqlite3"], "driver");
    expect(existsSync(join(dir, "never.db"))).toBe(false);
  });
});
