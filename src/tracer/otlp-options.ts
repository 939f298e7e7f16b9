/** What `createOtlpSink({...})` and `teeSinks(…, {...})` accept, as zod schemas. */
import { z } from "zod";
import { DurationMsSchema, LoggerSchema, consoleLogger, parseOrThrow } from "../types/index.js";

export const OtlpSinkOptionsSchema = z.strictObject({
  /** The collector: a full `…/v1/traces` URL, or its base URL (`http://localhost:4318`). */
  url: z.url({ protocol: /^https?$/, error: "expected the collector's http(s) URL" }),
  /**
   * Extra request headers (authentication).
   * @default {}
   */
  headers: z.record(z.string(), z.string()).default({}),
  /**
   * `service.name` of the exported resource.
   * @default "tracetrain"
   */
  serviceName: z.string().min(1).default("tracetrain"),
  /**
   * Per-request timeout, in ms.
   * @default 10000
   */
  timeoutMs: DurationMsSchema.default(10_000),
  /**
   * Receives partial-success warnings from the collector.
   * @default consoleLogger
   */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type OtlpSinkOptions = z.input<typeof OtlpSinkOptionsSchema>;
export type ParsedOtlpSinkOptions = z.output<typeof OtlpSinkOptionsSchema>;

export function parseOtlpSinkOptions(options: OtlpSinkOptions): ParsedOtlpSinkOptions {
  return parseOrThrow(OtlpSinkOptionsSchema, options, "OTLP sink options");
}

export const TeeOptionsSchema = z.strictObject({
  /**
   * Where failures of the secondary sinks are reported.
   * @default consoleLogger
   */
  logger: LoggerSchema.default(() => consoleLogger),
  /**
   * Delays between retries of a failed secondary send, in ms; then the spans are dropped for that sink.
   * @default [100, 1000, 5000]
   */
  retryDelaysMs: z.array(z.number().int().min(0).max(600_000)).max(20).readonly().default([100, 1000, 5000]),
});

export type TeeOptions = z.input<typeof TeeOptionsSchema>;
export type ParsedTeeOptions = z.output<typeof TeeOptionsSchema>;

export function parseTeeOptions(options: TeeOptions): ParsedTeeOptions {
  return parseOrThrow(TeeOptionsSchema, options, "teeSinks options");
}
