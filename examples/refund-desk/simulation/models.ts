/**
 * Two deterministic, simulated models for the refund desk, served by the mock LLM:
 *
 * - **The agent model** calls `lookup_order` as the tool's description tells it (stripping the
 *   '#', asking for the history — or not), then decides following only the policy rules the
 *   system prompt states. Optional `noise` makes it answer wrongly at a given rate, the same way
 *   for the same prompts, task and repetition; `blind` makes it ignore both texts.
 * - **The optimizer model** answers GEPA's reflection and APO's critique and edit instructions.
 *   It reads the runs in the prompt (task with expected answer — or the evaluator's feedback
 *   line when the task lacks it —, tool calls and results, answer, reward), finds the rules of the component under review that would have turned failures into
 *   successes given what the runs show, and appends them; with nothing to fix it adds a generic,
 *   useless sentence.
 */
import { type Reply, type Responder, requestMessages, stableHash } from "tracetrain/testing";
import { DECISIONS, type Decision, type LookupResult, type RefundRequest } from "../orders.js";
import { type ComponentKind, decideWith, evidencedRules, lookupArguments, type ObservedRun, ruleById, RULES, type RuleId, rulesStated } from "./rules.js";

export interface RefundAgentModelOptions {
  /** Chance of a wrong answer (default 0). */
  noise?: number;
  /** Ignore the system prompt and the tool description: a prompt-blind agent. */
  blind?: boolean;
}


/** The agent model: a `lookup_order` call first, then one decision word. */
export function refundAgentModel(options: RefundAgentModelOptions = {}): Responder {
  const asked = new Map<string, number>();
  return ({ body }) => {
    const messages = requestMessages(body);
    const system = options.blind ? "" : messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n");
    const tool = options.blind ? "" : toolDescription(body);
    const user = messages.filter((m) => m.role === "user").map((m) => m.text).join("\n");
    const request = parseRequest(user);
    if (!request) return { text: "I could not find an order id in the request." };
    const toolResult = messages.findLast((m) => m.role === "tool");
    if (!toolResult) return { toolCalls: [{ name: "lookup_order", arguments: lookupArguments(request, rulesStated(tool, "tool")) }] };
    let result: LookupResult;
    try {
      result = JSON.parse(toolResult.text) as LookupResult;
    } catch {
      result = { error: "unreadable tool result" };
    }
    const choice = decideWith(request, result, rulesStated(system, "system"));
    if (!options.noise) return { text: choice };
    const key = `${system}\u0000${tool}\u0000${user}`;
    const repetition = asked.get(key) ?? 0;
    asked.set(key, repetition + 1);
    const h = stableHash(`${key}\u0000${repetition}`);
    if ((h % 10_000) / 10_000 >= options.noise) return { text: choice };
    const others = DECISIONS.filter((d) => d !== choice);
    return { text: others[h % others.length]! };
  };
}

export interface RefundOptimizerModelOptions {
  /** Which resource holds which component (defaults: `system` and `lookup_tool`). */
  components?: { system?: string; tool?: string };
}

/** The optimizer model, for GEPA's reflection and APO's critique and edit instructions. */
export function refundOptimizerModel(options: RefundOptimizerModelOptions = {}): Responder {
  const names = { system: options.components?.system ?? "system", tool: options.components?.tool ?? "lookup_tool" };
  const kindOf = (name: string | undefined): ComponentKind | undefined => (name === names.system ? "system" : name === names.tool ? "tool" : undefined);
  return ({ lastUserText, body }) => {
    // Like a sampling model, answers to one prompt vary — here with the request's `seed`, so they are reproducible.
    const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
    // GEPA's reflection names "one component, "<name>""; APO's instructions "the template "<name>"".
    const component = /(?:component,?|template) "([^"]+)"/.exec(lastUserText)?.[1];
    const template = quoted(lastUserText);
    if (!lastUserText.includes("</template>")) return critique(lastUserText, template, component, sample, kindOf, names);
    if (lastUserText.includes("### Run ")) return reflect(lastUserText, template, kindOf(component), sample);
    return edit(lastUserText, template, kindOf(component), sample);
  };
}

/** The fixes the runs show, strongest first: rules of `kind` the template does not state yet, with the number of failed runs each explains. */
export function rankedFixes(prompt: string, template: string, kind: ComponentKind): Array<[RuleId, number]> {
  const known = rulesStated(template, kind);
  const counts = new Map<RuleId, number>();
  for (const run of observedRuns(prompt)) {
    for (const rule of evidencedRules(run)) {
      if (ruleById(rule).component === kind && !known.has(rule)) counts.set(rule, (counts.get(rule) ?? 0) + 1);
    }
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || order(a[0]) - order(b[0]));
}

/** Up to two fixes, starting from one of the three strongest, so children of one parent explore different fixes. */
function chooseFixes(ranked: Array<[RuleId, number]>, sample: number): Array<[RuleId, number]> {
  if (ranked.length === 0) return [];
  const start = sample % Math.min(3, ranked.length);
  return [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
}

/** GEPA's reflection: runs and template in one prompt, answered with the rewritten template. */
function reflect(prompt: string, template: string, kind: ComponentKind | undefined, sample: number): Reply {
  const fixes = kind === undefined ? [] : chooseFixes(rankedFixes(prompt, template, kind), sample);
  return revised(template, fixes.map(([rule]) => ruleById(rule).sentence), sample);
}

/**
 * APO's critique: the fixes the runs show for every component, as bullets, and the component
 * with the most evidence as the target (the one under review when nothing is found).
 */
function critique(prompt: string, template: string, component: string | undefined, sample: number, kindOf: (name: string | undefined) => ComponentKind | undefined, names: Record<ComponentKind, string>): Reply {
  const kind = kindOf(component);
  // The other component's text is not under review: the system prompt shows in the runs; what the
  // tool description states is judged from the failures alone.
  const textOf = (k: ComponentKind) => (k === kind ? template : k === "system" ? systemPromptShown(prompt) : "");
  const byKind = (["system", "tool"] as const).map((k) => ({ kind: k, fixes: chooseFixes(rankedFixes(prompt, textOf(k), k), sample) }));
  const weight = (fixes: Array<[RuleId, number]>) => fixes.reduce((sum, [, n]) => sum + n, 0);
  const best = [...byKind].sort((a, b) => weight(b.fixes) - weight(a.fixes) || (a.kind === kind ? -1 : b.kind === kind ? 1 : 0))[0]!;
  if (best.fixes.length === 0) return { text: `- The failed runs are not explained by a missing rule.\nTARGET: ${component ?? names.system}` };
  const bullets = best.fixes.map(([rule, n]) => `- ${n} failed run(s) would have succeeded with a rule the ${best.kind === "tool" ? "tool description" : "prompt"} never states: ${ruleById(rule).sentence}`);
  return { text: `${bullets.join("\n")}\nTARGET: ${names[best.kind]}` };
}

/** APO's edit: the rules the critique states that belong in this component, appended. */
function edit(prompt: string, template: string, kind: ComponentKind | undefined, sample: number): Reply {
  const critiqueText = prompt.slice(prompt.indexOf(template) + template.length);
  const sentences = RULES.filter((rule) => rule.component === kind && critiqueText.includes(rule.sentence) && !template.includes(rule.sentence)).map((rule) => rule.sentence);
  return revised(template, sentences, sample);
}

const USELESS = ["Be polite and thorough.", "Read the customer's message carefully.", "Double-check your answer before replying.", "Think step by step.", "Keep your reply short."];

/** The template with `sentences` appended (a generic sentence when there are none), in one of the shapes optimizers answer in. */
function revised(template: string, sentences: readonly string[], sample: number): Reply {
  const text = sentences.length > 0 ? [template, ...sentences].join("\n") : `${template}\n${USELESS[sample % USELESS.length]}`;
  switch (sample % 3) {
    case 0:
      return { text: `<template>\n${text}\n</template>` };
    case 1:
      return { text: `Here is the revised template:\n\n\`\`\`text\n${text}\n\`\`\`\n\nIt states what the failed runs were missing.` };
    default:
      return { text: `Sure. <template>${text}</template>` };
  }
}

/** The system prompt the first run shows: up to the next message (or a listing of the tools offered). */
function systemPromptShown(prompt: string): string {
  return /^\[system\] ([\s\S]*?)(?=\n\[|\nTools?\b)/im.exec(prompt)?.[1] ?? "";
}

/** The first `"""`-quoted block of an instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? "";
}

/**
 * The failed runs of a runs text (as tracetrain's experiments text shows them): the task with its
 * expected answer (or, when the task does not hold it, the one the run's `Feedback:` line names),
 * each `lookup_order` call with the tool's answer, and the final answer. A run whose task or tool
 * answer was clipped for length is read as far as it can be.
 */
export function observedRuns(prompt: string): ObservedRun[] {
  const out: ObservedRun[] = [];
  for (const block of prompt.split(/^### Run \d+: /m).slice(1)) {
    const reward = Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0");
    const task = /^Task: (.*)$/m.exec(block)?.[1];
    if (!(reward < 1) || task === undefined) continue;
    const parsed = parseJson<{ task_input?: RefundRequest; expected?: Decision }>(task);
    // A task clipped for length cannot be replayed; the others still count.
    if (parsed?.task_input === undefined) continue;
    // The evaluator's feedback says what was expected when the task itself does not.
    const expected = parsed.expected ?? (/^Feedback:.*?\bexpected (refund|credit|deny|escalate)\b/im.exec(block)?.[1] as Decision | undefined);
    if (expected === undefined) continue;
    const lookups: ObservedRun["lookups"] = [];
    const results = [...block.matchAll(/^\[tool result[^\]]*\] (.*)$/gm)].map((m) => parseJson<LookupResult>(m[1]!));
    for (const call of block.matchAll(/lookup_order\((\{.*?\})\)(?:,|$)/gm)) {
      lookups.push({ arguments: parseJson<Record<string, unknown>>(call[1]!) ?? {}, result: results[lookups.length] });
    }
    const answer = [...block.matchAll(/^\[assistant\] (.*)$/gm)].map((m) => m[1]!).filter((text) => !text.includes("→ calls")).at(-1) ?? "";
    out.push({ request: parsed.task_input, expected, answer: answer.trim(), lookups });
  }
  return out;
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** The refund request the agent was given, read from its user message. */
export function parseRequest(text: string): RefundRequest | undefined {
  const match = /order (#?[A-Z]\d+)\s*:?\s*([\s\S]*)$/.exec(text);
  if (!match) return undefined;
  const customer = /Customer (\S+)/.exec(text)?.[1] ?? "";
  return { customer, order_id: match[1]!, message: match[2]!.trim() };
}

/** The description of the `lookup_order` tool offered in the request. */
function toolDescription(body: Record<string, unknown>): string {
  const tools = Array.isArray(body.tools) ? (body.tools as Array<{ function?: { name?: unknown; description?: unknown } }>) : [];
  const description = tools.find((t) => t.function?.name === "lookup_order")?.function?.description;
  return typeof description === "string" ? description : "";
}

function order(rule: RuleId): number {
  return RULES.findIndex((r) => r.id === rule);
}

