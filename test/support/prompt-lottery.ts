/**
 * The prompt lottery: an agent no prompt can improve, for checking that an optimizer does not
 * call luck an improvement (the winner's curse).
 *
 * The agent reads two prompt templates (`system`, and `request` with an `{{id}}` placeholder),
 * makes one real LLM call with them (so the tracer records which text it read, as an optimizer
 * that reads traces expects), and scores itself by a hash of the text it read and the task:
 * reward 1 on a fixed share of the (prompt, task) pairs, 0 on the others. It is deterministic —
 * the same prompt on the same task always scores the same — and every prompt has the same
 * expected reward, so no edit brings a real gain: any candidate that "beats" the seed was lucky on
 * the tasks it was scored on.
 *
 * The optimizer responder answers APO's critique and edit instructions and GEPA's reflection:
 * every request for a template (one that asks for `</template>`) gets the quoted template back
 * with one sentence appended, chosen by the request's `seed` — so each call makes a different,
 * valid edit (placeholders kept). Anything else gets a bland critique blaming `system`.
 *
 * Use: `const lottery = promptLottery()`, then {@link fitLottery} with your algorithm, or wire
 * `lottery.agent`, `lottery.responder` (for `startMockLlm`) and `lottery.resources(baseUrl)`
 * yourself.
 */
import OpenAI from "openai";
import { type Agent, type Algorithm, agent, type FitResult, type Store, Trainer, type TrainerOptions } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type MockLlm, type Responder, stableHash, startMockLlm } from "tracetrain/testing";

/** A task: just its number (a type alias, so it is a JSON object to the trainer's types). */
export type LotteryTask = { id: number };

export interface PromptLottery {
  /** The lottery agent: one LLM call, then the reward the hash gives. */
  agent: Agent<LotteryTask>;
  /** The mock LLM's responder: the agent's calls and the optimizer's. */
  responder: Responder;
  /** Tasks `from`, `from + 1`, …: `n` of them. Disjoint ranges make disjoint splits. */
  tasks(n: number, from?: number): LotteryTask[];
  /** The resources to start from (`system`, `request`, and the LLM `main` at `baseUrl`). */
  resources(baseUrl: string): Record<string, unknown>;
  /** The reward the agent earns with these two (filled-in) prompt texts on this task. */
  reward(system: string, request: string, task: LotteryTask): number;
}

export interface LotteryOptions {
  /** The share of (prompt, task) pairs that earn 1. @default 0.5 */
  rate?: number;
}

/** The agent's model name; its calls are told from the optimizer's by it. */
const AGENT_MODEL = "lottery-agent";

const SEED = {
  system: { kind: "prompt_template", template: "You answer lottery questions. Reply with one word." },
  request: { kind: "prompt_template", template: "Task {{id}}: pick a number.", engine: "mustache" },
} as const;

const SENTENCES = ["Be precise.", "Check the task twice.", "Think before answering.", "Prefer short answers.", "State your reasoning.", "Read the task carefully.", "Avoid guessing.", "Answer calmly."];

/** A fresh lottery. */
export function promptLottery(options: LotteryOptions = {}): PromptLottery {
  const rate = options.rate ?? 0.5;
  const reward = (system: string, request: string, task: LotteryTask) => (stableHash(`${system}\n${request}\n#${task.id}`) % 10_000 < rate * 10_000 ? 1 : 0);
  const clients = new Map<string, OpenAI>();
  const lotteryAgent = agent(
    async (task: LotteryTask, ctx) => {
      const system = ctx.prompt("system").format({});
      const request = ctx.prompt("request").format({ id: task.id });
      const llm = ctx.llm("main");
      let client = clients.get(llm.baseUrl);
      if (!client) clients.set(llm.baseUrl, (client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 })));
      await client.chat.completions.create({ model: llm.model, messages: [{ role: "system", content: system }, { role: "user", content: request }] }, { signal: ctx.signal });
      return reward(system, request, task);
    },
    { name: "lottery", resources: ["system", "request", "main"] },
  );
  return {
    agent: lotteryAgent,
    responder: lotteryResponder,
    tasks: (n, from = 0) => Array.from({ length: n }, (_, i) => ({ id: from + i })),
    resources: (baseUrl) => ({ ...SEED, main: { kind: "llm", baseUrl, model: AGENT_MODEL } }),
    reward,
  };
}

const lotteryResponder: Responder = ({ body, lastUserText }) => {
  if (body.model === AGENT_MODEL) return { text: "seven" };
  if (!lastUserText.includes("</template>")) return { text: "- The answers look arbitrary; ask for more care.\nTARGET: system" };
  const template = /"""\n([\s\S]*?)\n"""/.exec(lastUserText)?.[1] ?? "";
  const sample = typeof body.seed === "number" ? body.seed : stableHash(lastUserText);
  return { text: `<template>\n${template} ${SENTENCES[sample % SENTENCES.length]} (${sample % 997})\n</template>` };
};

export interface LotteryRun<R> {
  fit: FitResult<R>;
  result: R;
  store: Store;
  warnings: string[];
}

/**
 * Runs `make(optimizerClient)` as the trainer's algorithm on the lottery agent, over a fresh mock
 * LLM and (unless given) a fresh memory store; `progress` is the trainer's (off by default).
 */
export async function fitLottery<R>(
  make: (client: OpenAI) => Algorithm<R>,
  splits: { train: readonly LotteryTask[]; val: readonly LotteryTask[]; test?: readonly LotteryTask[] },
  options: { store?: Store; lottery?: PromptLottery; progress?: TrainerOptions["progress"] } = {},
): Promise<LotteryRun<R>> {
  const lottery = options.lottery ?? promptLottery();
  const llm: MockLlm = await startMockLlm({ responder: lottery.responder });
  const store = options.store ?? new MemoryStore();
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
  const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
  const trainer = new Trainer({ store, runners: 8, progress: options.progress ?? false, logger, handleSignals: false, initialResources: lottery.resources(llm.baseUrl) as never, algorithm: make(client) });
  try {
    const fit = await trainer.fit(lottery.agent, splits);
    return { fit, result: fit.result, store, warnings };
  } finally {
    await trainer.close();
    await llm.close();
  }
}

