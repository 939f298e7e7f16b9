/**
 * The example's world: a company's travel-expense policy, its exchange rates, the three tools the
 * agent may call, the expense reports it is asked about (data/tasks.jsonl) and the reward.
 *
 * A receipt is reimbursed in US dollars: its amount converted at today's rate and rounded to the
 * cent, then limited by the policy of its category. The report's answer is the sum of its receipts.
 */
import { fileURLToPath } from "node:url";
import { loadDataset } from "tracetrain";
import { z } from "zod";

export const CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD"] as const;
export type Currency = (typeof CURRENCIES)[number];

export const CATEGORIES = ["hotel", "meals", "alcohol", "taxi", "train", "flight"] as const;
export type Category = (typeof CATEGORIES)[number];

/** Today's rates, US dollars per unit: what the get_exchange_rate tool answers. */
export const RATES: Readonly<Record<Currency, number>> = { USD: 1, EUR: 1.0843, GBP: 1.2711, JPY: 0.006712, CHF: 1.1325, CAD: 0.7364 };

/** The expense policy per category: what the lookup_policy tool answers. */
export type Policy = { kind: "full" } | { kind: "cap"; capUsd: number } | { kind: "excluded" };
export const POLICY: Readonly<Record<Category, Policy>> = {
  hotel: { kind: "cap", capUsd: 180 },
  meals: { kind: "cap", capUsd: 60 },
  alcohol: { kind: "excluded" },
  taxi: { kind: "full" },
  train: { kind: "full" },
  flight: { kind: "full" },
};

export const ReceiptSchema = z.strictObject({
  category: z.enum(CATEGORIES),
  amount: z.number().positive(),
  currency: z.enum(CURRENCIES),
});
export type Receipt = z.infer<typeof ReceiptSchema>;

const ExpenseTaskSchema = z.strictObject({
  id: z.string().min(1),
  trip: z.string().min(1),
  receipts: z.array(ReceiptSchema).min(1),
  /** The reimbursable total in USD, as the policy and today's rates make it. */
  expected_usd: z.number().min(0),
});
/** A type, not an interface, so that it is a JSON value the store accepts as a task. */
export type ExpenseTask = z.infer<typeof ExpenseTaskSchema>;

export const TASKS_FILE = fileURLToPath(new URL("data/tasks.jsonl", import.meta.url));

/** The expense reports, each checked against the schema. */
export function loadTasks(path = TASKS_FILE): Promise<ExpenseTask[]> {
  return loadDataset(path, { schema: ExpenseTaskSchema });
}

/** Cents are what money is counted in: every amount is rounded to them. */
export function toCents(usd: number): number {
  return Math.round(usd * 100) / 100;
}

/** What the policy reimburses of an amount already in USD. */
export function applyPolicy(usd: number, policy: Policy): number {
  if (policy.kind === "excluded") return 0;
  return policy.kind === "cap" ? Math.min(usd, policy.capUsd) : usd;
}

/** The reimbursable amount of one receipt, in USD. */
export function reimbursable(receipt: Receipt): number {
  return applyPolicy(toCents(receipt.amount * RATES[receipt.currency]), POLICY[receipt.category]);
}

/** The reimbursable total of a report: what `expected_usd` must say. */
export function reimbursableTotal(receipts: readonly Receipt[]): number {
  return toCents(receipts.reduce((sum, r) => sum + reimbursable(r), 0));
}

/** The user message the agent sends: the report as an employee would paste it. */
export function reportText(task: ExpenseTask): string {
  const lines = task.receipts.map((r) => `- ${r.category}: ${r.amount.toFixed(2)} ${r.currency}`);
  return [`Trip: ${task.trip}`, "Receipts:", ...lines, "How much of this is reimbursed, in USD?"].join("\n");
}

/** 1 when the reply's last number is the expected total to the cent, else 0; with the reason, for the optimizer. */
export function score(reply: string, task: ExpenseTask): { value: number; feedback: string } {
  const numbers = reply.replace(/(\d),(?=\d{3}\b)/g, "$1").match(/-?\d+(?:\.\d+)?/g);
  const answer = numbers === null ? undefined : Number(numbers.at(-1));
  if (answer === undefined) return { value: 0, feedback: `the reply names no amount; expected ${task.expected_usd.toFixed(2)} USD` };
  const right = Math.abs(answer - task.expected_usd) < 0.005;
  return { value: right ? 1 : 0, feedback: right ? "the total is right" : `the total is ${answer.toFixed(2)} USD; expected ${task.expected_usd.toFixed(2)} USD` };
}

// --- the tools' answers (agent.ts wraps them as AI SDK tools) ----------------------------------

export function exchangeRate(currency: string): { currency: string; usd_per_unit: number } | { error: string } {
  const known = (CURRENCIES as readonly string[]).includes(currency);
  return known ? { currency, usd_per_unit: RATES[currency as Currency] } : { error: `unknown currency '${currency}'; known: ${CURRENCIES.join(", ")}` };
}

export function policyFor(category: string): { category: string; reimbursed: string; cap_usd?: number } | { error: string } {
  if (!(CATEGORIES as readonly string[]).includes(category)) return { error: `unknown category '${category}'; known: ${CATEGORIES.join(", ")}` };
  const policy = POLICY[category as Category];
  if (policy.kind === "cap") return { category, reimbursed: `up to ${policy.capUsd.toFixed(2)} USD per receipt`, cap_usd: policy.capUsd };
  return { category, reimbursed: policy.kind === "full" ? "in full" : "not reimbursable" };
}

export function addAmounts(amounts: readonly number[]): { total: number } {
  return { total: toCents(amounts.reduce((a, b) => a + b, 0)) };
}
