/**
 * Making one child of a beam member: a critique of the member's runs (the textual gradient), an
 * edit of one template that applies it, and the checks an edit must pass. An edit that invents a
 * placeholder is repaired by rule; one that drops a placeholder, comes back empty or grows past
 * the length bound is sent back to the optimizer once with the problem stated, then rejected.
 */
import { PromptTemplate } from "../../types/index.js";
import type { BudgetLimit } from "../budget.js";
import { type Candidate, templateOf } from "./candidates.js";
import { callSeed, type MeteredCall, type Optimizer } from "../optimizer.js";
import { randomFor } from "../../util/index.js";
import { engineNote, placeholderList } from "../template-check.js";
import { requestEdit } from "../edit-request.js";

/** What a child is made from. */
export interface ChildRequest {
  id: string;
  round: number;
  parent: Candidate;
  /** The template the critique is asked about (round-robin). */
  target: string;
  /** The parent's runs, described for the optimizer, and their mean reward. */
  experiments: string;
  score: number;
}

export interface ChildSettings {
  optimizer: Optimizer;
  critiqueModel: string;
  editModel: string;
  targets: readonly string[];
  targetChoice: "blame" | "round-robin";
  instructions: { critique: readonly string[]; edit: readonly string[] };
  maxTemplateLength: number;
  seed: number;
  signal: AbortSignal;
}

export type Proposal =
  | { kind: "proposal"; target: string; template: string; critique: string; calls: MeteredCall[]; repaired: boolean }
  | { kind: "rejected"; target: string; problem: string; critique: string; calls: MeteredCall[] }
  | { kind: "stopped"; stoppedBy: BudgetLimit; calls: MeteredCall[] };

/** Asks for a critique, then an edit, and checks it. Throws when the optimizer call itself fails. */
export async function proposeChild(request: ChildRequest, settings: ChildSettings): Promise<Proposal> {
  const calls: MeteredCall[] = [];
  const critiquePrompt = render(pick(settings.instructions.critique, settings.seed, `critique.${request.id}`), {
    target: request.target,
    template: templateOf(request.parent, request.target).template,
    targets: settings.targets.join(", "),
    experiments: request.experiments,
    score: request.score.toFixed(3),
  });
  const critiqueReply = await settings.optimizer.complete(settings.critiqueModel, critiquePrompt, settings.signal, callSeed(settings.seed, `critique.${request.id}`));
  if (!critiqueReply.ok) return { kind: "stopped", stoppedBy: critiqueReply.stoppedBy, calls };
  calls.push(critiqueReply.call);
  const { critique, blamed } = splitBlame(critiqueReply.text);
  const target = settings.targetChoice === "blame" && blamed !== undefined && settings.targets.includes(blamed) ? blamed : request.target;
  const parentTemplate = templateOf(request.parent, target);
  if (critique.trim() === "") return { kind: "rejected", target, problem: "the critique was empty", critique, calls };

  const editPrompt = render(pick(settings.instructions.edit, settings.seed, `edit.${request.id}`), {
    target,
    template: parentTemplate.template,
    critique,
    placeholders: placeholderList(parentTemplate.template, parentTemplate.engine),
    engine: engineNote(parentTemplate.engine),
  });
  const edit = await requestEdit({ optimizer: settings.optimizer, model: settings.editModel, prompt: editPrompt, parent: parentTemplate, maxLength: settings.maxTemplateLength, signal: settings.signal, seed: settings.seed, label: `edit.${request.id}` });
  calls.push(...edit.calls);
  if (edit.kind === "stopped") return { kind: "stopped", stoppedBy: edit.stoppedBy, calls };
  if (edit.kind === "rejected") return { kind: "rejected", target, problem: edit.problem, critique, calls };
  return { kind: "proposal", target, template: edit.template, critique, calls, repaired: edit.repaired };
}

/** The critique without its `TARGET: name` line, and the name it blames. */
export function splitBlame(text: string): { critique: string; blamed: string | undefined } {
  const pattern = /^[ \t*_#>-]*TARGET\s*:[\s*_`"'“]*([A-Za-z0-9][\w.:-]*?)[.*_`"'”]*[ \t.]*$/gim;
  const matches = [...text.matchAll(pattern)];
  return { critique: text.replace(pattern, "").trim(), blamed: matches.at(-1)?.[1] };
}

function pick(variants: readonly string[], seed: number, label: string): string {
  return variants[randomFor(seed, label).below(variants.length)]!;
}

function render(instruction: string, vars: Record<string, string>): string {
  return new PromptTemplate(instruction, "mustache").format(vars);
}
