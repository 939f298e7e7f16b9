/**
 * What the simulated specialists know: the rules a support policy can state, each recognised in an
 * agent's instructions by its wording. A simulated specialist follows a rule only when its
 * instructions state it; without it, it does what an eager, literal assistant does (refund the
 * invoice it finds, in full). The simulated reflection model proposes a rule only when a failed run
 * it reads would have succeeded with it.
 */
import type { Diagnosis, Invoice, Order } from "../tasks.js";

export type BillingRuleId = "duplicate" | "prorate" | "window" | "already";

export interface BillingRule {
  id: BillingRuleId;
  /** How a policy states it. */
  sentence: string;
  /** How the simulated model recognises it in instructions. */
  stated: RegExp;
}

export const BILLING_RULES: readonly BillingRule[] = [
  { id: "duplicate", sentence: "When a customer was charged twice (two invoices for the same item and amount), refund only the later duplicate invoice and keep the original.", stated: /\btwice\b|\bduplicate\b/i },
  { id: "prorate", sentence: "When a customer cancels an annual plan, refund only the unused months: the plan's price × (12 − months used) / 12, rounded to cents.", stated: /prorat|unused months/i },
  { id: "window", sentence: "Invoices issued more than 60 days ago cannot be refunded: issue no refund and explain the 60-day limit.", stated: /\b60[- ]days?\b/i },
  { id: "already", sentence: "Never refund an invoice whose status is already refunded; tell the customer the refund is on its way.", stated: /already refunded/i },
];

export function billingRulesStated(instructions: string): Set<BillingRuleId> {
  return new Set(BILLING_RULES.filter((rule) => rule.stated.test(instructions)).map((rule) => rule.id));
}

/** What a billing request asks for, read from its words. */
export type BillingIntent =
  | { kind: "duplicate" }
  | { kind: "cancel_annual"; monthsUsed: number }
  | { kind: "refund_invoice"; invoiceId: string }
  | { kind: "unclear" };

const NUMBER_WORDS: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11 };

export function billingIntent(request: string): BillingIntent {
  if (/charged (?:me )?twice|double[- ]charged|billed twice|two identical charges/i.test(request)) return { kind: "duplicate" };
  const months = /after (\d+|[a-z]+) months?/i.exec(request)?.[1];
  if (/cancel/i.test(request) && /annual|yearly/i.test(request) && months !== undefined) {
    const monthsUsed = /^\d+$/.test(months) ? Number(months) : NUMBER_WORDS[months.toLowerCase()];
    if (monthsUsed !== undefined) return { kind: "cancel_annual", monthsUsed };
  }
  const invoiceId = /\bINV-\d+\b/.exec(request)?.[0];
  if (invoiceId !== undefined) return { kind: "refund_invoice", invoiceId };
  return { kind: "unclear" };
}

/** The invoice a request is about, as a literal reader picks it: with `duplicate`, the later copy; without, the first it sees. */
function targetInvoice(intent: BillingIntent, invoices: readonly Invoice[], rules: ReadonlySet<BillingRuleId>): Invoice | undefined {
  switch (intent.kind) {
    case "duplicate": {
      const copies = invoices.filter((a) => invoices.some((b) => b !== a && b.item === a.item && b.amount === a.amount));
      const oldestFirst = [...copies].sort((a, b) => b.days_ago - a.days_ago);
      return rules.has("duplicate") ? oldestFirst.at(-1) : oldestFirst[0];
    }
    case "cancel_annual":
      return [...invoices].filter((i) => /annual/i.test(i.item)).sort((a, b) => a.days_ago - b.days_ago)[0];
    case "refund_invoice":
      return invoices.find((i) => i.id === intent.invoiceId);
    case "unclear":
      return undefined;
  }
}

/** The billing specialist's action (`refund <invoice> <amount>` or `none`) for a request, knowing exactly `rules`. */
export function decideBilling(intent: BillingIntent, invoices: readonly Invoice[], rules: ReadonlySet<BillingRuleId>): string {
  const invoice = targetInvoice(intent, invoices, rules);
  if (invoice === undefined) return "none";
  if (rules.has("already") && invoice.status === "refunded") return "none";
  if (rules.has("window") && invoice.days_ago > 60) return "none";
  const amount = intent.kind === "cancel_annual" && rules.has("prorate") ? Math.round((invoice.amount * (12 - intent.monthsUsed) * 100) / 12) / 100 : invoice.amount;
  return `refund ${invoice.id} ${amount.toFixed(2)}`;
}

/** The rules not yet known that, each added alone, would have turned this billing run's action into the expected one. */
export function evidencedBillingRules(request: string, invoices: readonly Invoice[], expected: string, known: ReadonlySet<BillingRuleId>): BillingRuleId[] {
  const intent = billingIntent(request);
  if (decideBilling(intent, invoices, known) === expected) return [];
  return BILLING_RULES.filter((rule) => !known.has(rule.id) && decideBilling(intent, invoices, new Set([...known, rule.id])) === expected).map((rule) => rule.id);
}

// The other specialists' policies, stated in full in their (fixed) instructions.

export function technicalRulesStated(instructions: string): Set<"locked" | "outage" | "update"> {
  const rules = new Set<"locked" | "outage" | "update">();
  if (/locked/i.test(instructions) && /unlock_account/.test(instructions)) rules.add("locked");
  if (/outage/i.test(instructions)) rules.add("outage");
  if (/update_app/.test(instructions)) rules.add("update");
  return rules;
}

/** Without a rule that applies, the generic fix: a password reset. */
export function decideTechnical(diagnosis: Diagnosis, rules: ReadonlySet<string>): string {
  if (rules.has("locked") && diagnosis.locked) return "fix unlock_account";
  if (rules.has("outage") && diagnosis.outage) return "none";
  if (rules.has("update") && olderVersion(diagnosis.app_version, diagnosis.latest_version)) return "fix update_app";
  return "fix reset_password";
}

function olderVersion(version: string, latest: string): boolean {
  const [a, b] = [version, latest].map((v) => v.split(".").map(Number));
  for (let i = 0; i < Math.max(a!.length, b!.length); i++) {
    const [x, y] = [a![i] ?? 0, b![i] ?? 0];
    if (x !== y) return x < y;
  }
  return false;
}

export function returnsRulesStated(instructions: string): Set<"window" | "software"> {
  const rules = new Set<"window" | "software">();
  if (/\b30 days\b/i.test(instructions)) rules.add("window");
  if (/opened software/i.test(instructions)) rules.add("software");
  return rules;
}

export function decideReturn(order: Order, rules: ReadonlySet<string>): string {
  if (rules.has("window") && order.days_since_delivery > 30) return "none";
  if (rules.has("software") && order.category === "software" && order.opened) return "none";
  return `label ${order.id}`;
}
