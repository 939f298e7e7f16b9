/**
 * The simulated model behind the desk's four agents, for offline runs. It tells which agent is
 * asking from the tools the request offers (never from the instructions, which are what changes),
 * then plays it:
 *
 * - the triage agent hands off to the specialist whose handoff description shares the most words
 *   with the customer's message — imperfect on purpose: a message about a return that mentions a
 *   charge can go to billing. Ties are broken by the seed.
 * - a specialist calls its lookup tool, then decides following only the rules its instructions
 *   state (`rules.ts`), calls its action tool when it decided to act, and replies. With `noise`, a
 *   request is handled as if the instructions stated no rule, for a share of (instructions,
 *   request) pairs fixed by the seed.
 *
 * Every answer is a function of the request and the seed alone, so figures repeat exactly however
 * concurrent rollouts interleave.
 */
import { type Reply, type ResponderRequest, requestMessages, stableHash } from "tracetrain/testing";
import { z } from "zod";
import { DiagnosisSchema, InvoiceSchema, OrderSchema } from "../tasks.js";
import { parseJson, parseObject } from "./json.js";
import { billingIntent, billingRulesStated, decideBilling, decideReturn, decideTechnical, returnsRulesStated, technicalRulesStated } from "./rules.js";

export interface DeskModelOptions {
  seed: number;
  /** Share of (instructions, request) pairs a specialist handles as if its instructions stated no rule. @default 0 */
  noise?: number;
}

/** A tool call the conversation holds, with its result once the tool answered. */
interface ToolExchange {
  name: string;
  args: Record<string, unknown>;
  result: string | undefined;
}

interface Turn {
  /** The customer's message. */
  request: string;
  /** The instructions of the agent asking. */
  instructions: string;
  exchanges: ToolExchange[];
  tools: Array<{ name: string; description: string }>;
}

export function deskResponder(options: DeskModelOptions): (request: ResponderRequest) => Reply {
  const noise = options.noise ?? 0;
  return ({ body }) => {
    const turn = readTurn(body);
    const names = new Set(turn.tools.map((t) => t.name));
    const slips = (agent: string) => (stableHash(`${options.seed}|${agent}|${turn.instructions}|${turn.request}`) % 10_000) / 10_000 < noise;
    if ([...names].some((n) => n.startsWith("transfer_to_"))) return triage(turn, options.seed);
    if (names.has("list_invoices")) return billing(turn, slips("billing"));
    if (names.has("diagnose")) return technical(turn, slips("technical"));
    if (names.has("order_status")) return returns(turn, slips("returns"));
    return { text: "I can only help with questions to the shop's support desk." };
  };
}

function readTurn(body: Record<string, unknown>): Turn {
  const messages = requestMessages(body);
  const raw = (Array.isArray(body.messages) ? body.messages : []) as Array<Record<string, unknown>>;
  const exchanges: ToolExchange[] = [];
  const byId = new Map<string, ToolExchange>();
  for (const message of raw) {
    for (const call of (Array.isArray(message.tool_calls) ? message.tool_calls : []) as Array<{ id?: string; function?: { name?: string; arguments?: string } }>) {
      const exchange = { name: call.function?.name ?? "", args: parseObject(call.function?.arguments ?? "{}"), result: undefined };
      exchanges.push(exchange);
      if (call.id !== undefined) byId.set(call.id, exchange);
    }
    if (message.role === "tool" && typeof message.tool_call_id === "string") {
      const exchange = byId.get(message.tool_call_id);
      if (exchange !== undefined) exchange.result = typeof message.content === "string" ? message.content : JSON.stringify(message.content);
    }
  }
  const tools = ((Array.isArray(body.tools) ? body.tools : []) as Array<{ function?: { name?: unknown; description?: unknown } }>).map((t) => ({
    name: String(t.function?.name ?? ""),
    description: String(t.function?.description ?? ""),
  }));
  return {
    request: messages.find((m) => m.role === "user")?.text ?? "",
    instructions: messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n"),
    exchanges,
    tools,
  };
}

function triage(turn: Turn, seed: number): Reply {
  const words = stems(turn.request);
  const scored = turn.tools.filter((t) => t.name.startsWith("transfer_to_")).map((t) => ({ name: t.name, overlap: [...stems(t.description)].filter((w) => words.has(w)).length }));
  const best = Math.max(...scored.map((s) => s.overlap));
  const tied = scored.filter((s) => s.overlap === best);
  const choice = tied[stableHash(`${seed}|route|${turn.request}`) % tied.length]!;
  return { toolCalls: [{ name: choice.name, arguments: {} }] };
}

const STOP = new Set(["the", "and", "for", "my", "a", "an", "of", "to", "or", "i", "it", "is", "was", "on", "in", "me", "but", "with", "this", "that", "have", "has", "agent", "handle", "request", "handoff"]);

/** The message's words, crudely stemmed, so "charged" meets "charges" and "returning" meets "return". */
function stems(text: string): Set<string> {
  const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
  return new Set(words.filter((w) => !STOP.has(w)).map((w) => w.replace(/(?:ing|ed|es|s|e)$/, "")).filter((w) => w.length > 2));
}

const customerId = (request: string) => /\bC-\d+\b/.exec(request)?.[0] ?? "unknown";
const done = (turn: Turn, tool: string) => turn.exchanges.find((e) => e.name === tool && e.result !== undefined);

function billing(turn: Turn, slip: boolean): Reply {
  const lookup = done(turn, "list_invoices");
  if (lookup === undefined) return { toolCalls: [{ name: "list_invoices", arguments: { customer_id: customerId(turn.request) } }] };
  const refund = done(turn, "issue_refund");
  if (refund !== undefined) return { text: `Done: I refunded ${String(refund.args.amount)} on invoice ${String(refund.args.invoice_id)}.` };
  const invoices = z.array(InvoiceSchema).safeParse(parseJson(lookup.result ?? ""));
  if (!invoices.success) return { text: "I could not find any invoices on your account." };
  const action = decideBilling(billingIntent(turn.request), invoices.data, slip ? new Set() : billingRulesStated(turn.instructions));
  const match = /^refund (\S+) ([\d.]+)$/.exec(action);
  if (match === null) return { text: "I looked at your invoices: I cannot refund this one. Let me know if anything else is wrong." };
  return { toolCalls: [{ name: "issue_refund", arguments: { invoice_id: match[1], amount: Number(match[2]) } }] };
}

function technical(turn: Turn, slip: boolean): Reply {
  const lookup = done(turn, "diagnose");
  if (lookup === undefined) return { toolCalls: [{ name: "diagnose", arguments: { customer_id: customerId(turn.request) } }] };
  const fixed = done(turn, "apply_fix");
  if (fixed !== undefined) return { text: `I applied the ${String(fixed.args.fix)} fix. Please try again.` };
  const diagnosis = DiagnosisSchema.safeParse(parseJson(lookup.result ?? ""));
  if (!diagnosis.success) return { text: "I could not check your account." };
  const action = decideTechnical(diagnosis.data, slip ? new Set() : technicalRulesStated(turn.instructions));
  if (action === "none") return { text: "There is an outage in your region; it is being worked on." };
  return { toolCalls: [{ name: "apply_fix", arguments: { fix: action.replace(/^fix /, "") } }] };
}

function returns(turn: Turn, slip: boolean): Reply {
  const orderId = /\bORD-\d+\b/.exec(turn.request)?.[0];
  if (orderId === undefined) return { text: "Which order is this about? Please give me its number (ORD-…)." };
  const lookup = done(turn, "order_status");
  if (lookup === undefined) return { toolCalls: [{ name: "order_status", arguments: { order_id: orderId } }] };
  if (done(turn, "create_return_label") !== undefined) return { text: `Your return label for ${orderId} is on its way.` };
  const order = OrderSchema.safeParse(parseJson(lookup.result ?? ""));
  if (!order.success) return { text: `I could not find order ${orderId}.` };
  const action = decideReturn(order.data, slip ? new Set() : returnsRulesStated(turn.instructions));
  if (action === "none") return { text: `Order ${orderId} cannot be returned under our policy.` };
  return { toolCalls: [{ name: "create_return_label", arguments: { order_id: orderId } }] };
}
