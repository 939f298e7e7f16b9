/**
 * The reflection step: the reflection model reads one component's reflective dataset — the runs
 * it shaped, with their rewards — and rewrites that component in one call (GEPA's reflective
 * mutation). The answer goes through the same checks as APO's edits.
 */
import { PromptTemplate, type PromptTemplateResource } from "../../types/index.js";
import { requestEdit, type EditOutcome } from "../edit-request.js";
import type { Optimizer } from "../optimizer.js";
import { engineNote, placeholderList } from "../template-check.js";

/** The variables the reflection instruction may use, and those it must. */
export const REFLECTION_VARIABLES = { allowed: ["component", "template", "runs", "score", "placeholders", "engine"], required: ["template", "runs"] };

export const DEFAULT_REFLECTION_PROMPT = `You are improving one component, "{{component}}", of an AI agent: a text the agent is given, such as its system prompt, a request template or the description of a tool it may call. The agent ran on a few tasks; below is every run this component shaped: the task, the tools offered, what the agent did (messages, tool calls and their results), its output, the reward it earned (higher is better) and, where the evaluator gave it, its feedback.

Current template:
"""
{{template}}
"""

Mean reward on these runs: {{score}}

{{runs}}

Read the runs with low reward against those with high reward, and the feedback. Work out which facts, rules or checks the template fails to state that would have turned the failures into successes, and which general strategy the successful runs followed. Then write an improved template that states them, keeps what already works, and would help on other tasks of this kind, not only these.

Keep every placeholder exactly as written: {{placeholders}}. Add no new placeholder ({{engine}}).
Return the complete new template between <template> and </template>.`;

export interface ReflectionRequest {
  optimizer: Optimizer;
  model: string;
  instruction: string;
  component: string;
  parent: PromptTemplateResource;
  /** The rendered reflective dataset, and the runs' mean reward. */
  runs: string;
  score: number;
  maxLength: number;
  signal: AbortSignal;
  seed: number;
  /** Names this proposal in the run: each proposal samples with its own seed. */
  label: string;
}

/** The reflection instruction, filled in. */
export function reflectionPrompt(request: Pick<ReflectionRequest, "instruction" | "component" | "parent" | "runs" | "score">): string {
  return new PromptTemplate(request.instruction, "mustache").format({
    component: request.component,
    template: request.parent.template,
    runs: request.runs,
    score: request.score.toFixed(3),
    placeholders: placeholderList(request.parent.template, request.parent.engine),
    engine: engineNote(request.parent.engine),
  });
}

/** Asks for the rewritten component. Throws when the reflection call itself fails. */
export function reflect(request: ReflectionRequest): Promise<EditOutcome> {
  return requestEdit({
    optimizer: request.optimizer,
    model: request.model,
    prompt: reflectionPrompt(request),
    parent: request.parent,
    maxLength: request.maxLength,
    signal: request.signal,
    seed: request.seed,
    label: request.label,
  });
}
