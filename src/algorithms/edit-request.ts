/**
 * Asking the optimizer model for a rewritten template and making sure it can be used: an invented
 * placeholder is repaired by rule; a dropped one, an empty reply or one past the length bound is
 * sent back once with the problem stated, then rejected. APO's edits and GEPA's reflections both
 * go through here.
 */
import type { PromptTemplateResource } from "../types/index.js";
import type { BudgetLimit } from "./budget.js";
import { callSeed, type MeteredCall, type Optimizer } from "./optimizer.js";
import { checkEdit, describeProblem, extractTemplate, repairAddedPlaceholders } from "./template-check.js";

export type EditOutcome =
  | { kind: "edit"; template: string; repaired: boolean; calls: MeteredCall[] }
  | { kind: "rejected"; problem: string; calls: MeteredCall[] }
  | { kind: "stopped"; stoppedBy: BudgetLimit; calls: MeteredCall[] };

export interface EditRequest {
  optimizer: Optimizer;
  model: string;
  prompt: string;
  parent: PromptTemplateResource;
  maxLength: number;
  signal: AbortSignal;
  /** The run's seed and this edit's label: each try asks with its own sampling seed. */
  seed: number;
  label: string;
}

/** Throws when the optimizer call itself fails. */
export async function requestEdit(request: EditRequest): Promise<EditOutcome> {
  const calls: MeteredCall[] = [];
  let feedback = "";
  // Two tries at most: the second is told what was wrong with the first.
  for (let attempt = 0; ; attempt++) {
    const reply = await request.optimizer.complete(request.model, request.prompt + feedback, request.signal, callSeed(request.seed, `${request.label}.${attempt}`));
    if (!reply.ok) return { kind: "stopped", stoppedBy: reply.stoppedBy, calls };
    calls.push(reply.call);
    const raw = extractTemplate(reply.text);
    let problem = checkEdit(request.parent, raw, request.maxLength);
    let template = raw;
    if (problem?.kind === "placeholders" && problem.missing.length === 0) {
      template = repairAddedPlaceholders(request.parent, raw);
      problem = checkEdit(request.parent, template, request.maxLength);
    }
    if (problem === undefined) return { kind: "edit", template, repaired: template !== raw || attempt > 0, calls };
    if (attempt === 1) return { kind: "rejected", problem: describeProblem(problem), calls };
    feedback = `\n\nYour previous answer could not be used: ${describeProblem(problem)}. Answer again, following the rules above.`;
  }
}
