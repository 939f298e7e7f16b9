/**
 * What `startStoreServer({...})` / `serveStore({...})` and the OTLP ingest route accept, as zod
 * schemas: the types are inferred from them, and bad options get a ValidationError naming the field.
 */
import { z } from "zod";
import { LoggerSchema, consoleLogger, parseOrThrow } from "../types/index.js";
import { StoreSchema } from "../store/index.js";
import { type Route, listenerFields, parseListenerOptions } from "../http/index.js";
import { hasMethods } from "../util/index.js";

function isRoute(value: unknown): value is Route {
  const route = value as { method?: unknown; path?: unknown };
  return hasMethods(value, ["handle"]) && typeof route.method === "string" && typeof route.path === "string";
}

export const StoreServerOptionsSchema = z.strictObject({
  /** The store to serve. */
  store: StoreSchema,
  /** Interface to bind; anything but loopback requires a token or `insecure`. @default "127.0.0.1" */
  host: listenerFields.host,
  /** Port; 0 picks a free one. @default 4747 */
  port: listenerFields.port(4747),
  /** When set, every route except `/healthz` requires `Authorization: Bearer <token>`. @default none */
  token: listenerFields.token,
  /** Allow a non-loopback bind without a token, on a trusted private network only. @default false */
  insecure: listenerFields.insecure,
  /** Largest request body accepted, in bytes; larger ones get 413. @default 33554432 (32 MiB) */
  bodyLimitBytes: listenerFields.bodyLimitBytes(32 * 1024 * 1024),
  /** Close the store when the server closes. @default false: whoever opened the store closes it */
  closeStore: z.boolean().default(false),
  /**
   * Routes served beside the store API. `startStoreServer` adds OTLP/HTTP trace ingest
   * (`POST /v1/traces`) and the reward endpoint to yours; a route of yours for the same method
   * and path replaces the default one.
   * @default []
   */
  extraRoutes: z.array(z.custom<Route>(isRoute, "expected a Route: { method, path, handle(request, response, body, context) }")).default(() => []),
  /**
   * Refuse every request but GET (what `tracetrain dashboard` serves: looking, never changing).
   * @default false
   */
  readOnly: z.boolean().default(false),
  /**
   * Serve the dashboard at `/` (by `startStoreServer`): `true` serves the one built into the
   * package, `{ dir }` a build in another folder, `false` none.
   * @default true
   */
  dashboard: z.union([z.boolean(), z.strictObject({
      /** A folder holding a dashboard build (its index.html and assets). */
      dir: z.string().min(1),
    })]).default(true),
  /** Receives the server's errors. @default consoleLogger (warnings and errors on the console) */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type StoreServerOptions = z.input<typeof StoreServerOptionsSchema>;
export type ParsedStoreServerOptions = z.output<typeof StoreServerOptionsSchema>;

/** Parses the options, then refuses a non-loopback bind that has neither a token nor `insecure`. */
export function parseStoreServerOptions(options: StoreServerOptions): ParsedStoreServerOptions {
  return parseListenerOptions(StoreServerOptionsSchema, options, "server");
}

export const OtlpIngestOptionsSchema = z.strictObject({
  /**
   * Largest body after gzip decompression, in bytes: a compressed body may not grow past what an
   * uncompressed one could be. Larger gets 413.
   * @default the server's `bodyLimitBytes`
   */
  maxDecompressedBytes: z.number().int().min(1).optional(),
});

export type OtlpIngestOptions = z.input<typeof OtlpIngestOptionsSchema>;
export type ParsedOtlpIngestOptions = z.output<typeof OtlpIngestOptionsSchema>;

export function parseOtlpIngestOptions(options: OtlpIngestOptions): ParsedOtlpIngestOptions {
  return parseOrThrow(OtlpIngestOptionsSchema, options, "OTLP ingest options");
}
