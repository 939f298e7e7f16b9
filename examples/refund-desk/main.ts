/**
 * Evolves the refund-desk agent's system prompt and tool description with GEPA and prints what
 * it found.
 *
 *   npm run example:refunds                                        # simulated models, no endpoint needed
 *   OPENAI_API_KEY=sk-… npm run example:refunds -- --max-rollouts 400  # OpenAI (or set OPENAI_BASE_URL for any compatible server)
 *
 * Flags: --max-rollouts N (300) --runners N (8) --seed N (0) --model NAME (agent; gpt-4.1-nano)
 * --reflection-model NAME (gpt-4.1-mini) --minibatch N (2) --noise X (simulated agent's error
 * rate; 0) --max-usd X --store URL (memory) --simulated (force the simulated models even when
 * OPENAI_* is set).
 */
import OpenAI from "openai";
import { parseArgs } from "node:util";
import { GEPA, type GEPAResult, Trainer } from "tracetrain";
import { refundDesk, SEED_PROMPTS } from "./agent.js";
import { SPLITS } from "./orders.js";

const flags = parseFlags();

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
        "max-rollouts": { type: "string", default: "300" },
        runners: { type: "string", default: "8" },
        seed: { type: "string", default: "0" },
        minibatch: { type: "string", default: "2" },
        model: { type: "string" },
        "reflection-model": { type: "string" },
        noise: { type: "string", default: "0" },
        "max-usd": { type: "string" },
        store: { type: "string", default: "memory" },
        simulated: { type: "boolean", default: false },
      },
    });
    for (const name of ["max-rollouts", "runners", "seed", "minibatch"] as const) int(name, values[name]);
    if (values["max-usd"] !== undefined && !(Number(values["max-usd"]) > 0)) throw new Error(`--max-usd expects a positive number, got '${values["max-usd"]}'`);
    const noise = Number(values.noise);
    if (!(noise >= 0 && noise < 1)) throw new Error(`--noise expects a number from 0 up to (not including) 1, got '${values.noise}'`);
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
  // The simulated models (./simulation): an agent model that follows only the rules its system
  // prompt and tool description state, and a reflection model that turns observed failures into rules.
  const { startSimulatedRefundModels } = await import("./simulation/index.js");
  const simulation = await startSimulatedRefundModels({ noise: Number(flags.noise) });
  baseURL = simulation.baseUrl;
  closeSimulation = simulation.close;
  console.error(`No OPENAI_BASE_URL or OPENAI_API_KEY: using the simulated refund-desk models at ${baseURL} (deterministic; set either to use a real endpoint).`);
}
const apiKey = process.env.OPENAI_API_KEY ?? "none";
const agentModel = flags.model ?? (simulated ? "refund-agent" : "gpt-4.1-nano");
const reflectionModel = flags["reflection-model"] ?? (simulated ? "mock-optimizer" : "gpt-4.1-mini");

const trainer = new Trainer({
  store: flags.store,
  runners: int("runners", flags.runners),
  initialResources: { ...SEED_PROMPTS, main: { kind: "llm", baseUrl: baseURL, model: agentModel } },
  algorithm: new GEPA({
    client: new OpenAI({ baseURL, apiKey }),
    model: reflectionModel,
    // The two texts that carry the shop's rules; the request template stays as it is.
    components: ["system", "lookup_tool"],
    maxRollouts: int("max-rollouts", flags["max-rollouts"]),
    minibatchSize: int("minibatch", flags.minibatch),
    seed: int("seed", flags.seed),
    // The simulated models cost nothing; for real ones the price table applies (override with `prices`).
    ...(simulated ? { prices: { [agentModel]: { input: 0, output: 0 }, [reflectionModel]: { input: 0, output: 0 } } } : {}),
    ...(flags["max-usd"] === undefined ? {} : { maxUsd: Number(flags["max-usd"]) }),
  }),
});

try {
  // GEPA searches on train and val; the verdict (best against seed, paired) is measured on test, which the search never sees.
  const fit = await trainer.fit(refundDesk, { train: SPLITS.train, val: SPLITS.val, test: SPLITS.test });
  console.log(report(fit.result));
} finally {
  await trainer.close();
  await closeSimulation();
}

function report(r: GEPAResult): string {
  const text = (name: string) => (r.best.resources[name] as { template: string } | undefined)?.template ?? "(none)";
  const indent = (s: string) => s.split("\n").map((line) => `  ${line}`);
  const heldOut = (s: { score: number; ci95: number; n: number }) => (s.n === 0 ? "not run" : `${s.score.toFixed(3)} ± ${s.ci95.toFixed(3)}`);
  const accepted = r.proposals.filter((p) => p.status === "accepted");
  const rows = [
    ["", `Pareto (${r.seed.paretoN} val tasks)`, `held out (${r.heldOut.n} ${r.heldOut.source} tasks, 95% CI)`],
    ["seed", r.seed.paretoScore.toFixed(3), heldOut(r.seed)],
    [`best (${r.best.candidateId})`, r.best.paretoScore.toFixed(3), heldOut(r.best)],
  ];
  const widths = [0, 1].map((c) => Math.max(...rows.map((row) => row[c]!.length)));
  return [
    ...rows.map(([a, b, c]) => `${a!.padEnd(widths[0]!)}  ${b!.padEnd(widths[1]!)}  ${c}`),
    "",
    `verdict: ${r.verdict}`,
    `proposals: ${r.proposals.length} (${accepted.length} accepted: ${accepted.map((p) => `${p.child} ← ${p.parent} '${p.component}'`).join(", ") || "none"})`,
    `pool: ${r.pool.map((p) => `${p.candidateId} ${p.score.toFixed(3)}${p.onFront ? " (front)" : ""}`).join(", ")}`,
    `components evolved: ${r.components.evolved.join(", ")}`,
    `stopped: ${r.stoppedBecause}: ${r.stopDetail}`,
    `published: ${r.published ? `${r.published.resourcesId} (${r.published.candidate})` : "nothing"}`,
    `rollouts: ${r.spend.rollouts}; reflection: ${r.spend.optimizerTokens.input + r.spend.optimizerTokens.output} tokens; cost $${r.spend.usd.total.toFixed(4)}`,
    "",
    "best system prompt:",
    ...indent(text("system")),
    "best lookup_order description:",
    ...indent(text("lookup_tool")),
  ].join("\n");
}
