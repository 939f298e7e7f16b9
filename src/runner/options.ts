/**
 * What `new Runner({...})` and a runner process (`runWorker`, `tracetrain runner`) accept, as zod
 * schemas: the types are inferred from them, and bad options get a ValidationError naming the field.
 */
import { hostname } from "node:os";
import { z } from "zod";
import { DurationMsSchema, IdSchema, LoggerSchema, consoleLogger, parseOrThrow } from "../types/index.js";
import { StoreSchema } from "../store/index.js";
import type { Tracer } from "../tracer/index.js";
import { hasMethods } from "../util/index.js";
import { type Agent, isAgent } from "./agent.js";
import { HooksSchema } from "./hooks.js";

/** A field that must hold a function of type `F`. */
function functionField<F>(what: string) {
  return z.custom<F>((value) => typeof value === "function", `expected ${what}`);
}

function isTracer(value: unknown): value is Tracer {
  return hasMethods(value, ["capture", "instrument", "uninstrument", "lastTrace"]);
}

function defaultWorkerId(): string {
  return `runner-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Most rollouts one runner runs at once: what one dequeue may claim. */
export const MAX_CONCURRENCY = 1000;

/** How long running agents get to stop when asked to, in ms: 0 to the longest timer Node keeps. */
export const GraceMsSchema = z.number().int().min(0).max(2_147_483_647);

export const RunnerOptionsSchema = z.strictObject({
  /** Where rollouts are pulled from and completed: any Store. */
  store: StoreSchema,
  /** The agent to run, made with `agent(fn)`. */
  agent: z.custom<Agent<unknown>>(isAgent, "expected an agent made with agent(fn)"),
  /** Records the agent's spans into the store. @default a new Tracer reporting to `logger` */
  tracer: z.custom<Tracer>(isTracer, "expected a Tracer").optional(),
  /** Rollouts run at once on this runner, at most {@link MAX_CONCURRENCY}. @default 8 */
  concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(8),
  /** How the store knows this runner. @default `runner-<host>-<pid>-<random>` */
  workerId: IdSchema.default(defaultWorkerId),
  /**
   * How often running attempts are reported alive and checked for cancellation, in ms (at most
   * 30000: the first heartbeat also confirms a claim, and a claim left unconfirmed for the
   * rollout's `claimTimeoutMs`, 60 s by default, is given back to the queue). @default 5000
   */
  heartbeatIntervalMs: DurationMsSchema.max(30_000, "at most 30000 ms: heartbeats confirm claims, and a claim unconfirmed for claimTimeoutMs (default 60000 ms) is given back to the queue").default(5000),
  /** Longest single long-poll for work, in ms (at most 600000); a new one starts at once when it ends. @default 30000 */
  pollWaitMs: DurationMsSchema.max(600_000).default(30_000),
  /** Called around every rollout: `onRolloutStart`, `onTraceEnd`, `onRolloutEnd`; a hook that throws is logged, never fatal. @default none */
  hooks: HooksSchema.default(() => ({})),
  /** Receives the runner's warnings and errors. @default consoleLogger (warnings and errors on the console) */
  logger: LoggerSchema.default(() => consoleLogger),
  /**
   * Mints the API key `ctx.llm()` hands an agent for a rollout-scoped LLM resource (a gateway's,
   * see `Gateway.llmResource`) that names no key — e.g. `(ids) => gateway.keyFor(ids)`, or
   * `scopedKey(token, ids)` on a machine that holds the gateway token. The key then works only for
   * that rollout attempt.
   * @default none: the resource's own key
   */
  llmKey: functionField<(ids: { rolloutId: string; attemptId: string }) => string | undefined>("a function (ids) => API key").optional(),
});

/** What `new Runner({...})` accepts; `agent` keeps its task type. */
export type RunnerOptions<T = unknown> = Omit<z.input<typeof RunnerOptionsSchema>, "agent"> & { agent: Agent<T> };
export type ParsedRunnerOptions = z.output<typeof RunnerOptionsSchema>;

export function parseRunnerOptions<T>(options: RunnerOptions<T>): ParsedRunnerOptions & { agent: Agent<T> } {
  return parseOrThrow(RunnerOptionsSchema, options, "runner options") as ParsedRunnerOptions & { agent: Agent<T> };
}

const fields = RunnerOptionsSchema.shape;

/** What a runner process (`runWorker`, `tracetrain runner`, a trainer's worker process) accepts. */
export const WorkerOptionsSchema = z.strictObject({
  /** The store server's URL. */
  storeUrl: z.url({ protocol: /^https?$/, error: "expected the store server's http(s) URL" }),
  /** Path or URL of the module that exports the agent. */
  agentModule: z.string().min(1),
  /** The agent's name, if the module exports several. @default the module's only agent */
  agentName: z.string().min(1).optional(),
  /** The store server's bearer token. @default none */
  token: z.string().min(1).optional(),
  /** Rollouts run at once. @default 8 */
  concurrency: fields.concurrency,
  /** How the store knows this runner. @default `runner-<host>-<pid>-<random>` */
  workerId: fields.workerId,
  /** How often running attempts are reported alive, in ms. @default 5000 */
  heartbeatIntervalMs: fields.heartbeatIntervalMs,
  /** How long running agents get to stop on SIGTERM/SIGINT, in ms. @default 5000 */
  graceMs: GraceMsSchema.default(5000),
  /** Receives the runner's warnings and errors. @default consoleLogger (warnings and errors on the console) */
  logger: fields.logger,
  /** Called once the agent is loaded and the runner is pulling work. @default none */
  onReady: functionField<(info: { workerId: string; agent: string }) => void>("a function ({ workerId, agent }) => void").optional(),
});

export type WorkerOptions = z.input<typeof WorkerOptionsSchema>;
export type ParsedWorkerOptions = z.output<typeof WorkerOptionsSchema>;

export function parseWorkerOptions(options: WorkerOptions): ParsedWorkerOptions {
  return parseOrThrow(WorkerOptionsSchema, options, "worker options");
}
