/**
 * The simulated models of an offline run, served by tracetrain's mock LLM (`tracetrain/testing`),
 * which speaks the Chat Completions wire format the AI SDK's `openai.chat(…)` provider reads —
 * tool calls included. Requests that offer tools go to the agent model, the rest (APO's critiques
 * and edits) to the optimizer model. They are not a language model; they behave by general rules,
 * the way a model's behaviour depends on its prompt, and know nothing of the right answers.
 *
 * **The agent model** reads the receipts in the user message and follows only the guidance its
 * system prompt states (see {@link RULES}); otherwise it acts like an overconfident model:
 * - it converts euros and pounds at rates it remembers (stale) and looks up only the currencies
 *   it does not know;
 * - it reimburses every receipt in full, never asking for the expense policy;
 * - it adds up in its head, and with four receipts or more it adds whole dollars.
 * It asks for several tools at once when it needs several lookups, and — with `noise` — forgets
 * the last receipt now and then, decided by a hash of the seed, the system prompt and the report,
 * so the figures do not depend on the order in which concurrent requests arrive.
 *
 * **The optimizer model** reads the runs APO shows it. Its critique looks at the failed ones for
 * the tools the agent skipped (a currency it did not look up, no policy lookup, no add_amounts)
 * and states the guidance that would have made it use them; its edit appends what the critique
 * states to the template.
 */
import { type MockLlm, type MockToolCall, type Reply, type Responder, requestMessages, stableHash, startMockLlm } from "tracetrain/testing";
import { addAmounts, applyPolicy, CATEGORIES, type Category, CURRENCIES, type Currency, type Policy, type Receipt, ReceiptSchema, toCents } from "./expenses.js";

export type RuleId = "rates" | "policy" | "adding";

/** Guidance a system prompt may state: the sentence the optimizer writes, and how the agent model recognises it. */
export const RULES: ReadonlyArray<{ id: RuleId; sentence: string; stated: RegExp }> = [
  { id: "rates", sentence: "Look up the exchange rate of every currency with get_exchange_rate; never convert with a rate from memory.", stated: /get_exchange_rate|look up (?:the |every |each )?(?:exchange )?rate/i },
  { id: "policy", sentence: "Call lookup_policy for every expense category in the report and apply its limits before adding anything up.", stated: /lookup_policy|expense policy|policy limits/i },
  { id: "adding", sentence: "Add up the reimbursable amounts with the add_amounts tool; never add them in your head.", stated: /add_amounts|calculator/i },
];

export function rulesStated(system: string): Set<RuleId> {
  return new Set(RULES.filter((rule) => rule.stated.test(system)).map((rule) => rule.id));
}

/** Rates the model "remembers": out of date, so a conversion with them is off by cents or more. */
const REMEMBERED: Readonly<Partial<Record<Currency, number>>> = { EUR: 1.1, GBP: 1.25 };

export interface AgentModelOptions {
  seed: number;
  /** Chance of forgetting the last receipt in the final answer (default 0.1). */
  noise?: number;
}

/** What the conversation's tool results have told the model so far. */
interface Known {
  rates: Map<string, number>;
  policies: Map<string, Policy>;
  total: number | undefined;
}

export function agentModel({ seed, noise = 0.1 }: AgentModelOptions): Responder {
  return ({ body }) => {
    const messages = requestMessages(body);
    const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n");
    const report = messages.find((m) => m.role === "user")?.text ?? "";
    const receipts = parseReceipts(report);
    if (receipts.length === 0) return { text: "I could not find any receipts in the report." };
    const rules = rulesStated(system);
    const offered = toolNames(body);
    const known = readToolResults(messages.filter((m) => m.role === "tool").map((m) => m.text));

    const lookups = [...neededRates(receipts, rules, offered, known), ...neededPolicies(receipts, rules, offered, known)];
    if (lookups.length > 0) return { toolCalls: lookups };

    const amounts = receipts.map((r) => reimbursedAs(r, known));
    const slip = (stableHash(`${seed}\u0000${system}\u0000${report}`) % 1000) / 1000 < noise;
    const counted = slip ? amounts.slice(0, -1) : amounts;
    if (rules.has("adding") && offered.has("add_amounts")) {
      if (known.total === undefined) return { toolCalls: [{ name: "add_amounts", arguments: { amounts: counted } }] };
      return { text: answer(receipts, amounts, known.total) };
    }
    return { text: answer(receipts, amounts, addInHead(counted)) };
  };
}

function neededRates(receipts: readonly Receipt[], rules: ReadonlySet<RuleId>, offered: ReadonlySet<string>, known: Known): MockToolCall[] {
  if (!offered.has("get_exchange_rate")) return [];
  const currencies = [...new Set(receipts.map((r) => r.currency))].filter((c) => c !== "USD" && !known.rates.has(c));
  return currencies.filter((c) => rules.has("rates") || REMEMBERED[c] === undefined).map((currency) => ({ name: "get_exchange_rate", arguments: { currency } }));
}

function neededPolicies(receipts: readonly Receipt[], rules: ReadonlySet<RuleId>, offered: ReadonlySet<string>, known: Known): MockToolCall[] {
  if (!rules.has("policy") || !offered.has("lookup_policy")) return [];
  return [...new Set(receipts.map((r) => r.category))].filter((c) => !known.policies.has(c)).map((category) => ({ name: "lookup_policy", arguments: { category } }));
}

/** A receipt in USD at the rate the model has (looked up, or remembered), limited by the policy if it asked. */
function reimbursedAs(receipt: Receipt, known: Known): number {
  const rate = receipt.currency === "USD" ? 1 : (known.rates.get(receipt.currency) ?? REMEMBERED[receipt.currency] ?? 1);
  const usd = toCents(receipt.amount * rate);
  const policy = known.policies.get(receipt.category);
  return policy === undefined ? usd : applyPolicy(usd, policy);
}

/** Short lists come out right; long ones the model rounds to whole dollars as it goes. */
function addInHead(amounts: readonly number[]): number {
  return amounts.length >= 4 ? amounts.reduce((sum, a) => sum + Math.round(a), 0) : addAmounts(amounts).total;
}

function answer(receipts: readonly Receipt[], amounts: readonly number[], total: number): string {
  const lines = receipts.map((r, i) => `- ${r.category}: ${amounts[i]!.toFixed(2)} USD`);
  return ["Reimbursable amounts:", ...lines, `Total reimbursed: ${total.toFixed(2)} USD`].join("\n");
}

/** The receipts of a report as `reportText` (expenses.ts) writes them: `- hotel: 310.00 EUR`. */
export function parseReceipts(text: string): Receipt[] {
  return [...text.matchAll(/^- (\w+): ([\d.]+) ([A-Z]{3})$/gm)].flatMap(([, category, amount, currency]) =>
    (CATEGORIES as readonly string[]).includes(category!) && (CURRENCIES as readonly string[]).includes(currency!)
      ? [{ category: category as Category, amount: Number(amount), currency: currency as Currency }]
      : [],
  );
}

function toolNames(body: Record<string, unknown>): Set<string> {
  const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
  return new Set(tools.flatMap((t) => {
    const name = (t as { function?: { name?: unknown } } | null)?.function?.name;
    return typeof name === "string" ? [name] : [];
  }));
}

function readToolResults(texts: readonly string[]): Known {
  const known: Known = { rates: new Map(), policies: new Map(), total: undefined };
  for (const text of texts) {
    const result = parseObject(text);
    if (typeof result.currency === "string" && typeof result.usd_per_unit === "number") known.rates.set(result.currency, result.usd_per_unit);
    if (typeof result.category === "string" && typeof result.reimbursed === "string") known.policies.set(result.category, policyOf(result));
    if (typeof result.total === "number") known.total = result.total;
  }
  return known;
}

function policyOf(result: Record<string, unknown>): Policy {
  if (typeof result.cap_usd === "number") return { kind: "cap", capUsd: result.cap_usd };
  return result.reimbursed === "not reimbursable" ? { kind: "excluded" } : { kind: "full" };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

// --- the optimizer model ----------------------------------------------------------------------

export function optimizerModel(): Responder {
  return ({ lastUserText, body }) => {
    // Answers to one prompt vary like a sampling model's — with the request's seed, so reproducibly.
    const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
    return lastUserText.includes("</template>") ? edit(lastUserText, sample) : critique(lastUserText, sample);
  };
}

/** What a failed run skipped: a currency it never looked up, the policy, the adding tool. */
export function skippedTools(run: { receipts: readonly Receipt[]; calls: ReadonlyArray<{ name: string; args: string }> }): RuleId[] {
  const looked = run.calls.filter((c) => c.name === "get_exchange_rate").map((c) => c.args);
  const foreign = [...new Set(run.receipts.map((r) => r.currency))].filter((c) => c !== "USD");
  const skipped: RuleId[] = [];
  if (foreign.some((c) => !looked.some((args) => args.includes(`"${c}"`)))) skipped.push("rates");
  if (!run.calls.some((c) => c.name === "lookup_policy")) skipped.push("policy");
  if (run.receipts.length > 1 && !run.calls.some((c) => c.name === "add_amounts")) skipped.push("adding");
  return skipped;
}

function critique(prompt: string, sample: number): Reply {
  const template = quoted(prompt);
  const stated = rulesStated(template);
  const counts = new Map<RuleId, number>();
  for (const run of failedRuns(prompt)) {
    for (const rule of skippedTools(run)) if (!stated.has(rule)) counts.set(rule, (counts.get(rule) ?? 0) + 1);
  }
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || order(a[0]) - order(b[0]));
  if (ranked.length === 0) return { text: "- The failed runs used every tool they needed; nothing in the template explains them.\nTARGET: system" };
  // Two points, starting from one of the three strongest, so the children of one parent explore different fixes.
  const start = sample % Math.min(3, ranked.length);
  const chosen = [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
  const bullets = chosen.map(([rule, count]) => `- In ${count} failed run(s) the agent ${SKIPPED[rule]}. Add: ${RULES.find((r) => r.id === rule)!.sentence}`);
  return { text: `${bullets.join("\n")}\nTARGET: system` };
}

const SKIPPED: Record<RuleId, string> = {
  rates: "converted a currency without looking its rate up",
  policy: "never checked the expense policy",
  adding: "added the amounts up without the add_amounts tool",
};

function edit(prompt: string, sample: number): Reply {
  const template = quoted(prompt);
  const revised = [template, ...RULES.filter((r) => prompt.includes(r.sentence) && !template.includes(r.sentence)).map((r) => r.sentence)].join("\n");
  // Answer in the shapes optimizer models use, which APO's parser must all read.
  return sample % 2 === 0 ? { text: `<template>\n${revised}\n</template>` } : { text: `Here is the revised template:\n<template>${revised}</template>` };
}

/** The first `"""`-quoted block of an instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? "";
}

/** The runs with a reward below 1, as APO renders them: the task's receipts and the tools called. */
function failedRuns(prompt: string): Array<{ receipts: Receipt[]; calls: Array<{ name: string; args: string }> }> {
  return prompt.split(/^### Run \d+: /m).slice(1).flatMap((block) => {
    const reward = Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0");
    const task = parseObject(/^Task: (.*)$/m.exec(block)?.[1] ?? "");
    if (!(reward < 1) || !Array.isArray(task.receipts)) return [];
    const receipts = (task.receipts as unknown[]).flatMap((r) => {
      const parsed = ReceiptSchema.safeParse(r);
      return parsed.success ? [parsed.data] : [];
    });
    const calls = [...block.matchAll(/(\w+)\(([^()]*)\)/g)].map(([, name, args]) => ({ name: name!, args: args! }));
    return [{ receipts, calls }];
  });
}

function order(rule: RuleId): number {
  return RULES.findIndex((r) => r.id === rule);
}

/** Both models behind one endpoint on loopback. */
export function startExpenseModels(options: AgentModelOptions): Promise<MockLlm> {
  const agent = agentModel(options);
  const optimizer = optimizerModel();
  return startMockLlm({ responder: (request) => (Array.isArray(request.body.tools) ? agent(request) : optimizer(request)) });
}
