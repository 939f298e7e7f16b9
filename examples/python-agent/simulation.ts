/**
 * The offline mode: two simulated, deterministic models behind one OpenAI-compatible endpoint
 * (tracetrain/testing's mock LLM). They show the pipeline working end to end; they are not a
 * language model.
 *
 * - **The router model** routes a ticket by the routing rules its system prompt states, and only
 *   those: a rule it was not told, it does not apply. Told nothing, it names a queue only when the
 *   ticket names it, else answers "general".
 * - **The optimizer model** answers APO's critique and edit instructions. Its critique reads the
 *   failed runs as APO shows them — the ticket and the agent's answer from the conversation the
 *   Python agent's spans recorded, the expected queue from the evaluator's feedback — and states
 *   the unstated rule that would have fixed the most of them; its edit appends the rules a
 *   critique states. With no conversation recorded there is nothing to diagnose.
 */
import { type Reply, type Responder, requestMessages, stableHash, startMockLlm } from "tracetrain/testing";

export const QUEUES = ["security", "billing", "shipping", "bugs", "general"] as const;
export type Queue = (typeof QUEUES)[number];

export interface Rule {
  queue: Exclude<Queue, "general">;
  /** The sentence that states the rule in a system prompt. */
  sentence: string;
  /** How the router model recognises the rule in its system prompt. */
  stated: RegExp;
  /** The tickets the rule sends to its queue, as the router model reads them. */
  matches: RegExp;
}

/** In the order the router model applies them: security wins over whatever else a ticket mentions. */
export const RULES: readonly Rule[] = [
  {
    queue: "security",
    sentence: "Tickets about a hacked account, phishing, a stolen password or a login the customer does not recognise go to security, whatever else they mention.",
    stated: /hacked|phishing/i,
    matches: /hack|phishing|stolen|never been to|login from/i,
  },
  { queue: "billing", sentence: "Tickets about a charge, a payment, an invoice or a refund go to billing.", stated: /invoice|refund/i, matches: /charg|payment|invoice|refund|unpaid/i },
  {
    queue: "shipping",
    sentence: "Tickets about a delivery, a parcel, a package, a courier or a tracking number go to shipping.",
    stated: /parcel|tracking/i,
    matches: /deliver|parcel|package|courier|tracking|ship/i,
  },
  {
    queue: "bugs",
    sentence: "Tickets that report an error, a crash, a freeze or a feature that stopped working go to bugs.",
    stated: /crash|stopped working/i,
    matches: /error|crash|freez|stopped working/i,
  },
];

/** The rules a system prompt states. */
export function rulesStated(system: string): Rule[] {
  return RULES.filter((rule) => rule.stated.test(system));
}

/** The queue a router that knows exactly `rules` picks for a ticket. */
export function route(ticket: string, rules: readonly Rule[]): Queue {
  const applied = rules.find((rule) => rule.matches.test(ticket));
  if (applied) return applied.queue;
  return QUEUES.find((queue) => new RegExp(`\\b${queue}\\b`, "i").test(ticket)) ?? "general";
}

/** The router model: a one-line answer naming a queue. */
export function routerModel(): Responder {
  return ({ body }) => {
    const messages = requestMessages(body);
    const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\n");
    const ticket = messages.findLast((m) => m.role === "user")?.text ?? "";
    return { text: `Queue: ${route(ticket, rulesStated(system))}` };
  };
}

/** The optimizer model, for APO's default critique and edit instructions. */
export function optimizerModel(): Responder {
  return ({ lastUserText, body }) => {
    // Like a sampling model, answers to one prompt vary — here with the request's seed, so they are reproducible.
    const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
    return lastUserText.includes("</template>") ? edit(lastUserText, sample) : critique(lastUserText, sample);
  };
}

/** Both models behind one endpoint: APO's instructions (which quote a template) go to the optimizer. */
export function simulatedResponder(): Responder {
  const router = routerModel();
  const optimizer = optimizerModel();
  return (request) => (request.lastUserText.includes('"""') ? optimizer(request) : router(request));
}

export async function startSimulatedModels(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const llm = await startMockLlm({ responder: simulatedResponder() });
  return { baseUrl: llm.baseUrl, close: () => llm.close() };
}

function critique(prompt: string, sample: number): Reply {
  const known = new Set(rulesStated(quoted(prompt)));
  const fixes = new Map<Rule, number>();
  for (const run of failedRuns(prompt)) {
    // The rule that sends this ticket where it belonged, if the template does not state it yet.
    const rule = RULES.find((r) => r.queue === run.expected && r.matches.test(run.ticket));
    if (rule && !known.has(rule)) fixes.set(rule, (fixes.get(rule) ?? 0) + 1);
  }
  const ranked = [...fixes.entries()].sort((a, b) => b[1] - a[1] || RULES.indexOf(a[0]) - RULES.indexOf(b[0]));
  if (ranked.length === 0) return { text: "- The failed runs are not explained by a missing rule.\nTARGET: system" };
  // A bullet per distinct mistake, at most three, starting from one of the strongest, so the children of one parent differ.
  const start = sample % Math.min(2, ranked.length);
  const chosen = [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 3);
  return { text: `${chosen.map(([rule, n]) => `- ${n} failed run(s) needed a rule the template never states: ${rule.sentence}`).join("\n")}\nTARGET: system` };
}

function edit(prompt: string, sample: number): Reply {
  const template = quoted(prompt);
  const added = RULES.filter((rule) => prompt.includes(rule.sentence) && !template.includes(rule.sentence)).map((rule) => rule.sentence);
  const revised = [template, ...added].join("\n");
  return { text: sample % 2 === 0 ? `<template>\n${revised}\n</template>` : `Here is the revision:\n<template>${revised}</template>` };
}

/** The first `"""`-quoted block of an instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? "";
}

/** Runs with a reward below 1: the ticket and answer from the recorded conversation, the expected queue from the feedback. */
function failedRuns(prompt: string): Array<{ ticket: string; answer: string; expected: Queue }> {
  const out: Array<{ ticket: string; answer: string; expected: Queue }> = [];
  for (const block of prompt.split(/^### Run \d+: /m).slice(1)) {
    const reward = Number.parseFloat(/^reward (-?[\d.]+)/.exec(block)?.[1] ?? "0");
    const expected = /^Feedback: expected (\w+)/m.exec(block)?.[1];
    const ticket = /^\[user\] (.*)$/m.exec(block)?.[1];
    const answer = /^\[assistant\] (.*)$/m.exec(block)?.[1];
    if (!(reward < 1) || ticket === undefined || answer === undefined || !QUEUES.includes(expected as Queue)) continue;
    out.push({ ticket, answer, expected: expected as Queue });
  }
  return out;
}
