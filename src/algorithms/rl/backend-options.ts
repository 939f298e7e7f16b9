/**
 * What the training-backend side of RL accepts, as zod schemas: `serveTrainingBackend(backend,
 * {...})`, `new HttpTrainingBackend(url, {...})` and `new JsonlExportBackend(dir, {...})`. The
 * types are inferred from them, and bad options get a ValidationError naming the field.
 */
import { z } from "zod";
import { DurationMsSchema, LoggerSchema, consoleLogger, parseOrThrow } from "../../types/index.js";
import { listenerFields, parseListenerOptions } from "../../http/index.js";
import { EndpointSchema } from "./protocol.js";

export const ServeTrainingBackendOptionsSchema = z.strictObject({
  /** Interface to bind; anything but loopback requires a token or `insecure`. @default "127.0.0.1" */
  host: listenerFields.host,
  /** Port; 0 picks a free one (read it from `url`). @default 0 */
  port: listenerFields.port(0),
  /** When set, every route requires `Authorization: Bearer <token>`. @default none */
  token: listenerFields.token,
  /** Allow a non-loopback bind without a token, on a trusted private network only. @default false */
  insecure: listenerFields.insecure,
  /** Largest request body, in bytes (batches carry token ids); larger ones get 413. @default 268435456 (256 MiB) */
  bodyLimitBytes: listenerFields.bodyLimitBytes(256 * 1024 * 1024),
  /** Receives the server's errors and the backend's failures. @default consoleLogger (warnings and errors on the console) */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type ServeTrainingBackendOptions = z.input<typeof ServeTrainingBackendOptionsSchema>;
export type ParsedServeTrainingBackendOptions = z.output<typeof ServeTrainingBackendOptionsSchema>;

/** Parses the options, then refuses a non-loopback bind that has neither a token nor `insecure`. */
export function parseServeTrainingBackendOptions(options: ServeTrainingBackendOptions): ParsedServeTrainingBackendOptions {
  return parseListenerOptions(ServeTrainingBackendOptionsSchema, options, "backend server");
}

/** Timeouts of one exchange per route, in ms: connecting, sending, the backend's work, the answer. */
export const RouteTimeoutsSchema = z.strictObject({
  /** Asking what the backend is (`GET /v2/info`). @default 30000 */
  info: DurationMsSchema.default(30_000),
  /** Asking where the policy is served (`GET /v2/endpoints`). @default 30000 */
  endpoints: DurationMsSchema.default(30_000),
  /** A training step (including weight sync to the endpoints) can take many minutes. @default 3600000 (1 h) */
  train: DurationMsSchema.default(60 * 60_000),
  /** A supervised step (`POST /v2/supervise`), weight sync included, like a training step. @default 3600000 (1 h) */
  supervise: DurationMsSchema.default(60 * 60_000),
  /** Saving a large model can take minutes too. @default 900000 (15 min) */
  checkpoint: DurationMsSchema.default(15 * 60_000),
  /** Loading a checkpoint back into the trainer and the endpoints. @default 900000 (15 min) */
  restore: DurationMsSchema.default(15 * 60_000),
});
export type RouteTimeouts = z.input<typeof RouteTimeoutsSchema>;

export const HttpTrainingBackendOptionsSchema = z.strictObject({
  /** Sent as `Authorization: Bearer <token>`. @default none */
  token: z
    .string()
    .regex(/^[\x21-\x7e]+$/, "expected printable ASCII without spaces")
    .optional(),
  /** One number for every route, or per route. @default info and endpoints 30 s, train and supervise 1 h, checkpoint and restore 15 min */
  timeoutMs: z
    .union([DurationMsSchema.transform((ms) => ({ info: ms, endpoints: ms, train: ms, supervise: ms, checkpoint: ms, restore: ms })), RouteTimeoutsSchema])
    .prefault({}),
  /** Delays between retries of the GETs (and of POSTs that never left), in ms. @default [500, 2000, 5000] */
  retryDelaysMs: z
    .array(z.number().int().min(0).max(600_000))
    .max(100)
    .readonly()
    .default(() => [500, 2000, 5000]),
  /**
   * A fetch implementation to use instead of `node:http`. The default deliberately avoids the
   * global fetch: its dispatcher gives up after 300 s without response headers, shorter than a
   * training step may take.
   * @default none: `node:http` / `node:https`
   */
  fetch: z.custom<typeof fetch>((value) => typeof value === "function", "expected a fetch function").optional(),
  /** Receives the client's warnings (e.g. sampling settings a `tracetrain-rl/1` backend cannot take). @default consoleLogger */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type HttpTrainingBackendOptions = z.input<typeof HttpTrainingBackendOptionsSchema>;
export type ParsedHttpTrainingBackendOptions = z.output<typeof HttpTrainingBackendOptionsSchema>;

export function parseHttpTrainingBackendOptions(options: HttpTrainingBackendOptions): ParsedHttpTrainingBackendOptions {
  return parseOrThrow(HttpTrainingBackendOptionsSchema, options, "backend options");
}

export const JsonlExportBackendOptionsSchema = z.strictObject({
  /** The model name the endpoints serve. */
  model: z.string().min(1),
  /** The upstreams that keep serving (the policy never changes); their policy version is the backend's. */
  endpoints: z.array(EndpointSchema).min(1),
  /** What the endpoints return, reported by `info()`. @default neither token ids nor logprobs */
  capabilities: z
    .strictObject({
      /** The endpoints return exact token ids. @default false */
      token_ids: z.boolean().default(false),
      /** The endpoints return logprobs. @default false */
      logprobs: z.boolean().default(false),
      /** What those logprobs are: the model's own distribution, or the one sampled from. @default "raw" */
      logprobs_mode: z.enum(["raw", "processed"]).default("raw"),
    })
    .prefault({}),
  /** Hyperparameter names a train request may set; they are recorded with the step. Others are refused. @default [] */
  hyperparameters: z.array(z.string().min(1).max(128)).max(1000).default(() => []),
});

export type JsonlExportBackendOptions = z.input<typeof JsonlExportBackendOptionsSchema>;
export type ParsedJsonlExportBackendOptions = z.output<typeof JsonlExportBackendOptionsSchema>;

export function parseJsonlExportBackendOptions(options: JsonlExportBackendOptions): ParsedJsonlExportBackendOptions {
  return parseOrThrow(JsonlExportBackendOptionsSchema, options, "JsonlExportBackend options");
}
