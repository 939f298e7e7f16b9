/** What `new HttpStore(url, {...})` accepts, as one zod schema. */
import { z } from "zod";
import { DurationMsSchema, LoggerSchema, consoleLogger, parseOrThrow } from "../../types/index.js";

/**
 * About 9 s in all: long enough to ride out a store server's restart, short enough that a wrong
 * URL or a server that is not running is reported while the user is still watching.
 */
const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [100, 200, 400, 800, 1600, 2000, 2000, 2000];

/** What fits in an `Authorization: Bearer …` header: visible ASCII, no spaces (no line break can sneak in). */
const TokenSchema = z.string().regex(/^[\x21-\x7e]+$/, "expected visible ASCII characters without spaces (from this option, or TRACETRAIN_TOKEN when it is not given)");

export const HttpStoreOptionsSchema = z.strictObject({
  /**
   * Bearer token, when the server requires one.
   * @default process.env.TRACETRAIN_TOKEN
   */
  token: TokenSchema.optional().prefault(() => process.env.TRACETRAIN_TOKEN || undefined),
  /**
   * Delays between retries, in ms, when the server cannot be reached or answers 502/503/504 (a
   * restart). Only calls that are safe to repeat are retried; `[]` never retries. When the list
   * runs out the call fails with a StoreUnavailableError naming the URL. A long-lived process
   * that should wait out longer outages passes a longer list.
   * @default backoff from 100 ms to 2 s, 9 tries over about 9 s
   */
  retryDelaysMs: z.array(z.number().int().min(0).max(600_000)).max(10_000).readonly().default(DEFAULT_RETRY_DELAYS_MS),
  /**
   * Timeout of one ordinary request, in ms; long-polls add their wait to it. At most a day.
   * @default 60000
   */
  requestTimeoutMs: DurationMsSchema.max(86_400_000).default(60_000),
  /**
   * Receives what must not interrupt the caller, such as a dropped event stream.
   * @default consoleLogger
   */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type HttpStoreOptions = z.input<typeof HttpStoreOptionsSchema>;
export type ParsedHttpStoreOptions = z.output<typeof HttpStoreOptionsSchema>;

export function parseHttpStoreOptions(options: HttpStoreOptions | undefined): ParsedHttpStoreOptions {
  return parseOrThrow(HttpStoreOptionsSchema, options ?? {}, "HttpStore options");
}
