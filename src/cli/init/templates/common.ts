/**
 * The files of a `tracetrain init` project that every framework shares: the tickets and their
 * reward, the simulated models, the main program (evaluate, APO, a before/after table) and the
 * project's configuration. They are strings, not files beside the command, so that the built
 * command carries them (dist/ holds no src/); test/cli/init.test.ts typechecks and runs them.
 */

/** tickets.ts: the task type, the dataset loader and the reward. */
export const TICKETS_TS = `/**
 * The task: route a customer-support ticket to the team that handles it. A ticket is a row of
 * tasks.jsonl; the reward is 1 when the agent's reply names the right team first, else 0.
 */
import { loadDataset } from "tracetrain";
import { z } from "zod";

export const TEAMS = ["billing", "shipping", "technical", "account"] as const;
export type Team = (typeof TEAMS)[number];

const TicketSchema = z.strictObject({ ticket: z.string().min(1), team: z.enum(TEAMS) });
export type Ticket = z.infer<typeof TicketSchema>;

/** The tickets of a JSONL file, each checked: a bad row is reported as FILE:LINE: what is wrong. */
export function loadTickets(path: string): Promise<Ticket[]> {
  return loadDataset(path, { schema: TicketSchema });
}

/** The team a reply names first, if it names one. */
export function teamOf(reply: string | null | undefined): Team | undefined {
  const text = (reply ?? "").toLowerCase();
  let first: { team: Team; at: number } | undefined;
  for (const team of TEAMS) {
    const at = text.search(new RegExp(\`\\\\b\${team}\\\\b\`));
    if (at >= 0 && (first === undefined || at < first.at)) first = { team, at };
  }
  return first?.team;
}

export function rewardOf(task: Ticket, reply: string | null | undefined): number {
  return teamOf(reply) === task.team ? 1 : 0;
}
`;

/** tasks.jsonl: 24 tickets; main.ts splits them into train, validation and held-out test thirds. */
export const TASKS_JSONL = [
  ["My package has not arrived and the tracking page stopped updating.", "shipping"],
  ["The app crashes every time I open the settings screen.", "technical"],
  ["I need a copy of my invoice for March.", "billing"],
  ["My order arrived fine but I was charged twice for it.", "billing"],
  ["The app took my payment but the subscription is not active.", "billing"],
  ["The page freezes on the sign in screen.", "account"],
  ["The app says error 401 when I try to log in.", "account"],
  ["After the app update I am locked out.", "account"],
  ["My account page shows an invoice I never asked for.", "billing"],
  ["How do I change the email address on my account?", "account"],
  ["Can you tell me when my order will be delivered?", "shipping"],
  ["The website shows an error when I search for shoes.", "technical"],
  ["I returned the package last week and still have no refund.", "billing"],
  ["Cancelled the order yesterday, when will the refund reach my card?", "billing"],
  ["I tried to order again but can no longer log in.", "account"],
  ["The website keeps rejecting my password after the update.", "account"],
  ["My account says delivered, but one item is missing from the box.", "shipping"],
  ["I got the wrong item; the website listed a blue lamp.", "shipping"],
  ["Please update my profile name, it is misspelled.", "account"],
  ["Where is my parcel? It was shipped a week ago.", "shipping"],
  ["Your subscription price went up, what are the new plans?", "billing"],
  ["The app shows my order as complete but the mug arrived damaged.", "shipping"],
  ["How much does express shipping cost?", "billing"],
  ["Do you have a discount for students?", "billing"],
]
  .map(([ticket, team]) => `${JSON.stringify({ ticket, team })}\n`)
  .join("");

/** mock-model.ts: the simulated support and optimizer models of the offline run. */
export const MOCK_MODEL_TS = `/**
 * The simulated models that let this project run offline (no endpoint, no key), served on loopback
 * by tracetrain's mock LLM. They are not language models; they behave the way a model does where
 * the optimization is concerned:
 *
 * - the support model routes a ticket by the first team keyword it mentions, unless its system
 *   prompt states a routing rule that covers the ticket — so a prompt scores better only by
 *   stating the desk's rules, and some tickets no rule here fixes;
 * - the optimizer model (APO's critiques and edits) reads the failed runs, names the unstated
 *   rules that would have fixed them, and adds the rules a critique names to the template.
 *
 * A reply depends only on its request (and the request's seed), so a run's figures repeat
 * whatever order the runners' requests arrive in. Once you run against a real endpoint
 * (OPENAI_BASE_URL), this file is not used.
 */
import { type MockLlm, type Reply, type Responder, requestMessages, startMockLlm } from "tracetrain/testing";
import { type Team, TEAMS } from "./tickets.js";

export const SUPPORT_MODEL = "simulated-support-model";
export const OPTIMIZER_MODEL = "simulated-optimizer-model";

interface Rule {
  sentence: string;
  /** How the support model recognises the rule in its system prompt. */
  stated: RegExp;
  /** The tickets it decides. */
  covers: RegExp;
  team: Team;
}

/** The desk's routing policies: the support model follows one only when its prompt states it. */
const RULES: readonly Rule[] = [
  {
    sentence: "Anything about money (refunds, charges, payments, invoices) goes to billing, even when the ticket also mentions an order or the app.",
    stated: /refund|charge|payment|invoice/i,
    covers: /\\b(refund|charged|payment|invoice)\\b/i,
    team: "billing",
  },
  {
    sentence: "Trouble signing in (passwords, log-in errors, locked accounts) goes to account, even when the app or website shows an error.",
    stated: /password|sign(ing)? in|log-?in|locked/i,
    covers: /\\b(password|log in|sign in|locked)\\b/i,
    team: "account",
  },
  {
    sentence: "Damaged, missing or wrong items go to shipping, whatever else the ticket mentions.",
    stated: /damaged|missing|wrong item/i,
    covers: /\\b(damaged|missing|wrong item)\\b/i,
    team: "shipping",
  },
];

/** What makes the support model think of a team when no stated rule decides. */
const KEYWORDS: Record<Team, RegExp> = {
  billing: /\\b(invoice|charged?|refund|payment|price|subscription)\\b/i,
  shipping: /\\b(order|package|parcel|delivered|shipping|shipped|tracking)\\b/i,
  technical: /\\b(app|crash(es)?|error|bug|website|page)\\b/i,
  account: /\\b(account|password|email address|profile)\\b/i,
};

/** The team the support model picks: by the first stated rule that covers the ticket, else by its first keyword. */
export function route(systemPrompt: string, ticket: string): Team {
  const rule = RULES.find((r) => r.stated.test(systemPrompt) && r.covers.test(ticket));
  if (rule !== undefined) return rule.team;
  const mentioned = TEAMS.map((team) => ({ team, at: ticket.search(KEYWORDS[team]) })).filter((m) => m.at >= 0);
  return mentioned.sort((a, b) => a.at - b.at)[0]?.team ?? "technical";
}

const supportModel: Responder = ({ body }) => {
  const messages = requestMessages(body);
  const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.text).join("\\n");
  const ticket = messages.findLast((m) => m.role === "user")?.text ?? "";
  return { text: \`This ticket goes to \${route(system, ticket)}.\` };
};

const optimizerModel: Responder = ({ body, lastUserText }) => {
  // A sampling model answers one prompt in several ways; here the request's seed picks the way.
  const sample = typeof body.seed === "number" ? body.seed : 0;
  return lastUserText.includes("<template>") ? edit(lastUserText) : critique(lastUserText, sample);
};

/** Names the unstated rules that would have fixed the most failed runs (two, starting at a seeded one of the best three). */
function critique(prompt: string, sample: number): Reply {
  const template = quoted(prompt);
  const fixes = new Map<Rule, number>();
  for (const run of failedRuns(prompt)) {
    for (const rule of RULES) {
      if (rule.team === run.team && rule.covers.test(run.ticket) && !rule.stated.test(template)) fixes.set(rule, (fixes.get(rule) ?? 0) + 1);
    }
  }
  const ranked = [...fixes.entries()].sort((a, b) => b[1] - a[1] || RULES.indexOf(a[0]) - RULES.indexOf(b[0]));
  if (ranked.length === 0) return { text: "- The failed tickets follow no routing rule I can name.\\nTARGET: system" };
  const start = sample % Math.min(3, ranked.length);
  const chosen = [...ranked.slice(start), ...ranked.slice(0, start)].slice(0, 2);
  const bullets = chosen.map(([rule, count]) => \`- \${count} failed ticket(s) needed a rule the prompt never states: \${rule.sentence}\`);
  return { text: \`\${bullets.join("\\n")}\\nTARGET: system\` };
}

/** Appends to the template the rules the critique states. */
function edit(prompt: string): Reply {
  const template = quoted(prompt);
  const added = RULES.filter((rule) => prompt.includes(rule.sentence) && !template.includes(rule.sentence)).map((rule) => rule.sentence);
  return { text: \`<template>\\n\${[template, ...added].join("\\n")}\\n</template>\` };
}

/** The first """-quoted block of an optimizer instruction: the template under review. */
function quoted(prompt: string): string {
  return /"""\\n([\\s\\S]*?)\\n"""/.exec(prompt)?.[1] ?? "";
}

/** The runs below reward 1, as APO's experiments text shows them (### Run N: reward R, then Task: JSON). */
function failedRuns(prompt: string): Array<{ ticket: string; team: string }> {
  return prompt
    .split(/^### Run \\d+: /m)
    .slice(1)
    .flatMap((block) => {
      const reward = Number.parseFloat(/^reward (-?[\\d.]+)/.exec(block)?.[1] ?? "0");
      const task = /^Task: (.*)$/m.exec(block)?.[1];
      if (!(reward < 1) || task === undefined) return [];
      try {
        const { ticket, team } = JSON.parse(task) as { ticket?: unknown; team?: unknown };
        return typeof ticket === "string" && typeof team === "string" ? [{ ticket, team }] : [];
      } catch {
        return []; // a task clipped for length cannot be read; the other runs still count
      }
    });
}

/** Both models behind one endpoint; the request's model name says which is asked. */
export function startSimulatedModels(): Promise<MockLlm> {
  return startMockLlm({ responder: (request) => (request.body.model === OPTIMIZER_MODEL ? optimizerModel(request) : supportModel(request)) });
}
`;

/** main.ts: evaluate the agent, optimize its prompt with APO, print the table. */
export const MAIN_TS = `/**
 * Evaluates the ticket router as it is, lets APO rewrite its system prompt, and prints a
 * before/after table on held-out tickets.
 *
 *   npm start                    # offline: the simulated models of mock-model.ts, no key needed
 *   OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_API_KEY=sk-… OPENAI_MODEL=gpt-4.1-mini npm start
 *
 * Flags: --rounds N (3) --seed N (0) --store URL (memory; e.g. sqlite:./.tracetrain/tracetrain.db
 * keeps the run for \`npx tracetrain dashboard --store .tracetrain/tracetrain.db\`).
 * With a real endpoint, OPTIMIZER_MODEL names the optimizer's model (default: OPENAI_MODEL) and
 * the run stops at $1 of spend.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { APO, type APOResult, Trainer } from "tracetrain";
import { triage } from "./agent.js";
import { OPTIMIZER_MODEL, startSimulatedModels, SUPPORT_MODEL } from "./mock-model.js";
import { loadTickets } from "./tickets.js";

const SEED_PROMPT = "You route customer support tickets to one of four teams: billing, shipping, technical or account. Reply with the team's name.";

const flags = readFlags();
const endpoint = process.env.OPENAI_BASE_URL || undefined;
const simulated = endpoint === undefined ? await startSimulatedModels() : undefined;
if (simulated !== undefined) console.error("OPENAI_BASE_URL is not set: using the simulated models of mock-model.ts");
const baseUrl = simulated?.baseUrl ?? endpoint ?? "";
const model = simulated ? SUPPORT_MODEL : (process.env.OPENAI_MODEL ?? "gpt-4.1-mini");
const optimizerModel = simulated ? OPTIMIZER_MODEL : (process.env.OPTIMIZER_MODEL ?? model);

// A third of the tickets shows APO the agent's failures, a third scores its candidates, a third
// is held out for the verdict.
const tickets = await loadTickets(fileURLToPath(new URL("./tasks.jsonl", import.meta.url)));
const train = tickets.filter((_, i) => i % 3 === 0);
const val = tickets.filter((_, i) => i % 3 === 1);
const test = tickets.filter((_, i) => i % 3 === 2);

const trainer = new Trainer({
  store: flags.store,
  runners: 4,
  initialResources: {
    system: { kind: "prompt_template", template: SEED_PROMPT },
    main: { kind: "llm", baseUrl, model },
  },
  algorithm: new APO({
    client: new OpenAI({ baseURL: baseUrl, apiKey: process.env.OPENAI_API_KEY ?? "none" }),
    model: optimizerModel,
    rounds: flags.rounds,
    beamWidth: 2,
    branchFactor: 2,
    seed: flags.seed,
    // The simulated models cost nothing; real ones are priced by APO's table, and the run stops at $1.
    ...(simulated ? { prices: { [model]: { input: 0, output: 0 }, [optimizerModel]: { input: 0, output: 0 } } } : { maxUsd: 1 }),
  }),
});

try {
  const before = await trainer.evaluate(triage, test);
  const { result } = await trainer.fit(triage, { train, val, test });
  console.log(report(before.meanRewardWithFailuresAsZero, result));
} finally {
  await trainer.close();
  await simulated?.close();
}

function report(before: number, result: APOResult): string {
  const gain = result.improvement ? \`\${result.improvement.mean >= 0 ? "+" : ""}\${result.improvement.mean.toFixed(3)} ± \${result.improvement.ci95.toFixed(3)}\` : "—";
  const rows = [
    ["", \`accuracy on \${test.length} held-out tickets\`],
    ["before: seed prompt", before.toFixed(3)],
    ["after: APO's best prompt", \`\${result.best.score.toFixed(3)} ± \${result.best.ci95.toFixed(3)}\`],
    ["gain (paired)", gain],
  ];
  const width = Math.max(...rows.map(([label]) => (label ?? "").length));
  const best = result.best.resources.system;
  return [
    ...rows.map(([label, value]) => \`\${(label ?? "").padEnd(width)}  \${value}\`),
    "",
    \`verdict: \${result.summary}\`,
    \`rollouts: \${result.spend.rollouts}; optimizer tokens: \${result.spend.optimizerTokens.input + result.spend.optimizerTokens.output}\`,
    "",
    "best system prompt:",
    ...(best?.kind === "prompt_template" ? best.template : "").split("\\n").map((line) => \`  \${line}\`),
  ].join("\\n");
}

function readFlags(): { rounds: number; seed: number; store: string } {
  try {
    const { values } = parseArgs({
      options: { rounds: { type: "string", default: "3" }, seed: { type: "string", default: "0" }, store: { type: "string", default: "memory" } },
    });
    return { rounds: wholeNumber("--rounds", values.rounds, 1), seed: wholeNumber("--seed", values.seed, 0), store: values.store };
  } catch (error) {
    console.error(\`error: \${error instanceof Error ? error.message : String(error)}\`);
    process.exit(2);
  }
}

function wholeNumber(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < min) throw new Error(\`\${flag} expects a whole number ≥ \${min}, got '\${text}'\`);
  return n;
}
`;

export const TSCONFIG_JSON = `${JSON.stringify(
  {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2023"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      types: ["node"],
      noEmit: true,
    },
    include: ["*.ts"],
  },
  null,
  2,
)}\n`;

export const GITIGNORE = "node_modules/\n.tracetrain/\n*.db\n*.db-wal\n*.db-shm\n";
