/**
 * The rules of the refund desk as the simulated models know them. Each rule can be stated in one
 * component only: the shop's policy in the `system` prompt, how to call the tool in the
 * `lookup_tool` description. The agent model follows a rule only when the component that states
 * it does; the optimizer model proposes a rule only when the runs it reads show a failure the rule
 * would have fixed.
 *
 * Interactions: `loyal` needs the history that only `history` makes the tool return (each is
 * worth nothing without the other), and `not_found` and `strip_hash` both change what a failed
 * lookup leads to.
 */
import { DAMAGE_WORDS, type Decision, type LookupResult, type RefundRequest } from "../orders.js";

export type ComponentKind = "system" | "tool";
export type RuleId = "damaged" | "final_sale" | "late" | "loyal" | "not_found" | "strip_hash" | "history";

export interface Rule {
  id: RuleId;
  /** The component that can state it. */
  component: ComponentKind;
  sentence: string;
  /** How the agent model recognises the rule in that component's text. */
  stated: RegExp;
}

export const RULES: readonly Rule[] = [
  { id: "damaged", component: "system", sentence: "If the item arrived damaged, refund in full, whatever the other rules say.", stated: /\bdamaged\b/i },
  { id: "final_sale", component: "system", sentence: "Items sold as final sale are not refunded: offer store credit instead.", stated: /final[- ]sale/i },
  { id: "late", component: "system", sentence: "Deny the refund when the order was delivered more than 30 days ago.", stated: /\b30 days\b/i },
  { id: "loyal", component: "system", sentence: "Exception: refund a late order anyway when the order history shows more than 3 earlier orders.", stated: /more than 3 earlier orders/i },
  { id: "not_found", component: "system", sentence: "If the order cannot be found, escalate to a human agent.", stated: /cannot be found|not found/i },
  { id: "strip_hash", component: "tool", sentence: "Pass the order id without the leading '#' (write A10037, not #A10037).", stated: /without the leading '#'|without the '#'|strip the '#'/i },
  { id: "history", component: "tool", sentence: "To see the customer's earlier orders, call it with include_history: true.", stated: /include_history/i },
];

export function ruleById(id: RuleId): Rule {
  return RULES.find((r) => r.id === id)!;
}

/** The rules a component's text states (only rules that component can state). */
export function rulesStated(text: string, component: ComponentKind): Set<RuleId> {
  return new Set(RULES.filter((rule) => rule.component === component && rule.stated.test(text)).map((rule) => rule.id));
}

/** The arguments the agent passes to `lookup_order`, following the tool rules it knows. */
export function lookupArguments(request: RefundRequest, rules: ReadonlySet<RuleId>): { order_id: string; include_history?: true } {
  const orderId = rules.has("strip_hash") ? request.order_id.replace(/^#/, "") : request.order_id;
  return rules.has("history") ? { order_id: orderId, include_history: true } : { order_id: orderId };
}

/**
 * The decision of an agent that knows exactly `rules`, given the request and what the tool
 * returned. Without rules it refunds whatever it finds and denies what it cannot: plausible, and
 * wrong for most requests.
 */
export function decideWith(request: RefundRequest, result: LookupResult, rules: ReadonlySet<RuleId>): Decision {
  if ("error" in result) return rules.has("not_found") ? "escalate" : "deny";
  if (rules.has("damaged") && DAMAGE_WORDS.test(request.message)) return "refund";
  if (rules.has("final_sale") && result.final_sale) return "credit";
  if (rules.has("late") && result.delivered_days_ago > 30) {
    // The exception needs the history in the tool's answer: a rule about data the agent never sees does nothing.
    return rules.has("loyal") && result.history !== undefined && result.history.earlier_orders > 3 ? "refund" : "deny";
  }
  return "refund";
}

/** What a reviewer sees of one run: the request, the expected answer, the lookups and the answer. */
export interface ObservedRun {
  request: RefundRequest;
  expected: Decision;
  answer: string;
  lookups: Array<{ arguments: Record<string, unknown>; result: LookupResult | undefined }>;
}

/**
 * The rules whose absence a failed run shows, judged only from what the run text holds: a rule
 * is evidenced when the visible facts (the request, the tool's answers, the expected decision)
 * contradict what the agent did, and the rule is the one that settles it.
 */
export function evidencedRules(run: ObservedRun): RuleId[] {
  if (run.answer === run.expected) return [];
  const out: RuleId[] = [];
  const found = run.lookups.map((l) => l.result).find((r): r is Exclude<LookupResult, { error: string }> => r !== undefined && !("error" in r));
  const failed = run.lookups.filter((l) => l.result !== undefined && "error" in l.result);
  if (!found) {
    if (failed.some((l) => String(l.arguments.order_id ?? "").startsWith("#")) && run.expected !== "escalate") out.push("strip_hash");
    if (failed.length > 0 && run.expected === "escalate") out.push("not_found");
    return out;
  }
  const damaged = DAMAGE_WORDS.test(run.request.message);
  const late = found.delivered_days_ago > 30;
  if (damaged && run.expected === "refund") out.push("damaged");
  else if (!damaged && found.final_sale && run.expected === "credit") out.push("final_sale");
  else if (!damaged && !found.final_sale && late && run.expected === "deny") out.push("late");
  else if (!damaged && !found.final_sale && late && run.expected === "refund") {
    // A late order that should have been refunded: the reason is in the history — if the run shows it.
    if (found.history === undefined) out.push("history");
    else if (found.history.earlier_orders > 3) out.push("loyal");
  }
  return out;
}
