import type { JsonValue, LlmResource, Resource, ResourcesMap, RolloutMode } from "../types/index.js";
import { NotFoundError } from "../types/index.js";
import { PromptTemplate } from "../types/index.js";
import type { AgentContext } from "./agent.js";

/** Builds the context an agent runs with. Lookups fail with errors that list what does exist. */
export function createAgentContext(init: {
  rolloutId: string;
  attemptId: string;
  /** The attempt's sequence number (1-based); a context made outside a runner is a first attempt. */
  sequence?: number;
  mode: RolloutMode;
  resources: ResourcesMap;
  signal: AbortSignal;
  /** The API key for a rollout-scoped LLM resource (a gateway's per-rollout key), if the runner can mint one. */
  llmKey?: (ids: { rolloutId: string; attemptId: string }) => string | undefined;
  /** Told the name of each prompt template the agent reads (coverage tells read prompts from substituted ones). */
  onPromptRead?: (name: string) => void;
}): AgentContext {
  const { resources } = init;
  const named = <K extends Resource["kind"]>(kind: K, name: string | undefined): [string, Extract<Resource, { kind: K }>] => {
    if (name !== undefined) {
      const resource = resources[name];
      if (resource?.kind === kind) return [name, resource as Extract<Resource, { kind: K }>];
      throw new NotFoundError("resources", name, `${resource ? `resource '${name}' is a ${resource.kind}, not a ${kind}` : `no resource named '${name}'`}; ${describe(resources)}`);
    }
    const matching = Object.entries(resources).filter(([, r]) => r.kind === kind);
    if (matching.length === 1) return matching[0] as [string, Extract<Resource, { kind: K }>];
    const problem = matching.length === 0 ? `there is no ${kind} resource` : `there are several ${kind} resources (${matching.map(([n]) => n).join(", ")}); name the one you want`;
    throw new NotFoundError("resources", kind, `${problem}; ${describe(resources)}`);
  };
  const pick = <K extends Resource["kind"]>(kind: K, name: string | undefined): Extract<Resource, { kind: K }> => named(kind, name)[1];
  return {
    rollout: { rolloutId: init.rolloutId, attemptId: init.attemptId, attempt: init.sequence ?? 1, mode: init.mode },
    resources,
    signal: init.signal,
    llm: (name?: string): LlmResource => scopeLlm(pick("llm", name), init),
    prompt: (name?: string): PromptTemplate => {
      const [found, resource] = named("prompt_template", name);
      init.onPromptRead?.(found);
      return PromptTemplate.from(resource);
    },
    json: (name: string): JsonValue => pick("json", name).value,
  };
}

/**
 * An LLM resource whose base URL holds `{rolloutId}` / `{attemptId}` (a gateway's, see
 * `Gateway.llmResource`) is filled in for this attempt, so the agent's calls are attributed to it;
 * it gets a per-rollout key too when the runner can mint one and the resource names no key.
 */
function scopeLlm(resource: LlmResource, init: { rolloutId: string; attemptId: string; llmKey?: (ids: { rolloutId: string; attemptId: string }) => string | undefined }): LlmResource {
  if (!PLACEHOLDER.test(resource.baseUrl)) return resource;
  const ids = { rolloutId: init.rolloutId, attemptId: init.attemptId };
  // A URL that went through the URL parser has its braces percent-encoded; both forms are filled.
  const baseUrl = resource.baseUrl.replace(PLACEHOLDERS, (_, name: string) => encodeURIComponent(ids[name as keyof typeof ids]));
  const apiKey = resource.apiKey ?? init.llmKey?.(ids);
  return { ...resource, baseUrl, ...(apiKey === undefined ? {} : { apiKey }) };
}

const PLACEHOLDER = /(?:\{|%7[Bb])(?:rolloutId|attemptId)(?:\}|%7[Dd])/;
const PLACEHOLDERS = /(?:\{|%7[Bb])(rolloutId|attemptId)(?:\}|%7[Dd])/g;

function describe(resources: ResourcesMap): string {
  const entries = Object.entries(resources);
  return entries.length === 0 ? "this rollout has no resources" : `available: ${entries.map(([n, r]) => `${n} (${r.kind})`).join(", ")}`;
}
