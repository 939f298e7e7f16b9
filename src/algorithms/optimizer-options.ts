/**
 * The options APO and GEPA share, as zod fields both schemas spread: the optimizer model's client,
 * budgets, prices, seed and concurrency mean the same in both, so they are written once.
 */
import { z } from "zod";
import { IdSchema, PromptTemplate, type ResourcesMap } from "../types/index.js";
import { hasMethods } from "../util/index.js";
import { DEFAULT_PRICES } from "./budget.js";
import type { OptimizerClient } from "./optimizer.js";

const positiveInt = z.number().int().min(1);

function isOptimizerClient(value: unknown): value is OptimizerClient {
  return hasMethods((value as { chat?: { completions?: unknown } } | null | undefined)?.chat?.completions, ["create"]);
}

export const PriceSchema = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });

export const OPTIMIZER_OPTION_FIELDS = {
  /** The optimizer model's client: an `openai` SDK instance, or any object with `chat.completions.create`. */
  client: z.custom<OptimizerClient>(isOptimizerClient, "expected an OpenAI client: an object with chat.completions.create()"),
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
  /** Names the run's rollouts and snapshots; pass an earlier run's id to resume it. @default a new id */
  runId: IdSchema.max(64).optional(),
};

/** The price table a run uses: the defaults, corrected or extended by the user's. */
export function priceTable(prices: Record<string, z.output<typeof PriceSchema>>): Record<string, z.output<typeof PriceSchema>> {
  return { ...DEFAULT_PRICES, ...prices };
}

/** Issues with user-supplied instructions (mustache) that use variables `algorithm` does not fill, or miss ones it needs. */
export function checkInstructions(algorithm: string, path: string, templates: readonly string[], variables: { allowed: string[]; required: string[] }): Array<{ path: string; message: string }> {
  return templates.flatMap((template, i) => {
    const used = new PromptTemplate(template, "mustache").variables();
    const unknown = used.filter((name) => !variables.allowed.includes(name));
    const missing = variables.required.filter((name) => !used.includes(name));
    return [
      ...(unknown.length > 0 ? [{ path: `${path}[${i}]`, message: `uses {{${unknown.join("}}, {{")}}}, which ${algorithm} does not fill (it fills ${variables.allowed.join(", ")})` }] : []),
      ...(missing.length > 0 ? [{ path: `${path}[${i}]`, message: `must use {{${missing.join("}} and {{")}}}` }] : []),
    ];
  });
}

/** Issues for each name under `path` that is not a prompt_template of `resources` (APO's targets, GEPA's components). */
export function templateNameIssues(resources: ResourcesMap, names: readonly string[], path: string, templates: readonly string[]): Array<{ path: string; message: string }> {
  return names.flatMap((name, i) => {
    const resource = resources[name];
    if (resource?.kind === "prompt_template") return [];
    const why = resource ? `is a '${resource.kind}' resource, not a prompt_template` : "is not in initialResources";
    return [{ path: `${path}[${i}]`, message: `'${name}' ${why} (prompt templates: ${templates.join(", ") || "none"})` }];
  });
}
