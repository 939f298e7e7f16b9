/**
 * Selective optimization of a multi-agent SQL agent: evaluate it on the held-out test questions,
 * optimize the writer's prompt only (the checker and the rewriter stay fixed), evaluate again, and
 * print a before/after table.
 *
 *   npm start                                                    # offline: simulated models
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… OPENAI_MODEL=… npm start  # any OpenAI-compatible endpoint
 *
 * Flags: --algorithm gepa|apo|rl (gepa) --seed N (0) --store URL (memory) --max-rewrites N (1)
 * --max-rollouts N (GEPA's budget, 240) --proposals N (GEPA, 12) --rounds N (APO, 2)
 * --steps N (RL, 24) --runners N (4) --out FILE (.tracetrain/sql-agent/prompts.json: the optimized prompts, for
 * `npm run eval -- --prompts FILE`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import OpenAI from "openai";
import { type Algorithm, APO, type APOResult, GEPA, type GEPAResult, type ResourcesMap, RL, TraceAdapter, Trainer } from "tracetrain";
import { ReferenceBackend } from "tracetrain/rl";
import { split } from "./eval-set.js";
import { AGENTS, type AgentName, SEED_PROMPTS, STRATEGIES } from "./prompts.js";
import { type EvaluationReport, evaluateSqlAgent } from "./report.js";
import { fail, parseFlags, setUp, type Setup, wholeNumber } from "./setup.js";

const flags = parseFlags({
  algorithm: { type: "string", default: "gepa" },
  seed: { type: "string", default: "0" },
  store: { type: "string", default: "memory" },
  "max-rewrites": { type: "string", default: "1" },
  "max-rollouts": { type: "string", default: "240" },
  proposals: { type: "string", default: "12" },
  rounds: { type: "string", default: "2" },
  steps: { type: "string", default: "24" },
  runners: { type: "string", default: "4" },
  out: { type: "string", default: ".tracetrain/sql-agent/prompts.json" },
});
const algorithm = flags.algorithm;
if (algorithm !== "gepa" && algorithm !== "apo" && algorithm !== "rl") fail(`--algorithm expects gepa, apo or rl, got '${algorithm}'`);
const seed = wholeNumber("seed", flags.seed);
const maxRewrites = wholeNumber("max-rewrites", flags["max-rewrites"]);
const maxRollouts = wholeNumber("max-rollouts", flags["max-rollouts"], 1);
const proposals = wholeNumber("proposals", flags.proposals, 1);
const rounds = wholeNumber("rounds", flags.rounds, 1);
const steps = wholeNumber("steps", flags.steps, 1);
const runners = wholeNumber("runners", flags.runners, 1);

const setup = await setUp({ seed, maxRewrites });
try {
  if (algorithm === "rl") await reinforce(setup);
  else await optimizePrompt(setup);
} finally {
  await setup.close();
}

async function optimizePrompt(setup: Setup): Promise<void> {
  const train = split(setup.items, "train");
  const val = split(setup.items, "val");
  const test = split(setup.items, "test");
  const evaluateWith = (resources: ResourcesMap) => evaluateSqlAgent({ agent: setup.agent, tasks: test, resources, store: flags.store, runners });

  const before = await evaluateWith(setup.resources());
  const trainer = new Trainer({ store: flags.store, runners, initialResources: setup.resources(), algorithm: optimizer(setup) });
  let best: ResourcesMap;
  let verdict: string;
  let improved: boolean;
  try {
    const { result } = await trainer.fit(setup.agent, { train, val, test });
    // The search's best, published or not: the table shows what it does, the verdict whether that is beyond the noise.
    best = result.best.resources;
    verdict = result.summary;
    improved = result.verdict === "improved";
  } finally {
    await trainer.close();
  }
  const prompts = Object.fromEntries(AGENTS.map((name) => [name, templateOf(best, name)])) as Record<AgentName, string>;
  const after = await evaluateWith(setup.resources(prompts));

  await mkdir(dirname(flags.out), { recursive: true });
  await writeFile(flags.out, `${JSON.stringify(prompts, null, 2)}\n`);
  console.log(table(test.length, before, after, improved ? "after (writer optimized)" : "after (best, not significant)"));
  console.log("");
  for (const name of ["checker", "rewriter"] as const) console.log(`${name} prompt: ${prompts[name] === SEED_PROMPTS[name] ? "unchanged" : "CHANGED"}`);
  console.log(`writer prompt: ${prompts.writer === SEED_PROMPTS.writer ? "unchanged" : "optimized"}`);
  console.log(`verdict (${algorithm.toUpperCase()}'s paired check on the test questions): ${verdict}`);
  console.log(`prompts written to ${flags.out} (npm run eval -- --prompts ${flags.out})`);
  console.log("\noptimized writer prompt:");
  for (const line of prompts.writer.split("\n")) console.log(`  ${line}`);
}

/**
 * RL on the writer only: its strategy choice comes from the reference policy (a CPU model that
 * answers one of the STRATEGIES phrases and learns from rewards), reached through RL's gateway as
 * the LLM resource `writer_policy`; the checker, the rewriter and the SQL drafting stay on `main`.
 * The trainer's adapter selects the writer's calls, and of those only the policy's carry token ids.
 */
async function reinforce(setup: Setup): Promise<void> {
  const train = split(setup.items, "train");
  const val = split(setup.items, "val");
  const test = split(setup.items, "test");
  const backend = await ReferenceBackend.start({ actions: Object.keys(STRATEGIES), seed });
  try {
    const resources: ResourcesMap = { ...setup.resources(), writer_policy: { kind: "llm", baseUrl: backend.baseUrl, model: backend.model } };
    const evaluateWith = () => evaluateSqlAgent({ agent: setup.agent, tasks: test, resources, store: flags.store, runners });
    const before = await evaluateWith();
    const trainer = new Trainer({
      store: flags.store,
      runners,
      initialResources: resources,
      adapter: new TraceAdapter({ agents: ["writer"] }),
      algorithm: new RL({ backend, llmResource: "writer_policy", steps, tasksPerStep: 4, groupSize: 4, evalEvery: steps, seed, runId: `sql-agent-rl-${seed}` }),
    });
    let summary: string;
    try {
      const { result } = await trainer.fit(setup.agent, { train, val });
      summary = `${result.verdict?.summary ?? "no verdict (no validation run)"}; validation reward ${result.initialValReward?.toFixed(3)} → ${result.finalValReward?.toFixed(3)}, policy version ${result.policyVersion}`;
    } finally {
      await trainer.close();
    }
    // The backend now serves the trained policy; the test questions were never trained on.
    const after = await evaluateWith();
    console.log(table(test.length, before, after, "after (writer's policy RL)", "before (initial policy)"));
    console.log("");
    console.log("checker prompt: unchanged\nrewriter prompt: unchanged\nwriter prompt: unchanged (RL trains the policy that picks its strategy)");
    console.log(`RL on the writer: ${summary}`);
  } finally {
    await backend.close();
  }
}

/** GEPA with `agents: ["writer"]`, or APO with `targets: ["writer"]`: either way only the writer's prompt can change. */
function optimizer(s: Setup): Algorithm<APOResult | GEPAResult> {
  const client = new OpenAI({ baseURL: s.baseUrl, apiKey: s.apiKey });
  const model = process.env.OPTIMIZER_MODEL ?? s.model;
  // The simulated models cost nothing; real ones are priced from APO/GEPA's table (or `prices`).
  const prices = s.simulated ? { [s.model]: { input: 0, output: 0 } } : {};
  const runId = `sql-agent-${algorithm}-${seed}`;
  if (algorithm === "apo") return new APO({ client, model, targets: ["writer"], rounds, beamWidth: 2, branchFactor: 2, seed, prices, runId });
  return new GEPA({ client, model, agents: ["writer"], maxRollouts, maxProposals: proposals, seed, prices, runId });
}

function templateOf(resources: ResourcesMap, name: AgentName): string {
  const resource = resources[name];
  if (resource?.kind !== "prompt_template") throw new Error(`the optimized resources have no prompt template '${name}'`);
  return resource.template;
}

function table(n: number, before: EvaluationReport, after: EvaluationReport, afterLabel: string, beforeLabel = "before (seed prompts)"): string {
  const row = (label: string, accuracy: string, agreement: string) => `${label.padEnd(28)}${accuracy.padStart(18)}${agreement.padStart(22)}`;
  return [
    row(`${n} held-out test questions`, "execution accuracy", "self-check agreement"),
    row(beforeLabel, before.accuracy.toFixed(3), before.agreement.toFixed(3)),
    row(afterLabel, after.accuracy.toFixed(3), after.agreement.toFixed(3)),
  ].join("\n");
}
