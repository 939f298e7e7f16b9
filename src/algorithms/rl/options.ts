/** What `new RL({...})` accepts, as one zod schema. */
import { z } from "zod";
import { IdSchema, JsonObjectSchema, parseOrThrow } from "../../types/index.js";
import type { Gateway } from "../../gateway/index.js";
import { hasMethods } from "../../util/index.js";
import { PriceSchema } from "../optimizer-options.js";
import { LengthPenaltySchema } from "./length-penalty.js";
import { type Hyperparameters, HyperparametersSchema } from "./protocol.js";
import type { TrainingBackend } from "./training-backend.js";

function isTrainingBackend(value: unknown): value is TrainingBackend {
  return hasMethods(value, ["info", "endpoints", "train", "checkpoint", "close"]);
}

function isGateway(value: unknown): value is Gateway {
  return hasMethods(value, ["pause", "resume", "setPolicy", "setUpstreams", "llmResource"]) && typeof (value as { url?: unknown }).url === "string";
}

const FailureKindSchema = z.enum(["agent_error", "infra_error", "timeout", "unresponsive", "cancelled"]);

/** Request fields the gateway sets on the calls of each rollout mode (RL's and SFT's `sampling` option). */
export const SamplingByModeSchema = z
  .strictObject({
    /** Request fields set on every call of a training rollout (e.g. `{ temperature: 1 }`). */
    train: JsonObjectSchema.optional(),
    /** Request fields set on every call of a validation rollout. */
    val: JsonObjectSchema.optional(),
    /** Request fields set on every call of a test rollout. */
    test: JsonObjectSchema.optional(),
  })
  .default({ train: { temperature: 1 }, val: { temperature: 0 }, test: { temperature: 0 } });

export const RLOptionsSchema = z.strictObject({
  /** Where the weights are trained: `HttpTrainingBackend`, `ReferenceBackend`, `JsonlExportBackend`, or your own. */
  backend: z.custom<TrainingBackend>(isTrainingBackend, "expected a TrainingBackend: an object with info(), endpoints(), train(), checkpoint() and close()"),
  /** Policy updates to make. @default 20 */
  steps: z.number().int().min(1).max(1_000_000).default(20),
  /** Training tasks per step. @default 8 */
  tasksPerStep: z.number().int().min(1).max(100_000).default(8),
  /** Rollouts per task: the group its advantages are computed in (at least 2). @default 8 */
  groupSize: z.number().int().min(2).max(1024).default(8),
  /** How advantages are computed within a group. @default { scaleByStd: false, epsilon: 1e-6 } */
  advantage: z
    .strictObject({
      /** Divide by the group's standard deviation. @default false */
      scaleByStd: z.boolean().default(false),
      /** Added to the standard deviation before dividing. @default 1e-6 */
      epsilon: z.number().positive().default(1e-6),
    })
    .prefault({}),
  /** Score `val` every this many steps, before the first and after the last; 0 never. @default 5 */
  evalEvery: z.number().int().min(0).default(5),
  /** Most validation tasks per evaluation. @default all of `val` */
  evalTasks: z.number().int().min(1).optional(),
  /** The llm resource the agent reads with `ctx.llm(name)`; APO-style prompt resources are kept. @default "main" */
  llmResource: IdSchema.default("main"),
  /** Request fields the gateway sets per mode. @default temperature 1 for train, 0 for val and test */
  sampling: SamplingByModeSchema,
  /** A running gateway to use, or where to start one. @default { port: 0 }: loopback, a free port */
  gateway: z
    .union([z.custom<Gateway>(isGateway, "expected a Gateway from startGateway()"), z.strictObject({
        /** The interface the gateway RL starts listens on. @default "127.0.0.1" */
        host: z.string().optional(),
        /** Its port; 0 picks a free one. @default 0 */
        port: z.number().int().min(0).max(65535).optional(),
      })])
    .default({ port: 0 }),
  /** Failed rollouts of these kinds are left out of the batch; others count with reward 0. @default the infrastructure's faults: infra_error, unresponsive, timeout, cancelled */
  dropFailures: z.array(FailureKindSchema).default(["infra_error", "unresponsive", "timeout", "cancelled"]),
  /** Ask the backend to checkpoint every this many steps; 0 never (the last step always when the backend can). @default 0 */
  checkpointEvery: z.number().int().min(0).default(0),
  /** Seeds which tasks each step takes. @default 0 */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** Names the run's rollouts; pass an earlier run's id to resume it (rollouts the store has are not run again). @default a new id */
  runId: IdSchema.max(64).optional(),
  /**
   * DAPO-style dynamic sampling: a group whose rollouts all scored alike carries no signal, so the
   * step runs further groups (other training tasks, in a seeded order) until it has `tasksPerStep`
   * groups with signal or `maxExtraRounds` refills were run; groups without signal stay out of the
   * batch. `false` turns it off (such groups are still left out: their advantages are all zero).
   * @default { maxExtraRounds: 3, collapseSteps: 3 }
   */
  dynamicSampling: z
    .union([
      z.literal(false),
      z.strictObject({
        /** Refill rounds per step at most (each runs as many new groups as signal groups are missing). @default 3 */
        maxExtraRounds: z.number().int().min(0).max(100).default(3),
        /** Warn that the run has collapsed after this many consecutive steps without any signal, refills included. @default 3 */
        collapseSteps: z.number().int().min(1).max(1_000_000).default(3),
      }),
    ])
    .default({ maxExtraRounds: 3, collapseSteps: 3 }),
  /**
   * `sync`: rollouts wait for each update and the gateway pauses around it (every sample from the
   * current policy). `async`: the next step's rollouts run while the backend trains, the gateway
   * switching versions without pausing; needs a backend with `capabilities.serves_while_training`.
   * @default "sync"
   */
  mode: z.enum(["sync", "async"]).default("sync"),
  /** In `async` mode, rollouts with a sample more than this many policy versions behind the update are dropped (counted as `dropped.stale`). @default 1 */
  maxStaleness: z.number().int().min(0).max(1000).default(1),
  /**
   * Hyperparameters sent with each update (`TrainRequest.hyperparameters`): a record, or a function
   * of the step returning one. Names must be among the backend's `info().hyperparameters`.
   */
  hyperparameters: z
    .union([HyperparametersSchema, z.custom<(step: number) => Hyperparameters>((v) => typeof v === "function", "expected a record of hyperparameters or a function of the step returning one")])
    .optional(),
  /** A backend checkpoint id to start from (`backend.restore`; needs `capabilities.restore`). */
  restore: z.string().min(1).max(256).optional(),
  /**
   * A penalty for long rollouts, added to each rollout's reward before advantages: `linear`
   * (`perToken` past `freeTokens`) or DAPO's `overlong` soft penalty (`maxTokens`, `buffer`,
   * `coefficient`). The length is the rollout's sampled tokens. Recorded per step
   * (`lengthPenalty`), and each sample sends its original `reward` beside its `shaped_reward`.
   * @default no penalty
   */
  lengthPenalty: LengthPenaltySchema.optional(),
  /** USD per million tokens by model, merged over `DEFAULT_PRICES`, for the steps' cost figures. @default {} */
  prices: z.record(z.string().min(1), PriceSchema).default({}),
});

export type RLOptions = z.input<typeof RLOptionsSchema>;
export type ParsedRLOptions = z.output<typeof RLOptionsSchema>;

export function parseRLOptions(options: RLOptions): ParsedRLOptions {
  return parseOrThrow(RLOptionsSchema, options, "RL options");
}
