import type { JsonValue, LlmResource, Resource, ResourcesMap, RolloutMode } from "../types/index.js";
import { NotFoundError } from "../types/index.js";
import { PromptTemplate } from "../types/prompt-template.js";
import type { AgentContext } from "./agent.js";

/** Builds the context an agent runs with. Lookups fail with errors that list what does exist. */
export function createAgentContext(init: {
  rolloutId: string;
  attemptId: string;
  mode: RolloutMode;
  resources: ResourcesMap;
  signal: AbortSignal;
}): AgentContext {
  const { resources } = init;
  const pick = <K extends Resource["kind"]>(kind: K, name: string | undefined): Extract<Resource, { kind: K }> => {
    if (name !== undefined) {
      const resource = resources[name];
      if (resource?.kind === kind) return resource as Extract<Resource, { kind: K }>;
      throw new NotFoundError("resources", name, `${resource ? `resource '${name}' is a ${resource.kind}, not a ${kind}` : `no resource named '${name}'`}; ${describe(resources)}`);
    }
    const matching = Object.entries(resources).filter(([, r]) => r.kind === kind);
    if (matching.length === 1) return matching[0]![1] as Extract<Resource, { kind: K }>;
    const problem = matching.length === 0 ? `there is no ${kind} resource` : `there are several ${kind} resources (${matching.map(([n]) => n).join(", ")}); name the one you want`;
    throw new NotFoundError("resources", kind, `${problem}; ${describe(resources)}`);
  };
  return {
    rollout: { rolloutId: init.rolloutId, attemptId: init.attemptId, mode: init.mode },
    resources,
    signal: init.signal,
    llm: (name?: string): LlmResource => pick("llm", name),
    prompt: (name?: string): PromptTemplate => PromptTemplate.from(pick("prompt_template", name)),
    json: (name: string): JsonValue => pick("json", name).value,
  };
}

function describe(resources: ResourcesMap): string {
  const entries = Object.entries(resources);
  return entries.length === 0 ? "this rollout has no resources" : `available: ${entries.map(([n, r]) => `${n} (${r.kind})`).join(", ")}`;
}
