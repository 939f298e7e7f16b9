/**
 * The simulated reflection model for GEPA, for offline runs. It reads the runs in the reflection
 * prompt as a reviewer would — each failed run's request, the invoices the customer has and the
 * outcome the task expected — and finds the billing rules that, stated in the template, would have
 * turned a failure into a success (`evidencedBillingRules`). It appends up to two of them, the
 * best-evidenced first; with nothing to fix it adds a sentence that changes nothing. It knows the
 * billing policy only: a template of another agent gets the useless sentence.
 */
import { type Reply, type ResponderRequest, stableHash } from "tracetrain/testing";
import { requestText, TaskSchema } from "../tasks.js";
import { parseJson } from "./json.js";
import { BILLING_RULES, type BillingRuleId, billingRulesStated, evidencedBillingRules } from "./rules.js";

/** Whether a request is a GEPA reflection call (it asks for the new template between tags). */
export function isReflection({ lastUserText }: Pick<ResponderRequest, "lastUserText">): boolean {
  return lastUserText.includes("</template>") && lastUserText.includes("### Run ");
}

export function reflectionResponder({ lastUserText, body }: ResponderRequest): Reply {
  // Like a sampling model, answers to one prompt vary — here with the call's `seed`, so they repeat.
  const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
  const template = /"""\n([\s\S]*?)\n"""/.exec(lastUserText)?.[1] ?? "";
  const component = /component,? "([^"]+)"/.exec(lastUserText)?.[1];
  const fixes = component === "billing" ? chooseFixes(rankedFixes(lastUserText, template), sample) : [];
  const sentences = fixes.map((id) => BILLING_RULES.find((rule) => rule.id === id)!.sentence);
  const text = sentences.length > 0 ? [template, ...sentences].join("\n") : `${template}\n${USELESS[sample % USELESS.length]}`;
  return { text: `<template>\n${text}\n</template>` };
}

const USELESS = ["Be polite and thorough.", "Read the customer's message carefully.", "Double-check your answer before replying.", "Keep your reply short."];

/** The rules the failed runs give evidence for, with how many runs each would have fixed, most first. */
export function rankedFixes(prompt: string, template: string): BillingRuleId[] {
  const known = billingRulesStated(template);
  const counts = new Map<BillingRuleId, number>();
  for (const run of failedRuns(prompt)) {
    for (const rule of evidencedBillingRules(run.request, run.invoices, run.expected, known)) counts.set(rule, (counts.get(rule) ?? 0) + 1);
  }
  const order = (id: BillingRuleId) => BILLING_RULES.findIndex((rule) => rule.id === id);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || order(a[0]) - order(b[0])).map(([id]) => id);
}

/** Up to two fixes, starting from one of the two strongest, so that sibling proposals explore different fixes. */
function chooseFixes(ranked: readonly BillingRuleId[], sample: number): BillingRuleId[] {
  if (ranked.length === 0) return [];
  const start = sample % Math.min(2, ranked.length);
  return [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
}

/** The failed billing runs of the prompt: the task line of each run block whose reward is below 1. */
function failedRuns(prompt: string) {
  return prompt
    .split(/^### Run \d+: /m)
    .slice(1)
    .flatMap((block) => {
      const reward = Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0");
      const task = TaskSchema.safeParse(parseJson(/^Task: (.*)$/m.exec(block)?.[1] ?? ""));
      // A task clipped for length cannot be replayed; the other runs still count.
      if (reward >= 1 || !task.success || task.data.expected.agent !== "billing") return [];
      return [{ request: requestText(task.data), invoices: task.data.records.invoices ?? [], expected: task.data.expected.action }];
    });
}
