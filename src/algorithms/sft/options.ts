/** What `new SFT({...})` accepts, as one zod schema. */
import { z } from "zod";
import { IdSchema, LlmResourceSchema, parseOrThrow } from "../../types/index.js";
import { hasMethods } from "../../util/index.js";
import { PriceSchema } from "../optimizer-options.js";
import { HyperparametersSchema, SamplingByModeSchema, type TrainingBackend } from "../rl/index.js";

function isSupervisingBackend(value: unknown): value is TrainingBackend {
  return hasMethods(value, ["info", "endpoints", "supervise", "checkpoint", "close"]);
}

/** A teacher model reached over an OpenAI-compatible API. */
const TeacherSchema = z.strictObject({
  /** Up to and including `/v1`. */
  baseUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  /** The teacher's model name. */
  model: z.string().min(1),
  /** Sent upstream as `Authorization: Bearer …`. */
  apiKey: z.string().min(1).optional(),
});

export const SFTFilterSchema = z.strictObject({
  /**
   * Keep rollouts whose reward is at least this; null keeps every reward (a plain SFT control: the
   * policy imitates itself and learns nothing on average). @default 1
   */
  minReward: z.number().nullable().default(1),
  /** Keep at most this many rollouts per task group (the best, ties broken by rollout id). @default all that pass `minReward` */
  topK: z.number().int().min(1).max(1024).optional(),
  /** Train only on the calls of these agents (the adapter's `agents` option); a rollout without one is left out. @default every agent */
  agents: z.array(z.string().min(1)).min(1).optional(),
});
export type SFTFilter = z.input<typeof SFTFilterSchema>;
export type ParsedSFTFilter = z.output<typeof SFTFilterSchema>;

export const SFTOptionsSchema = z.strictObject({
  /** Where the weights are trained: a backend with `supervise()` (`ReferenceBackend`, `HttpTrainingBackend` to a server with `capabilities.supervised`). */
  backend: z.custom<TrainingBackend>(isSupervisingBackend, "expected a TrainingBackend with supervise(): an object with info(), endpoints(), supervise(), checkpoint() and close()"),
  /** Rounds of sample → filter → supervised update → evaluate. @default 5 */
  rounds: z.number().int().min(1).max(100_000).default(5),
  /** Training tasks per round. @default 8 */
  tasksPerRound: z.number().int().min(1).max(100_000).default(8),
  /** Rollouts per task: the group `topK` picks from. @default 4 */
  samplesPerTask: z.number().int().min(1).max(1024).default(4),
  /** Which rollouts are trained on. @default { minReward: 1 } */
  filter: SFTFilterSchema.prefault({}),
  /**
   * Distillation: collect the training rollouts with this model (an `llm` resource, or its base
   * URL and model name) instead of the student's; the student — the backend's endpoints — is
   * trained on them (as chat samples: the teacher's tokens are not the student's) and evaluated.
   */
  teacher: z.union([TeacherSchema, LlmResourceSchema]).optional(),
  /**
   * `tokens`: exact token samples with loss masks (every selected call needs token ids);
   * `chat`: chat samples the backend renders; `auto`: tokens when every kept call has token ids
   * and the backend takes them, else chat. @default "auto"
   */
  samples: z.enum(["auto", "tokens", "chat"]).default("auto"),
  /** Score `val` every this many rounds, before the first and after the last; 0 never. @default 1 */
  evalEvery: z.number().int().min(0).default(1),
  /** Most validation tasks per evaluation. @default all of `val` */
  evalTasks: z.number().int().min(1).optional(),
  /** The llm resource the agent reads with `ctx.llm(name)`; prompt resources are kept. @default "main" */
  llmResource: IdSchema.default("main"),
  /** Request fields the gateway sets per mode (a teacher's calls take `train`'s). @default temperature 1 for train, 0 for val and test */
  sampling: SamplingByModeSchema,
  /** Hyperparameters sent with each update (`SuperviseRequest.hyperparameters`); names must be among the backend's `info().hyperparameters`. */
  hyperparameters: HyperparametersSchema.optional(),
  /** Ask the backend to checkpoint every this many rounds; 0 never (the last round always when the backend can). @default 0 */
  checkpointEvery: z.number().int().min(0).default(0),
  /** Seeds which tasks each round takes. @default 0 */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** Names the run's rollouts; pass an earlier run's id to resume it (rollouts the store has are not run again). @default a new id */
  runId: IdSchema.max(64).optional(),
  /** USD per million tokens by model, merged over `DEFAULT_PRICES`, for the rounds' cost figures. @default {} */
  prices: z.record(z.string().min(1), PriceSchema).default({}),
});

export type SFTOptions = z.input<typeof SFTOptionsSchema>;
export type ParsedSFTOptions = z.output<typeof SFTOptionsSchema>;

export function parseSFTOptions(options: SFTOptions): ParsedSFTOptions {
  return parseOrThrow(SFTOptionsSchema, options, "SFT options");
}
