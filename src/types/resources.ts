import { z } from "zod";
import { IdSchema, PolicyVersionSchema, TimestampSchema } from "./common.js";
import { JsonObjectSchema, JsonValueSchema } from "./json.js";

/** A prompt template. `mustache` uses `{{name}}`, `fstring` uses Python-style `{name}`. */
export const PromptTemplateResourceSchema = z.strictObject({
  kind: z.literal("prompt_template"),
  template: z.string(),
  engine: z.enum(["mustache", "fstring"]).default("mustache"),
});
export type PromptTemplateResource = z.infer<typeof PromptTemplateResourceSchema>;

/** An OpenAI-compatible LLM endpoint. `policyVersion` names the weights behind it (RL). */
export const LlmResourceSchema = z.strictObject({
  kind: z.literal("llm"),
  baseUrl: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  model: z.string().min(1),
  apiKey: z.string().optional(),
  sampling: JsonObjectSchema.optional(),
  policyVersion: PolicyVersionSchema.optional(),
});
export type LlmResource = z.infer<typeof LlmResourceSchema>;

/** Any JSON value an agent reads (few-shot examples, thresholds, tool settings). */
export const JsonResourceSchema = z.strictObject({
  kind: z.literal("json"),
  value: JsonValueSchema,
});
export type JsonResource = z.infer<typeof JsonResourceSchema>;

export const ResourceSchema = z.discriminatedUnion("kind", [PromptTemplateResourceSchema, LlmResourceSchema, JsonResourceSchema]);
export type Resource = z.infer<typeof ResourceSchema>;
export type ResourceInput = z.input<typeof ResourceSchema>;

/** Named resources, e.g. `{ system: {kind: "prompt_template", …}, main: {kind: "llm", …} }`. */
export const ResourcesMapSchema = z.record(IdSchema, ResourceSchema);
export type ResourcesMap = z.infer<typeof ResourcesMapSchema>;
export type ResourcesMapInput = z.input<typeof ResourcesMapSchema>;

/** An immutable, versioned snapshot of resources. `version` counts up from 1 across the store. */
export const ResourcesSnapshotSchema = z.object({
  resourcesId: IdSchema,
  version: z.number().int().min(1),
  createdAt: TimestampSchema,
  resources: ResourcesMapSchema,
});
export type ResourcesSnapshot = z.infer<typeof ResourcesSnapshotSchema>;
