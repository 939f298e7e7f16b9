/**
 * In-flight substitution: how a candidate's prompts reach an agent that does not read them from
 * `ctx.prompt()`. A candidate snapshot carries, in one reserved JSON resource, the seed text of
 * each prompt component it changed and the text to put in its place; inside a rollout of that
 * snapshot, the tracer (and the gateway) replace a system message or tool description that equals
 * the seed text with the candidate's text before the request leaves.
 */
import { z } from "zod";
import { ValidationError } from "./errors.js";
import { parseOrThrow } from "./validate.js";
import { PromptTemplateResourceSchema, type ResourcesMap } from "./resources.js";

/** The resource name under which a candidate snapshot carries its substitutions. Agents can ignore it. */
export const SUBSTITUTIONS_RESOURCE = "tracetrain.substitutions";

export const SubstitutionSchema = z.strictObject({
  /** The prompt_template resource this text belongs to. */
  component: z.string().min(1),
  /** The component's text in the seed resources: what the agent's hard-coded prompt reads. */
  seed: z.string().min(1, "the seed text must not be empty: an empty text would match every empty message"),
  /** The candidate's text, sent in the seed text's place. */
  text: z.string(),
  /** How placeholders are written in both texts (a placeholder in the seed matches any value). */
  engine: PromptTemplateResourceSchema.shape.engine,
});
export type Substitution = z.infer<typeof SubstitutionSchema>;
export type SubstitutionInput = z.input<typeof SubstitutionSchema>;

export const SubstitutionsSchema = z.array(SubstitutionSchema);

/**
 * The substitutions a resources map carries (none when it has no `tracetrain.substitutions`
 * resource). A malformed one is a ValidationError naming the entry and field.
 */
export function substitutionsOf(resources: ResourcesMap): Substitution[] {
  const resource = resources[SUBSTITUTIONS_RESOURCE];
  if (resource === undefined) return [];
  if (resource.kind !== "json") {
    throw new ValidationError(`resource '${SUBSTITUTIONS_RESOURCE}'`, [{ path: "kind", message: `expected a json resource, got ${resource.kind}` }]);
  }
  return parseOrThrow(SubstitutionsSchema, resource.value, `value of resource '${SUBSTITUTIONS_RESOURCE}'`);
}
