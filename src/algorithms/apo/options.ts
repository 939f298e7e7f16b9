/** What `new APO({...})` accepts, as one zod schema: the types are inferred from it, and bad options get a ValidationError naming the field. */
import { z } from "zod";
import { parseOrThrow, ValidationError } from "../../types/index.js";
import { checkInstructions, OPTIMIZER_OPTION_FIELDS, priceTable, type PriceSchema } from "../optimizer-options.js";
import { DEFAULT_PROMPTS } from "./prompts.js";

const positiveInt = z.number().int().min(1);

export const APOOptionsSchema = z.strictObject({
  ...OPTIMIZER_OPTION_FIELDS,
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
      /** Most validation tasks per candidate; for `full`, the batch size. @default all of `val` the search may use (not the held-out third when no `test` split is given) */
      maxTasks: positiveInt.optional(),
    })
    .prefault({}),
  /** Your own critique and edit instructions (mustache; docs/prompt-optimization.md lists their variables). @default {}: the built-in {@link DEFAULT_PROMPTS} */
  prompts: z
    .strictObject({
      /** Critique instructions, one variant per entry (a call's variant follows from the seed); variables `target`, `template`, `targets`, `experiments`, `score` — `template` and `experiments` required. @default the built-in critiques */
      critique: z.array(z.string().min(1)).min(1).optional(),
      /** Edit instructions, one variant per entry; variables `target`, `template`, `critique`, `placeholders`, `engine` — `template` and `critique` required. @default the built-in edits */
      edit: z.array(z.string().min(1)).min(1).optional(),
    })
    .default({}),
  /** Which template a child edits: the one the critique blames (`TARGET: name`) or strictly in turn. @default "blame" */
  targetChoice: z.enum(["blame", "round-robin"]).default("blame"),
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
  const issues = [...checkInstructions("APO", "prompts.critique", critique, CRITIQUE_VARIABLES), ...checkInstructions("APO", "prompts.edit", edit, EDIT_VARIABLES)];
  if (issues.length > 0) throw new ValidationError("APO options", issues);
  return { ...parsed, instructions: { critique, edit }, priceTable: priceTable(parsed.prices) };
}
