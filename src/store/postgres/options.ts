/** What `new PostgresStore(url, {...})` accepts, as one zod schema. */
import { z } from "zod";
import { DurationMsSchema, formatPath, parseOrThrow } from "../../types/index.js";
import { storeOptionsShape } from "../options.js";
import { SchemaNameSchema } from "./identifiers.js";

/** TLS settings passed to Node's `tls.connect` (a subset). */
export const PostgresSslOptionsSchema = z.strictObject({
  /** Refuse a server whose certificate does not verify. @default true */
  rejectUnauthorized: z.boolean().optional(),
  /** Trusted CA certificates, PEM. @default Node's bundled CAs */
  ca: z.string().optional(),
  /** Client certificate, PEM. @default none */
  cert: z.string().optional(),
  /** Client private key, PEM. @default none */
  key: z.string().optional(),
  /** Server name for SNI and certificate checks. @default the host */
  servername: z.string().optional(),
});

/** Connection settings of a {@link PostgresStore}. Settings in the connection string win. */
export const PostgresPoolOptionsSchema = z.strictObject({
  /** Most pooled connections. Each store opens one more, for LISTEN. @default 10 */
  max: z.number().int().min(1).max(10_000).default(10),
  /** Closes pooled connections idle this long, in ms. @default 10000 */
  idleTimeoutMs: DurationMsSchema.default(10_000),
  /** Gives up connecting to the server after this long, in ms. @default 10000 */
  connectTimeoutMs: DurationMsSchema.default(10_000),
  /** TLS: `true` with Node's defaults, or settings. @default off, unless the connection string's `sslmode` asks for it */
  ssl: z
    .union([z.boolean(), PostgresSslOptionsSchema], {
      // For an object, name the field that is wrong rather than zod's bare "Invalid input".
      error: (issue) => {
        const inner = typeof issue.input === "object" && issue.input !== null ? (issue as { errors?: z.core.$ZodIssue[][] }).errors?.[1]?.[0] : undefined;
        return inner && (inner.path.length > 0 ? `${formatPath(inner.path)}: ${inner.message}` : inner.message);
      },
    })
    .optional(),
  /** Shown in `pg_stat_activity` (PostgreSQL keeps 63 bytes). @default "tracetrain" */
  applicationName: z.string().min(1).max(63).default("tracetrain"),
});

export const PostgresStoreOptionsSchema = z.strictObject({
  ...storeOptionsShape,
  /**
   * The schema holding the store's tables (lower-case letters, digits and _). Stores on the same
   * schema share one store — that is how replicas scale out; stores on different schemas of one
   * database are fully isolated, events included.
   * @default "tracetrain"
   */
  schema: SchemaNameSchema.default("tracetrain"),
  /** Connection pool and connect settings; settings in the connection string take precedence. @default {} */
  pool: PostgresPoolOptionsSchema.prefault({}),
});

export type PostgresSslOptions = z.input<typeof PostgresSslOptionsSchema>;
export type PostgresPoolOptions = z.input<typeof PostgresPoolOptionsSchema>;
export type ParsedPostgresPoolOptions = z.output<typeof PostgresPoolOptionsSchema>;
export type PostgresStoreOptions = z.input<typeof PostgresStoreOptionsSchema>;
export type ParsedPostgresStoreOptions = z.output<typeof PostgresStoreOptionsSchema>;

export function parsePostgresStoreOptions(options: PostgresStoreOptions | undefined): ParsedPostgresStoreOptions {
  return parseOrThrow(PostgresStoreOptionsSchema, options ?? {}, "PostgresStore options");
}
