import type Pg from "pg";
import type { Logger } from "../../types/index.js";
import { StoreUnavailableError, ValidationError } from "../../types/index.js";
import { requirePackage } from "../../util/index.js";
import type { ParsedPostgresPoolOptions } from "./options.js";

export type PgModule = typeof Pg;

let pg: PgModule | undefined;

/**
 * The `pg` package, from the application's node_modules, loaded by the first PostgresStore
 * constructed — never by importing tracetrain. A missing one throws MissingDependencyError.
 */
export function loadPg(): PgModule {
  pg ??= requirePackage<PgModule>("pg", "PostgresStore");
  return pg;
}

const INT8_OID = 20;
const parseInt8 = (value: string): number => Number(value);

/**
 * bigint columns (row numbers, queue positions, counts) come back as numbers instead of pg's
 * default strings. They stay far below 2^53. Set per connection, not on pg's global registry, so
 * other users of pg in the same process are unaffected.
 */
function typeParsers(pg: PgModule): Pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") =>
      oid === INT8_OID && format !== "binary" ? parseInt8 : pg.types.getTypeParser(oid, format)) as Pg.CustomTypesConfig["getTypeParser"],
  };
}

/** The settings every connection of a store shares (pooled and LISTEN). */
export function clientConfig(pg: PgModule, connectionString: string, options: ParsedPostgresPoolOptions): Pg.ClientConfig {
  return {
    connectionString,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectTimeoutMs,
    types: typeParsers(pg),
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
  };
}

/**
 * A pool whose connect timeout bounds only connecting to the server. pg-pool applies its own
 * `connectionTimeoutMillis` to waiting for a free pooled connection too, which under load would
 * turn an ordinary queue into "cannot connect" failures; so the timeout is given to each client
 * instead, and waiting for a pooled connection is unbounded, like any queue.
 */
export function createPool(pg: PgModule, config: Pg.ClientConfig, options: ParsedPostgresPoolOptions, logger: Logger, target: string): Pg.Pool {
  const { connectionTimeoutMillis, ...shared } = config;
  class BoundedConnectClient extends pg.Client {
    constructor(poolConfig?: string | Pg.ClientConfig) {
      super(typeof poolConfig === "object" ? { ...poolConfig, connectionTimeoutMillis } : poolConfig);
    }
  }
  const pool = new pg.Pool({
    ...shared,
    // Lets a transaction send statements that do not wait on each other in one round trip (see transaction.ts).
    pipeline: true,
    max: options.max,
    idleTimeoutMillis: options.idleTimeoutMs,
    Client: BoundedConnectClient,
  });
  // An idle pooled connection that dies (server restart) emits 'error' on the pool; unhandled, that
  // would crash the process. The pool drops the connection and opens a new one when needed.
  pool.on("error", (error) => logger.warn(`an idle PostgreSQL connection to ${target} failed; the pool will replace it`, { error }));
  return pool;
}

/**
 * Rejects, at construction, a connection string pg would only fail on at the first call (or
 * misread: pg resolves a bare word as a relative URL). The string itself is not quoted back,
 * since it may hold a password.
 */
export function checkConnectionString(connectionString: string): void {
  const problem = !/^postgres(ql)?:\/\//i.test(connectionString)
    ? "expected a postgres:// or postgresql:// URL"
    : URL.canParse(connectionString)
      ? undefined
      : "is not a valid URL (percent-encode special characters in the user name and password)";
  if (problem) {
    throw new ValidationError("PostgreSQL connection string", [
      { path: "connectionString", message: `${problem}, such as postgres://user:password@host:5432/database` },
    ]);
  }
}

/**
 * Names the server a connection string points at — host, port, database and user, never the
 * password — for error and log messages.
 */
export function describeTarget(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return "the configured PostgreSQL server";
  }
  const params = url.searchParams;
  const host = decodeURIComponent(url.hostname) || params.get("host") || "localhost";
  const port = url.port || params.get("port") || "5432";
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || params.get("dbname") || "";
  const user = decodeURIComponent(url.username) || params.get("user") || "";
  const where = host.startsWith("/") ? host : `${host}:${port}`;
  return `${where}${database ? `/${database}` : ""}${user ? ` (user "${user}")` : ""}`;
}

/** Node socket errors that mean the server could not be reached or the connection broke. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);
/** SQLSTATEs of the same kind: server shutting down or starting, too many connections, login refused, no such database. */
const SERVER_CODES = new Set(["57P01", "57P02", "57P03", "53300", "3D000"]);

/** Whether an error from pg means the server is unreachable or the connection was lost, rather than a problem with the query. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith("08") || code.startsWith("28")) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed/i.test(error.message);
}

/** The typed error for an unreachable server; the message names the server but never the password. */
export function unavailable(target: string, error: unknown): StoreUnavailableError {
  return new StoreUnavailableError(`cannot use PostgreSQL at ${target}: ${reasonOf(error)}`, { cause: error });
}

/** An error's message; a failed connect to a host with several addresses is an AggregateError with an empty one. */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(reasonOf).join("; ");
  return error instanceof Error ? error.message || error.constructor.name : String(error);
}
