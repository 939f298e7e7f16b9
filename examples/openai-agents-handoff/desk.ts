/**
 * The support desk, written with the OpenAI Agents SDK as any team would write it: a triage agent
 * that hands each request off to one of three specialists, each with a lookup tool and an action
 * tool. Nothing here knows about tracetrain; `agent.ts` wraps it.
 */
import { Agent, type Model, run, setTraceProcessors, setTracingDisabled, tool } from "@openai/agents";
import { z } from "zod";
import type { Records, Specialist } from "./tasks.js";

// tracetrain records handoffs and agents from the SDK's own tracing, which is off under
// NODE_ENV=test; its default exporter would send every trace to OpenAI.
setTraceProcessors([]);
setTracingDisabled(false);

export const AGENT_NAMES = ["triage", "billing", "technical", "returns"] as const;
export type AgentName = (typeof AGENT_NAMES)[number];
export type Instructions = Record<AgentName, string>;

/** What a run of the desk did: who ended up with the request, what the action tools did, the reply. */
export interface DeskOutcome {
  handledBy: string | undefined;
  actions: string[];
  reply: string;
}

/** What each specialist is for, as the triage agent sees it in its handoff tools. */
export const HANDOFF_DESCRIPTIONS: Record<Specialist, string> = {
  billing: "Charges, invoices, payments, refunds of charges, subscriptions and plans.",
  technical: "Login problems, locked accounts, error messages, crashes, outages and app updates.",
  returns: "Returning or exchanging a delivered order, return labels, broken or wrong items.",
};

export async function runDesk(request: string, options: { instructions: Instructions; model: Model; records: Records; signal?: AbortSignal }): Promise<DeskOutcome> {
  const actions: string[] = [];
  const triage = createDesk(options.instructions, options.model, options.records, actions);
  const result = await run(triage, request, { maxTurns: 10, signal: options.signal });
  return { handledBy: result.lastAgent?.name, actions, reply: String(result.finalOutput ?? "") };
}

/** The four agents over one customer's records; action tools append what they did to `actions`. */
export function createDesk(instructions: Instructions, model: Model, records: Records, actions: string[]): Agent {
  const specialist = (name: Specialist, tools: Agent["tools"]) =>
    new Agent({ name, instructions: instructions[name], handoffDescription: HANDOFF_DESCRIPTIONS[name], model, tools });
  const billing = specialist("billing", billingTools(records, actions));
  const technical = specialist("technical", technicalTools(records, actions));
  const returns = specialist("returns", returnsTools(records, actions));
  return new Agent({ name: "triage", instructions: instructions.triage, model, handoffs: [billing, technical, returns] });
}

const json = (value: unknown) => JSON.stringify(value);

function billingTools(records: Records, actions: string[]) {
  return [
    tool({
      name: "list_invoices",
      description: "Lists the customer's invoices: id, item, amount, how many days ago it was issued, and whether it is paid or already refunded.",
      parameters: z.object({ customer_id: z.string() }),
      execute: async () => json(records.invoices ?? { error: "no invoices for this customer" }),
    }),
    tool({
      name: "issue_refund",
      description: "Refunds an amount (up to the invoice's amount) on one invoice.",
      parameters: z.object({ invoice_id: z.string(), amount: z.number() }),
      execute: async ({ invoice_id, amount }) => {
        const invoice = records.invoices?.find((i) => i.id === invoice_id);
        if (invoice === undefined) return json({ error: `no invoice ${invoice_id}` });
        if (!(amount > 0 && amount <= invoice.amount)) return json({ error: `the amount must be more than 0 and at most ${invoice.amount}` });
        actions.push(`refund ${invoice_id} ${amount.toFixed(2)}`);
        return json({ ok: true, refunded: amount, invoice_id });
      },
    }),
  ];
}

function technicalTools(records: Records, actions: string[]) {
  return [
    tool({
      name: "diagnose",
      description: "Checks the customer's account: whether it is locked, whether their region has an outage, and their app version against the latest.",
      parameters: z.object({ customer_id: z.string() }),
      execute: async () => json(records.diagnosis ?? { error: "no account diagnostics for this customer" }),
    }),
    tool({
      name: "apply_fix",
      description: "Applies a fix to the customer's account.",
      parameters: z.object({ fix: z.enum(["unlock_account", "update_app", "reset_password"]) }),
      execute: async ({ fix }) => {
        actions.push(`fix ${fix}`);
        return json({ ok: true, fix });
      },
    }),
  ];
}

function returnsTools(records: Records, actions: string[]) {
  return [
    tool({
      name: "order_status",
      description: "Looks up an order: the item, its category, how many days ago it was delivered and whether it was opened.",
      parameters: z.object({ order_id: z.string() }),
      execute: async ({ order_id }) => json(records.orders?.find((o) => o.id === order_id) ?? { error: `no order ${order_id}` }),
    }),
    tool({
      name: "create_return_label",
      description: "Creates a prepaid return label for an order.",
      parameters: z.object({ order_id: z.string() }),
      execute: async ({ order_id }) => {
        if (records.orders?.some((o) => o.id === order_id) !== true) return json({ error: `no order ${order_id}` });
        actions.push(`label ${order_id}`);
        return json({ ok: true, order_id });
      },
    }),
  ];
}
