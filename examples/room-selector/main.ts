/**
 * Optimizes the room-selector agent's prompts with APO and prints a before/after table.
 *
 *   npm run example:rooms                                   # simulated models, no endpoint needed
 *   OPENAI_API_KEY=sk-… npm run example:rooms -- --rounds 2  # OpenAI (or set OPENAI_BASE_URL for any compatible server)
 *
 * Flags: --rounds N (2) --runners N (8) --seed N (0) --model NAME (agent; gpt-4.1-nano)
 * --optimizer-model NAME (gpt-4.1-mini) --beam N (4) --branch N (4) --max-usd X --store URL
 * (memory) --run-id ID (resume a run; needs a persistent --store) --simulated (force the
 * simulated models even when OPENAI_* is set).
 */
import OpenAI from "openai";
import { parseArgs } from "node:util";
import { APO, type APOResult, Trainer } from "tracetrain";
import { roomSelector, SEED_PROMPTS } from "./agent.js";
import { loadRoomTasks } from "./rooms.js";

const flags = parseFlags();

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
    rounds: { type: "string", default: "2" },
    runners: { type: "string", default: "8" },
    seed: { type: "string", default: "0" },
    model: { type: "string" },
    "optimizer-model": { type: "string" },
    beam: { type: "string", default: "4" },
    branch: { type: "string", default: "4" },
    "max-usd": { type: "string" },
    store: { type: "string", default: "memory" },
    "run-id": { type: "string" },
    simulated: { type: "boolean", default: false },
      },
    });
    for (const name of ["rounds", "runners", "seed", "beam", "branch"] as const) int(name, values[name]);
    if (values["max-usd"] !== undefined && !(Number(values["max-usd"]) > 0)) throw new Error(`--max-usd expects a positive number, got '${values["max-usd"]}'`);
    return values;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exit(2);
  }
}

function int(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} expects a whole number, got '${value}'`);
  return n;
}

const simulated = flags.simulated || (process.env.OPENAI_BASE_URL === undefined && process.env.OPENAI_API_KEY === undefined);
let baseURL = process.env.OPENAI_BASE_URL ?? "https://api.openai.com/v1";
let closeSimulation = async () => {};
if (simulated) {
  // The simulated models (./simulation): a deterministic agent model that follows only the
  // rules its system prompt states, and an optimizer model that turns observed failures into rules.
  const { startSimulatedRoomModels } = await import("./simulation/index.js");
  const simulation = await startSimulatedRoomModels();
  baseURL = simulation.baseUrl;
  closeSimulation = simulation.close;
  console.error(`No OPENAI_BASE_URL or OPENAI_API_KEY: using the simulated room-selection models at ${baseURL} (deterministic; set either to use a real endpoint).`);
}
const apiKey = process.env.OPENAI_API_KEY ?? "none";
const agentModel = flags.model ?? (simulated ? "room-agent" : "gpt-4.1-nano");
const optimizerModel = flags["optimizer-model"] ?? (simulated ? "mock-optimizer" : "gpt-4.1-mini");

// Every third task trains (the optimizer reads the agent's runs on them); the rest score candidates.
const tasks = await loadRoomTasks();
const train = tasks.filter((_, i) => i % 3 === 0);
const val = tasks.filter((_, i) => i % 3 !== 0);

const trainer = new Trainer({
  store: flags.store,
  runners: int("runners", flags.runners),
  initialResources: { ...SEED_PROMPTS, main: { kind: "llm", baseUrl: baseURL, model: agentModel } },
  algorithm: new APO({
    client: new OpenAI({ baseURL, apiKey }),
    model: optimizerModel,
    rounds: int("rounds", flags.rounds),
    beamWidth: int("beam", flags.beam),
    branchFactor: int("branch", flags.branch),
    seed: int("seed", flags.seed),
    // The simulated models cost nothing; for real ones APO's price table applies (override with `prices`).
    ...(simulated ? { prices: { [agentModel]: { input: 0, output: 0 }, [optimizerModel]: { input: 0, output: 0 } } } : {}),
    ...(flags["max-usd"] === undefined ? {} : { maxUsd: Number(flags["max-usd"]) }),
    ...(flags["run-id"] === undefined ? {} : { runId: flags["run-id"] }),
  }),
});

try {
  const fit = await trainer.fit(roomSelector, { train, val });
  console.log(report(fit.result));
} finally {
  await trainer.close();
  await closeSimulation();
}

function report(r: APOResult): string {
  const score = (s: { score: number; ci95: number }) => `${s.score.toFixed(3)} ± ${s.ci95.toFixed(3)}`;
  const rows = [
    ["", `accuracy on ${r.seed.n} held-out ${r.heldOut.source === "test" ? "test" : "validation"} tasks (95% CI)`],
    ["seed prompts", score(r.seed)],
    [`best prompts (${r.best.candidateId})`, score(r.best)],
    ["gain (paired)", r.improvement ? `${r.improvement.mean >= 0 ? "+" : ""}${r.improvement.mean.toFixed(3)} ± ${r.improvement.ci95.toFixed(3)}` : "—"],
  ];
  const width = Math.max(...rows.map(([label]) => label!.length));
  const table = rows.map(([label, value]) => `${label!.padEnd(width)}  ${value}`).join("\n");
  const { spend, evaluation } = r;
  const system = (r.best.resources.system as { template: string }).template;
  return [
    table,
    "",
    `verdict: ${r.summary}`,
    `stopped: ${r.stoppedBecause}; published: ${r.published ? `${r.published.resourcesId} (${r.published.candidate})` : "nothing"}`,
    `rollouts: ${spend.rollouts} (evaluation ${evaluation.rollouts}; evaluating every candidate on every task would have taken ${evaluation.fullCost})`,
    `optimizer: ${spend.optimizerTokens.input + spend.optimizerTokens.output} tokens; cost $${spend.usd.total.toFixed(4)}${spend.unpricedModels.length > 0 ? ` (no price for ${spend.unpricedModels.join(", ")})` : ""}`,
    "",
    "best system prompt:",
    ...system.split("\n").map((line) => `  ${line}`),
  ].join("\n");
}
