/**
 * Simulated models for offline runs, served by tracetrain/testing's mock LLM:
 *
 * - **The support model** plays the agent's LLM. It reads the conversation the way a lazy model
 *   would: it searches the catalogue, then answers from what it has, and it applies a shop rule
 *   only when the system prompt states it (open the full record before answering, quote sale
 *   prices, suggest the alternative, say plainly what the shop does not carry). So a prompt stating
 *   all four rules answers every question right; the bare prompt about a third. It never sees the
 *   expected answers. Like a real model it fumbles some questions: which ones depends on the seed,
 *   the prompt and the question — never on the order requests arrive in.
 * - **The optimizer model** answers APO's critique and edit requests: its critique reads the failed
 *   runs (the tool results and the final answer), finds which rule the prompt does not state would
 *   have fixed the most of them, and states it; its edit appends the rules a critique states.
 *
 * They show the pipeline end to end and deterministically; they are not language models.
 */
import { type MockLlm, type Reply, type Responder, requestMessages, stableHash, startMockLlm } from "tracetrain/testing";

export type RuleId = "lookup" | "sale" | "alternative" | "not-carried";

/** The shop's rules: what a prompt must say for the support model to apply each. */
export const RULES: ReadonlyArray<{ id: RuleId; sentence: string; stated: RegExp }> = [
  { id: "lookup", sentence: "Before answering about price, stock or warranty, open the product's record with get_product: search results do not show sale prices, stock or warranty.", stated: /\bget_product\b/i },
  { id: "sale", sentence: "When a product is on sale, quote its sale price, not the list price.", stated: /\bsale price\b/i },
  { id: "alternative", sentence: "If a product is out of stock, say so and suggest the alternative its record names.", stated: /\balternative\b/i },
  { id: "not-carried", sentence: "If the search finds no such product, say that we do not carry it; never claim we sell something the catalogue lacks.", stated: /\b(do not|don't) carry\b/i },
];

export function rulesStated(prompt: string): Set<RuleId> {
  return new Set(RULES.filter((rule) => rule.stated.test(prompt)).map((rule) => rule.id));
}

type Intent = "price" | "stock" | "warranty" | "carry";

function intentOf(question: string): Intent {
  if (/how much|price|cost/i.test(question)) return "price";
  if (/in stock|available/i.test(question)) return "stock";
  if (/warrant/i.test(question)) return "warranty";
  return "carry";
}

const FILLER = new Set("how much does do the cost what is price of in stock you have right now available warranty comes come with long on and for a an can i buy from sell carry it".split(" "));

/** The product words of a question: what the model searches for. */
export function productQuery(question: string): string {
  return question.toLowerCase().split(/[^a-z0-9-]+/).filter((w) => w !== "" && !FILLER.has(w)).join(" ");
}

interface SearchHit {
  sku: string;
  name: string;
  price: number;
}

interface ProductRecord extends SearchHit {
  salePrice: number | null;
  stock: number;
  warrantyYears: number;
  alternativeName: string;
}

const money = (x: number) => `$${x.toFixed(2)}`;

export interface SupportModelOptions {
  seed: number;
  /** The share of questions the model fumbles for a given prompt, by ignoring one rule it was told (default 0.1). */
  slip?: number;
}

/** The agent's model: a search, maybe a record lookup, then an answer that follows the rules the system prompt states. */
export function supportModel({ seed, slip = 0.1 }: SupportModelOptions): Responder {
  return ({ body }) => {
    const messages = requestMessages(body);
    const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n");
    const question = messages.find((m) => m.role === "user")?.text ?? "";
    const rules = rulesStated(system);
    const h = stableHash(`${seed}\u0000${system}\u0000${question}`);
    if ((h % 1000) / 1000 < slip) rules.delete(RULES[(h >>> 10) % RULES.length]!.id);
    const results = messages.filter((m) => m.role === "tool").map((m) => parseJson(m.text));
    const hits = results.find((r): r is SearchHit[] => Array.isArray(r));
    const product = results.find((r): r is ProductRecord => isRecord(r) && typeof r.sku === "string" && "stock" in r);
    const query = productQuery(question);
    if (hits === undefined) return { toolCalls: [{ name: "search_catalog", arguments: { query } }] };
    const top = hits[0];
    if (top === undefined) return { text: rules.has("not-carried") ? `Sorry, we do not carry ${query}.` : `Yes, we have ${query}: ask in store for the models we stock.` };
    const intent = intentOf(question);
    if (intent === "carry") return { text: `Yes, we carry the ${top.name} (${top.sku}).` };
    if (product === undefined) {
      if (rules.has("lookup")) return { toolCalls: [{ name: "get_product", arguments: { sku: top.sku } }] };
      return { text: fromSearch(intent, top) };
    }
    return { text: fromRecord(intent, product, rules) };
  };
}

function fromSearch(intent: Exclude<Intent, "carry">, hit: SearchHit): string {
  if (intent === "price") return `The ${hit.name} costs ${money(hit.price)}.`;
  if (intent === "stock") return `Yes, the ${hit.name} is in stock.`;
  return `The ${hit.name} comes with our standard one-year warranty.`;
}

function fromRecord(intent: Exclude<Intent, "carry">, p: ProductRecord, rules: Set<RuleId>): string {
  if (intent === "price") {
    return p.salePrice !== null && rules.has("sale") ? `The ${p.name} is on sale for ${money(p.salePrice)}.` : `The ${p.name} costs ${money(p.price)}.`;
  }
  if (intent === "warranty") return `The ${p.name} comes with a ${p.warrantyYears}-year warranty.`;
  if (p.stock > 0) return `Yes, the ${p.name} is in stock (${p.stock} available).`;
  return rules.has("alternative") ? `Sorry, the ${p.name} is out of stock right now. The ${p.alternativeName} is a good alternative.` : `Sorry, the ${p.name} is out of stock right now.`;
}

/** The optimizer's model, for APO's default critique and edit instructions. */
export function optimizerModel(): Responder {
  return ({ lastUserText, body }) => {
    // A sampling model's answers to one prompt vary; here with the request's seed, so reproducibly.
    const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
    return lastUserText.includes("</template>") ? edit(lastUserText) : critique(lastUserText, sample);
  };
}

function critique(prompt: string, sample: number): Reply {
  const known = rulesStated(quoted(prompt));
  const fixes = new Map<RuleId, number>();
  for (const run of failedRuns(prompt)) {
    const rule = diagnose(run);
    if (rule !== undefined && !known.has(rule)) fixes.set(rule, (fixes.get(rule) ?? 0) + 1);
  }
  const ranked = [...fixes.entries()].sort((a, b) => b[1] - a[1] || order(a[0]) - order(b[0]));
  if (ranked.length === 0) return { text: "- The failed runs are not explained by a missing rule.\nTARGET: system" };
  // A critique's few bullets: two rules, starting from one of the strongest, so that the children of one parent explore different fixes.
  const start = sample % Math.min(2, ranked.length);
  const chosen = [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
  const bullets = chosen.map(([rule, count]) => `- ${count} failed run(s) broke a rule the prompt never states: ${RULES.find((r) => r.id === rule)!.sentence}`);
  return { text: `${bullets.join("\n")}\nTARGET: system` };
}

function edit(prompt: string): Reply {
  const template = quoted(prompt);
  const added = RULES.filter((rule) => prompt.includes(rule.sentence) && !template.includes(rule.sentence)).map((rule) => rule.sentence);
  return { text: `<template>\n${[template, ...added].join("\n")}\n</template>` };
}

const order = (rule: RuleId) => RULES.findIndex((r) => r.id === rule);

/** The first `"""`-quoted block of an instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? "";
}

interface FailedRun {
  toolResults: unknown[];
  answer: string;
}

/** The runs with a reward below 1, as APO's experiments text shows them. */
function failedRuns(prompt: string): FailedRun[] {
  return prompt
    .split(/^### Run \d+: /m)
    .slice(1)
    .filter((block) => Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0") < 1)
    .map((block) => ({
      toolResults: [...block.matchAll(/^\[tool result[^\]]*\] (.*)$/gm)].map((m) => parseJson(m[1]!)),
      answer: [...block.matchAll(/^\[assistant\] (.*)$/gm)].map((m) => m[1]!).filter((text) => !text.includes("→ calls")).at(-1) ?? "",
    }));
}

/** Which rule would have turned a failed run into a right one, read from what the tools returned and what the agent said. */
function diagnose({ toolResults, answer }: FailedRun): RuleId | undefined {
  const hits = toolResults.find((r): r is SearchHit[] => Array.isArray(r));
  const product = toolResults.find((r): r is ProductRecord => isRecord(r) && "stock" in r);
  if (hits !== undefined && hits.length === 0) return "not-carried";
  if (product === undefined) return hits === undefined ? undefined : "lookup";
  if (product.salePrice !== null && answer.includes(money(product.price))) return "sale";
  if (product.stock === 0 && !answer.includes(product.alternativeName)) return "alternative";
  return undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One server for both: requests that offer tools are the agent's, the others the optimizer's. */
export function simulatedModels(options: SupportModelOptions): Responder {
  const support = supportModel(options);
  const optimizer = optimizerModel();
  return (request) => (Array.isArray(request.body.tools) && request.body.tools.length > 0 ? support(request) : optimizer(request));
}

export function startSimulatedModels(options: SupportModelOptions): Promise<MockLlm> {
  return startMockLlm({ responder: simulatedModels(options) });
}
