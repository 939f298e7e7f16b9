/**
 * What a candidate snapshot carries for agents that do not read their prompts from `ctx.prompt()`:
 * for each prompt template it changed, the seed's text (what such an agent hard-codes) and the
 * candidate's, in the reserved `tracetrain.substitutions` resource. The tracer and the gateway
 * then send the candidate's text wherever the agent sends the seed's (see src/tracer/substitute.ts).
 */
import { type JsonResource, type ResourcesMap, type SubstitutionInput, SUBSTITUTIONS_RESOURCE, substitutionsOf } from "../types/index.js";

/**
 * The substitutions resource of a candidate: one entry per prompt template in `components` (every
 * prompt template by default) whose text differs from the seed's; undefined when none does.
 */
export function substitutionsResource(seedResources: ResourcesMap, candidateResources: ResourcesMap, components?: readonly string[]): JsonResource | undefined {
  const names = components ?? Object.keys(candidateResources);
  const entries: SubstitutionInput[] = [];
  for (const component of names) {
    const seed = seedResources[component];
    const candidate = candidateResources[component];
    if (seed?.kind !== "prompt_template" || candidate?.kind !== "prompt_template") continue;
    if (seed.template === candidate.template || seed.template.trim() === "") continue;
    entries.push({ component, seed: seed.template, text: candidate.template, engine: seed.engine });
  }
  return entries.length === 0 ? undefined : { kind: "json", value: entries };
}

/**
 * The seed's texts behind a candidate's resources: each template its substitutions name reads as
 * the seed did. A candidate without substitutions is (as far as templates go) the seed itself.
 */
export function seedResourcesOf(resources: ResourcesMap): ResourcesMap {
  const seed: ResourcesMap = { ...resources };
  delete seed[SUBSTITUTIONS_RESOURCE];
  for (const { component, seed: text } of substitutionsOf(resources)) {
    const resource = seed[component];
    if (resource?.kind === "prompt_template") seed[component] = { ...resource, template: text };
  }
  return seed;
}

/**
 * A child's resources, made from its parent's, with the substitutions resource recomputed against
 * the seed (which the parent's own substitutions record): each candidate carries every change
 * from the seed, not only its own edit.
 */
export function withSubstitutions(parentResources: ResourcesMap, childResources: ResourcesMap): ResourcesMap {
  const { [SUBSTITUTIONS_RESOURCE]: _inherited, ...child } = childResources;
  const resource = substitutionsResource(seedResourcesOf(parentResources), child);
  return resource === undefined ? child : { ...child, [SUBSTITUTIONS_RESOURCE]: resource };
}
