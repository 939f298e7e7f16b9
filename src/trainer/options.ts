/**
 * What `new Trainer({...})` accepts, as one zod schema: the types are inferred from it, and bad
 * options get a ValidationError naming the field. The runner's fields (`heartbeatIntervalMs`,
 * `hooks`, `tracer`, `logger`, a runner's `concurrency`) are the Runner's own schemas, defaults
 * included, so the two cannot drift apart.
 */
import { z } from "zod";
import { ResourcesMapSchema, RolloutConfigSchema, parseOrThrow } from "../types/index.js";
import { StoreSchema } from "../store/index.js";
import type { InstrumentOptions } from "../tracer/index.js";
import { GraceMsSchema, MAX_CONCURRENCY, RunnerOptionsSchema } from "../runner/index.js";
import { type Algorithm, evaluate } from "../algorithms/index.js";
import { BehaviourFilter, TraceAdapter } from "../adapters/index.js";
import { hasMethods } from "../util/index.js";
import { ProgressModeSchema } from "./progress.js";

/** Where the trainer keeps its store when none is given. */
export const DEFAULT_STORE = "sqlite:./.tracetrain/tracetrain.db";

function isAlgorithm(value: unknown): value is Algorithm<unknown> {
  return hasMethods(value, ["run"]) && typeof (value as { name?: unknown }).name === "string";
}

export function isTraceAdapter(value: unknown): value is TraceAdapter {
  return value instanceof TraceAdapter || hasMethods(value, ["adapt", "with", "toTransitions", "toTrajectories", "toMergedSamples", "toChatSamples"]);
}

/** A BehaviourFilter, also one from another copy of tracetrain (an ES module and a CommonJS one in one process). */
function isBehaviourFilter(value: unknown): value is BehaviourFilter {
  return value instanceof BehaviourFilter || hasMethods(value, ["inspect", "inspectGroup", "observeSteps", "judge", "actionFor"]);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const runner = RunnerOptionsSchema.shape;

export const TrainerOptionsSchema = z.strictObject({
  /** What to run; its result type is what `fit` returns as `result`. @default evaluate(), the baseline */
  algorithm: z.custom<Algorithm<unknown>>(isAlgorithm, "expected an Algorithm: an object with a name and run(ctx) — APO, RL, evaluate() or your own").default(() => evaluate()),
  /** A store, or a store URL: `"memory"`, `"sqlite:PATH"`, `"postgres://…"`, `"http://…"`. @default {@link DEFAULT_STORE} */
  store: z.union([z.string().min(1), StoreSchema]).default(DEFAULT_STORE),
  /**
   * Where rollouts run: a number N runs N at once in this process; 0 runs none here (runners
   * elsewhere — `tracetrain runner` — serve the store); `{ processes: P, concurrency: C }` runs
   * them in P worker processes, C at a time each, over a store server the trainer starts on
   * loopback. Worker processes import the agent from its module, so declare it:
   * `agent(fn, { module: import.meta.url })`.
   * @default 8
   */
  runners: z
    .union([
      z.number().int().min(0).max(MAX_CONCURRENCY),
      z.strictObject({
        /** Worker processes to start (at most 256). */
        processes: z.number().int().min(1).max(256),
        /** Rollouts each worker runs at once. @default 8 */
        concurrency: runner.concurrency,
      }),
    ])
    .default(8),
  /** How often runners report their attempts alive, in ms. @default 5000 */
  heartbeatIntervalMs: runner.heartbeatIntervalMs,
  /** Resources published before the algorithm starts: prompt templates, LLM endpoints, JSON. @default none */
  initialResources: ResourcesMapSchema.optional(),
  /** Config of every rollout the algorithm enqueues: timeouts, retries. @default none in process; a 15 s heartbeat timeout and 3 attempts when runners are elsewhere */
  rolloutConfig: RolloutConfigSchema.optional(),
  /** How the algorithm turns spans into training data: agents to train, credit policy. @default new TraceAdapter(): every agent, `finalCredit` */
  adapter: z.custom<TraceAdapter>(isTraceAdapter, "expected a TraceAdapter").default(() => new TraceAdapter()),
  /**
   * A behaviour filter: detectors and the policy for their findings. RL, APO and GEPA review the
   * rollouts they learn from with it — findings become spans of the traces, and `penalize`,
   * `exclude` and `stop` change training as docs/behaviour-filter.md says. @default none
   */
  behaviour: z.custom<BehaviourFilter>(isBehaviourFilter, "expected a BehaviourFilter: new BehaviourFilter({ detectors, policy })").optional(),
  /** Called around every rollout run in this process. @default none */
  hooks: runner.hooks,
  /** Records the agent's spans. @default a new Tracer reporting to `logger` */
  tracer: runner.tracer,
  /** `"auto"`: a live bar on a terminal, plain lines when piped or under CI; `"bar"`, `"plain"`, `"json"`, or `false` for none. @default "auto" */
  progress: ProgressModeSchema.default("auto"),
  /** Receives the trainer's warnings and errors. @default consoleLogger (warnings and errors on the console) */
  logger: runner.logger,
  /** How long running agents get to stop after Ctrl-C before their attempts are failed, in ms. @default 10000 */
  graceMs: GraceMsSchema.default(10_000),
  /** Install Ctrl-C / SIGTERM handlers during a run. @default true */
  handleSignals: z.boolean().default(true),
  /**
   * Before the first rollout, check that every LLM endpoint in `initialResources` answers at all
   * (a GET of `{baseUrl}/models`; any HTTP status counts), and fail at once with the resource, its
   * URL and the reason if one does not — rather than fail every rollout. `{ timeoutMs }` sets how
   * long an endpoint gets to answer; `false` skips the check. Never done with `runners: 0`: the
   * endpoint is then reached from the runners' machines, not this one.
   * @default true, with a 5000 ms timeout
   */
  checkEndpoints: z.union([z.boolean(), z.strictObject({
      /** How long each endpoint gets to answer, in ms (at most 600000). */
      timeoutMs: z.number().int().min(1).max(600_000),
    })]).default(true),
  /**
   * Hook the agent frameworks in this process so their LLM calls are recorded: `true` for the
   * tracer's defaults (the openai SDK, fetch, LangChain.js, the OpenAI Agents SDK), options for
   * `tracer.instrument()` to choose (e.g. `{ otel: true }`), or `false` to record only what the
   * agent emits itself.
   * @default true
   */
  instrument: z.union([z.boolean(), z.custom<InstrumentOptions>(isPlainObject, "expected the options of tracer.instrument()")]).default(true),
});

/** What `new Trainer({...})` accepts; `algorithm` keeps its result type. */
export type TrainerOptions<R = unknown> = Omit<z.input<typeof TrainerOptionsSchema>, "algorithm"> & { algorithm?: Algorithm<R> | undefined };
export type ParsedTrainerOptions<R = unknown> = Omit<z.output<typeof TrainerOptionsSchema>, "algorithm"> & { algorithm: Algorithm<R> };

export function parseTrainerOptions<R>(options: TrainerOptions<R>): ParsedTrainerOptions<R> {
  return parseOrThrow(TrainerOptionsSchema, options, "trainer options") as ParsedTrainerOptions<R>;
}
