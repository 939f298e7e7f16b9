/** What `new GEPA({...})` accepts, as one zod schema: types are inferred from it, and bad options get a ValidationError naming the field. */
import { z } from "zod";
import { parseOrThrow, ValidationError } from "../../types/index.js";
import { checkInstructions, OPTIMIZER_OPTION_FIELDS, priceTable } from "../optimizer-options.js";
import { DEFAULT_REFLECTION_PROMPT, REFLECTION_VARIABLES } from "./reflection.js";

const positiveInt = z.number().int().min(1);

export const GEPAOptionsSchema = z.strictObject({
  ...OPTIMIZER_OPTION_FIELDS,
  /** The reflection model, which reads a component's runs and rewrites it. @default "gpt-4.1-mini" */
  model: z.string().min(1).default("gpt-4.1-mini"),
  /**
   * The resources to evolve, by name (prompt templates). @default the prompt templates the agent
   * actually used: those whose text shaped an LLM call of the seed's first minibatch
   */
  components: z.array(z.string().min(1)).min(1).optional(),
  /**
   * Selective optimization of a multi-agent system: only the components whose text shaped calls of
   * these agents (exact names, or a RegExp tested on the name — as the adapters select) are
   * evolved, and their reflections show only those agents' calls; the others stay fixed and are
   * reported with the agents that use them. Ignored for the choice of components when
   * `components` names them. @default the trainer adapter's own `agents` selection (every agent)
   */
  agents: z.union([z.array(z.string().min(1)).min(1), z.instanceof(RegExp)]).optional(),
  /**
   * Which component a proposal rewrites: `round-robin` takes each parent's components in turn (as
   * GEPA does); `blame` takes the one the evaluator's feedback on the parent's minibatch names
   * (by its resource name), in turn when it names none or several equally. @default "round-robin"
   */
  componentChoice: z.enum(["round-robin", "blame"]).default("round-robin"),
  /**
   * Training tasks a parent (and then its child, on the same tasks) runs per proposal. Small
   * minibatches make proposals cheap, so a budget buys many of them; raise it when rewards are so
   * noisy that one task cannot show a change. @default 2
   */
  minibatchSize: positiveInt.max(1000).default(2),
  /**
   * Validation tasks every accepted candidate is scored on; the Pareto front is kept per task.
   * @default all the validation tasks the search may use, at most 32 — and, with `maxRollouts`,
   * at most an eighth of the rollouts left after the final check (at least 8), so that scoring
   * accepted candidates does not eat the budget proposals need
   */
  paretoTasks: positiveInt.max(10_000).optional(),
  /**
   * Earlier training runs of the parent the reflection reads besides its minibatch (its gate runs
   * as a child, its minibatches as a parent; most recent first, other tasks only): more evidence
   * per reflection call at no rollout cost. 0 shows the minibatch only, as the GEPA paper does.
   * @default 8
   */
  reflectionHistory: z.number().int().min(0).max(1000).default(8),
  /**
   * Proposals (iterations) at most. The budgets (`maxRollouts`, `maxOptimizerTokens`, `maxUsd`)
   * usually end a run first; this bounds a run with none set. @default 20
   */
  maxProposals: positiveInt.max(100_000).default(20),
  /**
   * The highest reward a task can give: a parent that reaches it on every minibatch task leaves
   * nothing to reflect on, so that proposal ends there (no reflection call, no child run). `null`
   * when rewards have no ceiling. @default 1
   */
  perfectScore: z.number().nullable().default(1),
  /**
   * System-aware merges at most: after each accepted rewrite, the next iteration combines two
   * Pareto-front candidates that evolved different components (if a pair qualifies). 0 disables
   * merging. @default 5
   */
  maxMerges: z.number().int().min(0).max(1000).default(5),
  /**
   * What the Pareto front keeps a candidate for, per validation task: `["reward"]` — the best
   * score; `["reward", "tokens"]` — not being dominated on (score, tokens its rollout spent): a
   * cheaper candidate with an equal score stays, one worse on both does not. With tokens, the
   * final pick is the best mean reward, ties going to fewer mean tokens (or see `tokenWeight`).
   * @default ["reward"]
   */
  objectives: z
    .array(z.enum(["reward", "tokens"]))
    .min(1)
    .max(2)
    .refine((o) => o[0] === "reward" && new Set(o).size === o.length, 'must be ["reward"] or ["reward", "tokens"]')
    .default(["reward"]),
  /**
   * With `objectives` `["reward", "tokens"]`: the final pick maximizes mean reward − tokenWeight ×
   * mean tokens / 1000 (the reward you would give up for 1000 fewer tokens per task).
   * @default no weight: best reward, ties by fewer tokens
   */
  tokenWeight: z.number().min(0).optional(),
  /** Your own reflection instruction (mustache; variables `component`, `template`, `runs`, `score`, `placeholders`, `engine`). @default the built-in one */
  reflectionPrompt: z.string().min(1).optional(),
});

export type GEPAOptions = z.input<typeof GEPAOptionsSchema>;

export type GEPASettings = z.output<typeof GEPAOptionsSchema> & { instruction: string; priceTable: ReturnType<typeof priceTable> };

/** Parses the options and checks a user-supplied reflection instruction uses only the variables GEPA fills. */
export function parseGEPAOptions(options: GEPAOptions): GEPASettings {
  const parsed = parseOrThrow(GEPAOptionsSchema, options, "GEPA options");
  const instruction = parsed.reflectionPrompt ?? DEFAULT_REFLECTION_PROMPT;
  const issues = checkInstructions("GEPA", "reflectionPrompt", [instruction], REFLECTION_VARIABLES).map((issue) => ({ ...issue, path: "reflectionPrompt" }));
  if (parsed.tokenWeight !== undefined && !parsed.objectives.includes("tokens")) issues.push({ path: "tokenWeight", message: 'needs objectives ["reward", "tokens"]' });
  if (issues.length > 0) throw new ValidationError("GEPA options", issues);
  return { ...parsed, instruction, priceTable: priceTable(parsed.prices) };
}
