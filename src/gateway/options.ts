/**
 * What `startGateway({...})` accepts, as one zod schema: the types are inferred from it, every
 * default lives here, and bad options get a ValidationError naming the field. Parsed once, when
 * the gateway starts.
 */
import { z } from "zod";
import { StoreSchema } from "../store/index.js";
import { LoggerSchema, consoleLogger } from "../types/index.js";
import { listenerFields, parseListenerOptions } from "../http/index.js";
import { GatewayPolicySchema } from "./policy.js";
import { UpstreamListSchema } from "./upstreams.js";

const RetryPolicySchema = z.strictObject({
  /**
   * Tries in all, across the ranked upstreams.
   * @default 3
   */
  tries: z.number().int().min(1).max(100).default(3),
  /**
   * Delay before the first retry, in ms; it doubles with each retry.
   * @default 100
   */
  baseDelayMs: z.number().min(0).default(100),
  /**
   * The longest delay between tries, also the most a `Retry-After` is honoured, in ms.
   * @default 2000
   */
  maxDelayMs: z.number().min(0).default(2000),
});
export type RetryPolicy = z.output<typeof RetryPolicySchema>;

export const GatewayOptionsSchema = z.strictObject({
  /** Where calls are recorded: any Store (in-process, or an HttpStore for a remote store server). Required: no default. */
  store: StoreSchema,
  /** The OpenAI-compatible servers calls go to, at least one (see `UpstreamSchema`). Required: no default. */
  upstreams: UpstreamListSchema,
  /**
   * The interface to listen on. Anything but loopback needs `token` (or `insecure`).
   * @default "127.0.0.1"
   */
  host: listenerFields.host,
  /**
   * The port to listen on; 0 picks a free one.
   * @default 4748
   */
  port: listenerFields.port(4748),
  /**
   * Required from agents as `Authorization: Bearer …` (or `x-api-key`); per-rollout keys from
   * `Gateway.keyFor` also work. Without one the gateway is transparent: an agent's own key goes on upstream.
   * @default undefined (no token)
   */
  token: z.string().min(1, "must not be empty: leave it out to run without a token").optional(),
  /**
   * Listen beyond loopback without a token, on a trusted private network only.
   * @default false
   */
  insecure: listenerFields.insecure,
  /**
   * Record calls made without a rollout prefix, each as an online rollout of its own (otherwise they are only proxied).
   * @default false
   */
  recordUnscoped: z.boolean().default(false),
  /**
   * When to ask upstreams for exact token ids and logprobs: for calls of `train` rollouts, `always`,
   * or `never`. Only upstreams that support it are asked (see their `capabilities`).
   * @default "train"
   */
  captureTokens: z.enum(["train", "always", "never"]).default("train"),
  /**
   * Take what the gateway asked for on its own out of the answers agents receive.
   * @default true
   */
  stripCaptured: z.boolean().default(true),
  /**
   * Finish each recorded answer only once its call is in the store, so a rollout that ends right
   * after its last call never misses that call. The answer's bytes still stream at once; only its
   * end waits, for about one store write, shared by concurrent calls. `false` answers without
   * waiting and delivers spans in the background (up to ~100 ms later).
   * @default true
   */
  answerWhenStored: z.boolean().default(true),
  /**
   * While paused: hold new calls until resumed (`wait`), or answer 429 with `Retry-After` (`reject`).
   * @default "wait"
   */
  whilePaused: z.enum(["wait", "reject"]).default("wait"),
  /**
   * The `Retry-After` of calls turned away while paused, in seconds.
   * @default 1
   */
  pauseRetryAfterSeconds: z.number().int().min(0).default(1),
  /**
   * The model name, sampling per rollout mode and policy version applied to every call (see `GatewayPolicy`).
   * @default {} (calls pass unchanged)
   */
  policy: GatewayPolicySchema.prefault({}),
  /**
   * Retries of upstream requests that a retry can fix (connection failures, 429 and 5xx answers).
   * @default { tries: 3, baseDelayMs: 100, maxDelayMs: 2000 }
   */
  retry: RetryPolicySchema.prefault({}),
  /**
   * The largest request body accepted, in bytes; larger ones get 413.
   * @default 33554432 (32 MiB)
   */
  bodyLimitBytes: listenerFields.bodyLimitBytes(32 * 1024 * 1024),
  /**
   * How long an upstream may stay silent before the call fails, in ms.
   * @default 600000 (10 minutes)
   */
  upstreamTimeoutMs: z.number().int().min(1).max(2 ** 31 - 1).default(600_000),
  /**
   * Ask each upstream at start what it supports, unless its `capabilities` say.
   * @default true
   */
  probe: z.boolean().default(true),
  /**
   * How long "this attempt is active" is trusted without hearing from the store, in ms.
   * @default 2000
   */
  attemptCacheMs: z.number().int().min(0).default(2000),
  /**
   * Receives what the gateway reports: probe results, undeliverable spans, unexpected failures.
   * @default the console
   */
  logger: LoggerSchema.default(() => consoleLogger),
});

export type GatewayOptions = z.input<typeof GatewayOptionsSchema>;
export type ParsedGatewayOptions = z.output<typeof GatewayOptionsSchema>;

/** Parses the options, then refuses a non-loopback listener that has neither a token nor `insecure`. */
export function parseGatewayOptions(options: GatewayOptions): ParsedGatewayOptions {
  return parseListenerOptions(GatewayOptionsSchema, options, "gateway");
}
