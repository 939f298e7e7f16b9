/** What every store built on a storage engine accepts (MemoryStore, SqliteStore, PostgresStore), as one zod schema. */
import { z } from "zod";
import { DurationMsSchema, LoggerSchema, consoleLogger, parseOrThrow } from "../types/index.js";

/** The fields of {@link StoreOptionsSchema}, for the backends' schemas to extend. */
export const storeOptionsShape = {
  /**
   * How often the watchdog looks for timed-out and silent attempts, in ms. `false` leaves the timer
   * off: call `sweep()` yourself, or start it later with `startWatchdog()`.
   * @default 1000
   */
  watchdogIntervalMs: z.union([DurationMsSchema, z.literal(false)]).default(1000),
  /**
   * Receives errors that must not reach the caller, such as a throwing event listener.
   * @default consoleLogger
   */
  logger: LoggerSchema.default(() => consoleLogger),
};

export const StoreOptionsSchema = z.strictObject(storeOptionsShape);

export type StoreOptions = z.input<typeof StoreOptionsSchema>;
export type ParsedStoreOptions = z.output<typeof StoreOptionsSchema>;

export function parseStoreOptions(options: StoreOptions | undefined): ParsedStoreOptions {
  return parseOrThrow(StoreOptionsSchema, options ?? {}, "store options");
}
