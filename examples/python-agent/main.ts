/**
 * Trains the system prompt of an agent written in Python (agent.py, standard library only) with
 * APO, and prints a before/after table. The Python program runs once per rollout and reports to
 * the store server over HTTP: its LLM call as OTLP spans, its reward over the REST route.
 *
 *   npm start                                                 # offline: simulated models, no endpoint
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… OPENAI_MODEL=… npm start   # any OpenAI-compatible endpoint
 *
 * Flags: --rounds N (1) --beam N (2) --branch N (2) --runners N (8) --seed N (0)
 * --optimizer-model NAME (OPENAI_MODEL, else gpt-4.1-mini) --python PATH (python3)
 * --token-ids (ask the endpoint for vLLM's token ids; always on with the simulated models).
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import OpenAI from "openai";
import { APO, type APOResult, createStore, type Store, Trainer } from "tracetrain";
import { startStoreServer } from "tracetrain/server";
import { checkPython, type Python, pythonRouter } from "./python.js";
import { startSimulatedModels } from "./simulation.js";
import { pythonSpansSummary, type SpansSummary } from "./summary.js";
import { loadTickets } from "./tickets.js";

const flags = parseFlags();
const python = checkedPython(flags.python);

const simulated = process.env.OPENAI_BASE_URL === undefined;
const simulation = simulated ? await startSimulatedModels() : undefined;
if (simulation) console.error(`using the simulated models at ${simulation.baseUrl} (set OPENAI_BASE_URL to use a real endpoint)`);
const baseURL = simulation?.baseUrl ?? process.env.OPENAI_BASE_URL!;
const apiKey = process.env.OPENAI_API_KEY ?? "none";
const agentModel = simulated ? "ticket-router" : (process.env.OPENAI_MODEL ?? "gpt-4.1-mini");
const optimizerModel = flags.optimizerModel ?? (simulated ? "mock-optimizer" : (process.env.OPENAI_MODEL ?? "gpt-4.1-mini"));

// The store the trainer uses, served over HTTP so that the Python program can write into it.
const store: Store = createStore("memory");
const token = randomBytes(16).toString("hex");
const server = await startStoreServer({ store, port: 0, token });
console.error(`store server at ${server.url}; ${python.version} runs agent.py once per rollout`);

const tickets = await loadTickets();
const trainer = new Trainer({
  store,
  runners: flags.runners,
  initialResources: {
    system: { kind: "prompt_template", template: "You route customer-support tickets to a queue: security, billing, shipping, bugs or general. Reply with the queue's name only." },
    // No apiKey here: resources are stored (and shown on the dashboard); python.ts passes OPENAI_API_KEY on.
    main: { kind: "llm", baseUrl: baseURL, model: agentModel },
  },
  algorithm: new APO({
    client: new OpenAI({ baseURL, apiKey }),
    model: optimizerModel,
    rounds: flags.rounds,
    beamWidth: flags.beam,
    branchFactor: flags.branch,
    seed: flags.seed,
    // The simulated models cost nothing; for real ones APO's price table applies.
    ...(simulated ? { prices: { [agentModel]: { input: 0, output: 0 }, [optimizerModel]: { input: 0, output: 0 } } } : {}),
  }),
});

try {
  const router = pythonRouter({ python: python.executable, storeUrl: server.url, token, returnTokenIds: flags.tokenIds || simulated });
  // A third of the tickets to critique from, a third to score candidates on, a third for the verdict.
  const { result } = await trainer.fit(router, { train: tickets.filter((_, i) => i % 3 === 0), val: tickets.filter((_, i) => i % 3 === 1), test: tickets.filter((_, i) => i % 3 === 2) });
  console.log(report(result, await pythonSpansSummary(store)));
} finally {
  await trainer.close();
  await server.close();
  await store.close();
  await simulation?.close();
}

function report(r: APOResult, spans: SpansSummary): string {
  const score = (s: { score: number; ci95: number }) => `${s.score.toFixed(3)} ± ${s.ci95.toFixed(3)}`;
  const rows = [
    ["", `accuracy on ${r.seed.n} held-out ${r.heldOut.source} tickets (95% CI)`],
    ["seed prompt", score(r.seed)],
    [`best prompt (${r.best.candidateId})`, score(r.best)],
    ["gain (paired)", r.improvement ? `${r.improvement.mean >= 0 ? "+" : ""}${r.improvement.mean.toFixed(3)} ± ${r.improvement.ci95.toFixed(3)}` : "—"],
  ];
  const width = Math.max(...rows.map(([label]) => label!.length));
  const system = (r.best.resources.system as { template: string }).template;
  return [
    ...rows.map(([label, value]) => `${label!.padEnd(width)}  ${value}`),
    "",
    `verdict: ${r.summary}`,
    `rollouts: ${r.spend.rollouts}, each one run of agent.py`,
    `from Python, in the store: ${spans.llmCalls} LLM-call spans (OTLP) in ${spans.attempts} attempts, ${spans.rewards} rewards (REST)`,
    `training data from those spans: ${spans.transitions} transitions (${spans.withTokenIds} with exact token ids), ${spans.chatRecords} chat records`,
    "",
    "best system prompt:",
    ...system.split("\n").map((line) => `  ${line}`),
  ].join("\n");
}

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
        rounds: { type: "string", default: "1" },
        beam: { type: "string", default: "2" },
        branch: { type: "string", default: "2" },
        runners: { type: "string", default: "8" },
        seed: { type: "string", default: "0" },
        "optimizer-model": { type: "string" },
        python: { type: "string", default: "python3" },
        "token-ids": { type: "boolean", default: false },
      },
    });
    return {
      rounds: wholeNumber("rounds", values.rounds, 1),
      beam: wholeNumber("beam", values.beam, 1),
      branch: wholeNumber("branch", values.branch, 1),
      runners: wholeNumber("runners", values.runners, 1),
      seed: wholeNumber("seed", values.seed, 0),
      optimizerModel: values["optimizer-model"],
      python: values.python,
      tokenIds: values["token-ids"],
    };
  } catch (error) {
    fail((error as Error).message);
  }
}

function wholeNumber(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects a whole number ≥ ${min}, got '${value}'`);
  return n;
}

function checkedPython(python: string): Python {
  try {
    return checkPython(python);
  } catch (error) {
    fail((error as Error).message);
  }
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}
