/**
 * A LangChain.js createAgent support agent, first evaluated unchanged, then — after the one change
 * that lets tracetrain set its prompt and model — optimized with APO; a before/after table on
 * held-out test questions.
 *
 *   npm start                                                     # offline: simulated models
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… OPENAI_MODEL=… npm start   # any OpenAI-compatible endpoint
 *
 * Flags: --seed N (0) --rounds N (3) --beam N (2) --branch N (2) --runners N (4)
 * --store URL (memory; e.g. sqlite:./.tracetrain/tracetrain.db to browse the runs with
 * `npx tracetrain dashboard`). OPTIMIZER_MODEL names the optimizer's model on a real endpoint.
 */
import OpenAI from "openai";
import { parseArgs } from "node:util";
import { APO, type APOResult, type EvaluationResult, type Store, TraceAdapter, Trainer } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { tunableSupport, unchangedSupport } from "./agents.js";
import { startSimulatedModels } from "./mock-model.js";
import { SYSTEM_PROMPT } from "./support-agent.js";
import { loadTasks, splitTasks, type SupportTask } from "./tasks.js";

const flags = parseFlags();
checkEndpointEnv(process.env.OPENAI_BASE_URL);
const simulated = process.env.OPENAI_BASE_URL === undefined;
const mock = simulated ? await startSimulatedModels({ seed: flags.seed }) : undefined;
if (mock !== undefined) {
  // The unchanged agent reads its endpoint from the environment, as it would in production.
  process.env.OPENAI_BASE_URL = mock.baseUrl;
  console.error("using the simulated models (set OPENAI_BASE_URL to use a real endpoint)");
}
const baseUrl = process.env.OPENAI_BASE_URL!;
const model = process.env.OPENAI_MODEL ?? "gpt-4.1-mini";
const { train, val, test } = splitTasks(await loadTasks());

try {
  const before = await partOne(test);
  const after = await partTwo({ train, val, test });
  console.log(`\n${table(before, after)}`);
} finally {
  await mock?.close();
}

/** Part 1: the unchanged agent on the test questions, with what the tracer captured of each rollout. */
async function partOne(tasks: readonly SupportTask[]): Promise<EvaluationResult> {
  const trainer = new Trainer({ store: flags.store, runners: flags.runners, progress: false });
  try {
    const result = await trainer.evaluate(unchangedSupport, tasks);
    console.log(`Part 1 — the agent unchanged, ${tasks.length} test questions; what the tracer captured per rollout:`);
    const store = await trainer.store();
    for (const score of result.tasks) console.log(`  ${await describeRollout(store, score.rolloutId, score.task as SupportTask, score.reward)}`);
    console.log(`  mean reward ${fmt(result.meanRewardWithFailuresAsZero)}`);
    return result;
  } finally {
    await trainer.close();
  }
}

async function describeRollout(store: Store, rolloutId: string, task: SupportTask, reward: number | null): Promise<string> {
  const spans = (await store.querySpans({ rolloutId, attemptId: "latest", limit: 1000 })).items;
  const llmCalls = new TraceAdapter().toTransitions(spans).length;
  const tools = spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.tool).sort((a, b) => a.sequence - b.sequence).map((s) => String(s.attributes[Attr.toolName]));
  return `${task.id.padEnd(24)} reward ${reward ?? "-"}  LLM calls ${llmCalls}  tools ${tools.join(", ") || "none"}`;
}

/** Part 2: the tunable agent (prompt from ctx.prompt("system"), model from ctx.llm()), optimized with APO. */
async function partTwo(datasets: { train: SupportTask[]; val: SupportTask[]; test: SupportTask[] }): Promise<APOResult> {
  const optimizerModel = simulated ? "simulated-optimizer" : (process.env.OPTIMIZER_MODEL ?? "gpt-4.1-mini");
  const trainer = new Trainer({
    store: flags.store,
    runners: flags.runners,
    initialResources: {
      system: { kind: "prompt_template", template: SYSTEM_PROMPT, engine: "mustache" },
      main: { kind: "llm", baseUrl, model },
    },
    algorithm: new APO({
      client: new OpenAI({ baseURL: baseUrl, apiKey: process.env.OPENAI_API_KEY ?? "none" }),
      model: optimizerModel,
      rounds: flags.rounds,
      beamWidth: flags.beam,
      branchFactor: flags.branch,
      seed: flags.seed,
      // The simulated models cost nothing; on a real endpoint APO's price table applies.
      ...(simulated ? { prices: { [model]: { input: 0, output: 0 }, [optimizerModel]: { input: 0, output: 0 } } } : {}),
    }),
  });
  try {
    console.log(`\nPart 2 — APO on the system prompt: ${datasets.train.length} train, ${datasets.val.length} validation, ${datasets.test.length} held-out test questions`);
    const { result } = await trainer.fit(tunableSupport, datasets);
    return result;
  } finally {
    await trainer.close();
  }
}

function table(before: EvaluationResult, after: APOResult): string {
  const ci = (s: { score: number; ci95: number }) => `${fmt(s.score)} ± ${s.ci95.toFixed(3)}`;
  const rows: Array<[string, string]> = [
    ["", `accuracy on ${after.heldOut.n} held-out ${after.heldOut.source} questions (95% CI)`],
    ["unchanged agent (its own prompt)", fmt(before.meanRewardWithFailuresAsZero)],
    ["seed prompt via ctx.prompt()", ci(after.seed)],
    [`APO best prompt (${after.best.candidateId})`, ci(after.best)],
    ["gain (paired)", after.improvement ? `${after.improvement.mean >= 0 ? "+" : ""}${after.improvement.mean.toFixed(3)} ± ${after.improvement.ci95.toFixed(3)}` : "—"],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const best = after.best.resources.system;
  const prompt = best?.kind === "prompt_template" ? best.template : "(no system prompt)";
  return [
    ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
    "",
    `verdict: ${after.summary}`,
    `rollouts: ${after.spend.rollouts}; optimizer tokens: ${after.spend.optimizerTokens.input + after.spend.optimizerTokens.output}`,
    "",
    "best system prompt:",
    ...prompt.split("\n").map((line) => `  ${line}`),
  ].join("\n");
}

function fmt(x: number | null): string {
  return x === null || Number.isNaN(x) ? "n/a" : x.toFixed(3);
}

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
        seed: { type: "string", default: "0" },
        rounds: { type: "string", default: "3" },
        beam: { type: "string", default: "2" },
        branch: { type: "string", default: "2" },
        runners: { type: "string", default: "4" },
        store: { type: "string", default: "memory" },
      },
    });
    return {
      seed: whole("seed", values.seed, 0),
      rounds: whole("rounds", values.rounds, 1),
      beam: whole("beam", values.beam, 1),
      branch: whole("branch", values.branch, 1),
      runners: whole("runners", values.runners, 1),
      store: values.store,
    };
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}

/** A typo in OPENAI_BASE_URL would otherwise surface as a connection error deep inside the first rollout. */
function checkEndpointEnv(value: string | undefined): void {
  if (value === undefined) return;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || !["http:", "https:"].includes(url.protocol)) {
    console.error(`error: OPENAI_BASE_URL expects an http(s) URL such as https://api.openai.com/v1, got '${value}' (unset it to use the simulated models)`);
    process.exit(2);
  }
}

function whole(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects a whole number ≥ ${min}, got '${value}'`);
  return n;
}
