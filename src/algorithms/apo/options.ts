/** What `new APO({...})` accepts, as one zod schema: the types are inferred from it, and bad options get a ValidationError naming the field. */
import { z } from "zod";
import { IdSchema, parseOrThrow, ValidationError } from "../../types/index.js";
import { PromptTemplate } from "../../types/index.js";
import type { OptimizerClient } from "./optimizer.js";
import { DEFAULT_PRICES } from "./budget.js";
import { DEFAULT_PROMPTS } from "./prompts.js";
import { hasMethods } from "../../util/index.js";

const positiveInt = z.number().int().min(1);

function isOptimizerClient(value: unknown): value is OptimizerClient {
  return hasMethods((value as { chat?: { completions?: unknown } } | null | undefined)?.chat?.completions, ["create"]);
}

const PriceSchema = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });

export const APOOptionsSchema = z.strictObject({
  /** The optimizer model's client: an `openai` SDK instance, or any object with `chat.completions.create`. */
  client: z.custom<OptimizerClient>(isOptimizerClient, "expected an OpenAI client: an object with chat.completions.create()"),
  /** The optimizer model, for critiques and edits. @default "gpt-4.1-mini" */
  model: z.string().min(1).default("gpt-4.1-mini"),
  /** A different model for critiques. @default `model` */
  critiqueModel: z.string().min(1).optional(),
  /** A different model for edits. @default `model` */
  editModel: z.string().min(1).optional(),
  /** The prompt_template resources to optimize. @default every prompt template in `initialResources` */
  targets: z.array(z.string().min(1)).min(1).optional(),
  /** Beam search rounds. @default 3 */
  rounds: positiveInt.max(1000).default(3),
  /** Candidates kept after each round. @default 4 */
  beamWidth: positiveInt.max(100).default(4),
  /** Children each beam member gets per round. @default 4 */
  branchFactor: positiveInt.max(100).default(4),
  /** Training tasks each beam member runs so the optimizer can read its failures. @default 4 */
  gradientBatchSize: positiveInt.max(1000).default(4),
  /** How candidates are scored on `val`. @default successive halving from 4 tasks, eta 2 */
  evaluation: z
    .strictObject({
      /** `successive-halving` stops bad candidates early; `full` runs every candidate on a fresh batch each round (Agent Lightning's way). @default "successive-halving" */
      strategy: z.enum(["successive-halving", "full"]).default("successive-halving"),
      /** Successive halving: tasks every candidate runs first. @default 4 */
      startTasks: positiveInt.default(4),
      /** Successive halving: each rung keeps 1/eta of the field and runs eta× the tasks. @default 2 */
      eta: z.number().min(1.1).max(16).default(2),
      /** Most validation tasks per candidate; for `full`, the batch size. @default all of `val` */
      maxTasks: positiveInt.optional(),
    })
    .prefault({}),
  /** Stop before running more rollouts than this, the final check included. @default no limit */
  maxRollouts: positiveInt.optional(),
  /** Stop before the optimizer's calls pass this many tokens (prompt + answer, counted with the o200k tokenizer). @default no limit */
  maxOptimizerTokens: positiveInt.optional(),
  /** Stop before spending more than this many US dollars: optimizer calls plus the agent's own LLM calls. @default no limit */
  maxUsd: z.number().positive().optional(),
  /** USD per million tokens by model, merged over {@link DEFAULT_PRICES}. @default {} */
  prices: z.record(z.string().min(1), PriceSchema).default({}),
  /** Longest template an edit may produce, in characters. @default 3× the longest seed template, at least 4000 */
  maxTemplateLength: positiveInt.optional(),
  /** Seeds every random choice (minibatches, instruction variants, task order): same seed and a deterministic LLM, same run. @default 0 */
  seed: z.number().int().min(0).max(0xffffffff).default(0),
  /** Optimizer calls in flight at once. @default 4 */
  concurrency: positiveInt.max(256).default(4),
  /**
   * Optimizer sampling temperature. Not sent unless given: the provider's default (1 at OpenAI)
   * varies children, and reasoning models refuse the parameter altogether.
   * @default not sent
   */
  temperature: z.number().min(0).max(2).optional(),
  /** Longest optimizer answer, in tokens. @default 2048 */
  maxOutputTokens: positiveInt.max(128_000).default(2048),
  /** Your own critique and edit instructions (mustache; see the README for their variables). @default {}: the built-in {@link DEFAULT_PROMPTS} */
  prompts: z
    .strictObject({ critique: z.array(z.string().min(1)).min(1).optional(), edit: z.array(z.string().min(1)).min(1).optional() })
    .default({}),
  /** Which template a child edits: the one the critique blames (`TARGET: name`) or strictly in turn. @default "blame" */
  targetChoice: z.enum(["blame", "round-robin"]).default("blame"),
  /** Names the run's rollouts and snapshots; pass an earlier run's id to resume it. @default a new id */
  runId: IdSchema.max(64).optional(),
});

export type APOOptions = z.input<typeof APOOptionsSchema>;
export type ParsedAPOOptions = z.output<typeof APOOptionsSchema>;

const CRITIQUE_VARIABLES = { allowed: ["target", "template", "targets", "experiments", "score"], required: ["template", "experiments"] };
const EDIT_VARIABLES = { allowed: ["target", "template", "critique", "placeholders", "engine"], required: ["template", "critique"] };

/** Parses the options and checks user-supplied instructions use only the variables APO fills. */
export function parseOptions(options: APOOptions): ParsedAPOOptions & { instructions: { critique: readonly string[]; edit: readonly string[] }; priceTable: Record<string, z.output<typeof PriceSchema>> } {
  const parsed = parseOrThrow(APOOptionsSchema, options, "APO options");
  const critique = parsed.prompts.critique ?? DEFAULT_PROMPTS.critique;
  const edit = parsed.prompts.edit ?? DEFAULT_PROMPTS.edit;
  const issues = [...checkInstructions("prompts.critique", critique, CRITIQUE_VARIABLES), ...checkInstructions("prompts.edit", edit, EDIT_VARIABLES)];
  if (issues.length > 0) throw new ValidationError("APO options", issues);
  return { ...parsed, instructions: { critique, edit }, priceTable: { ...DEFAULT_PRICES, ...parsed.prices } };
}

function checkInstructions(path: string, templates: readonly string[], variables: { allowed: string[]; required: string[] }) {
  return templates.flatMap((template, i) => {
    const used = new PromptTemplate(template, "mustache").variables();
    const unknown = used.filter((name) => !variables.allowed.includes(name));
    const missing = variables.required.filter((name) => !used.includes(name));
    return [
      ...(unknown.length > 0 ? [{ path: `${path}[${i}]`, message: `uses {{${unknown.join("}}, {{")}}}, which APO does not fill (it fills ${variables.allowed.join(", ")})` }] : []),
      ...(missing.length > 0 ? [{ path: `${path}[${i}]`, message: `must use {{${missing.join("}} and {{")}}}` }] : []),
    ];
  });
}
