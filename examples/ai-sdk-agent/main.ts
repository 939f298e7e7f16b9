/**
 * A Vercel AI SDK agent, first evaluated unchanged, then its system prompt optimized with APO;
 * a before/after table on held-out reports.
 *
 *   npm start                                                     # offline: simulated models
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… OPENAI_MODEL=… npm start   # any OpenAI-compatible endpoint
 *
 * Flags: --rounds N (2) --beam N (2) --branch N (3) --runners N (4) --seed N (0) --noise X (0.1,
 * simulated model only) --store URL (memory; e.g. sqlite:./.tracetrain/tracetrain.db to look at
 * the traces with `npx tracetrain dashboard`).
 */
import { parseArgs } from "node:util";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import { APO, type APOResult, createStore, type EvaluationResult, type Store, Trainer, TracetrainError, ValidationError } from "tracetrain";
import type { OptimizerClient } from "tracetrain/algorithms";
import { expenseAgent, instrument, SEED_PROMPT } from "./agent.js";
import { type CaptureSummary, captureOf, summarizeCapture } from "./capture.js";
import { loadTasks } from "./expenses.js";
import { startExpenseModels } from "./mock-model.js";

/** Errors that mean a setting is wrong (an endpoint that cannot be reached, a key it refuses), not a bug. */
const SETTING_ERRORS = new Set<string>(["validation", "unavailable", "unauthorized", "missing_dependency"]);

const flags = parseFlags();
const tasks = await loadTasks();
// A third of the reports each: the optimizer reads runs on train, scores candidates on val; test is never searched on.
const train = tasks.filter((_, i) => i % 3 === 0);
const val = tasks.filter((_, i) => i % 3 === 1);
const test = tasks.filter((_, i) => i % 3 === 2);

const endpoint = parseEndpoint(process.env.OPENAI_BASE_URL);
// Opened here rather than by the Trainer, so that a bad --store is told before anything starts; both trainers share it.
const store = openStore(flags.store);
const mock = endpoint === undefined ? await startExpenseModels({ seed: flags.seed, noise: flags.noise }) : undefined;
if (mock !== undefined) console.error(`using the simulated models at ${mock.baseUrl} (set OPENAI_BASE_URL to use a real endpoint)`);
const baseURL = mock?.baseUrl ?? endpoint!;
const apiKey = process.env.OPENAI_API_KEY ?? "none";
const agentModel = mock ? "expense-agent" : (process.env.OPENAI_MODEL ?? "gpt-4.1-mini");
const optimizerModel = mock ? "expense-optimizer" : (process.env.OPTIMIZER_MODEL ?? "gpt-4.1-mini");

const trainer = new Trainer({
  store,
  runners: flags.runners,
  instrument,
  initialResources: {
    system: { kind: "prompt_template", template: SEED_PROMPT },
    main: { kind: "llm", baseUrl: baseURL, model: agentModel },
  },
  algorithm: new APO({
    client: aiSdkClient(baseURL, apiKey),
    model: optimizerModel,
    rounds: flags.rounds,
    beamWidth: flags.beam,
    branchFactor: flags.branch,
    seed: flags.seed,
    // The simulated models cost nothing; real ones are priced from APO's table.
    ...(mock ? { prices: { [agentModel]: { input: 0, output: 0 }, [optimizerModel]: { input: 0, output: 0 } } } : {}),
  }),
});

try {
  // 1. The agent as it is: no learning, every held-out report once.
  const before = await trainer.evaluate(expenseAgent, test);
  const beforeCapture = await captured(store, before);
  console.log(`1. evaluate: the agent unchanged on ${test.length} held-out reports: mean reward ${fmt(before.meanRewardWithFailuresAsZero)}`);
  console.log(`   captured ${describeCapture(beforeCapture)}\n`);

  // 2. APO searches on train/val and checks its best prompt against the seed on test.
  const { result } = await trainer.fit(expenseAgent, { train, val, test });

  // 3. The optimized prompt as one would deploy it: a fresh evaluation with it as the resource.
  const deployed = new Trainer({ store, runners: flags.runners, instrument, tracer: trainer.tracer, initialResources: result.best.resources });
  const after = await deployed.evaluate(expenseAgent, test).finally(() => deployed.close());
  const afterCapture = await captured(store, after);

  console.log(report(result, { before, beforeCapture, after, afterCapture }));
} catch (error) {
  // A wrong setting is told in one line; a bug keeps its stack.
  if (!(error instanceof TracetrainError && SETTING_ERRORS.has(error.code))) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 2;
} finally {
  await trainer.close();
  await store.close();
  await mock?.close();
}

async function captured(store: Store, evaluation: EvaluationResult): Promise<CaptureSummary> {
  return summarizeCapture(await Promise.all(evaluation.tasks.map((t) => captureOf(store, t.rolloutId))));
}

function describeCapture(c: CaptureSummary): string {
  return `per rollout: ${perRollout(c.llmCalls.total, c.rollouts)} LLM calls (${c.llmCalls.min}–${c.llmCalls.max}), ${perRollout(c.toolCalls.total, c.rollouts)} tool calls (${c.toolCalls.min}–${c.toolCalls.max}); recorded by: ${c.layers.join(", ")}`;
}

function report(r: APOResult, m: { before: EvaluationResult; beforeCapture: CaptureSummary; after: EvaluationResult; afterCapture: CaptureSummary }): string {
  const gain = r.improvement ? `${sign(r.improvement.mean)}${fmt(r.improvement.mean)} ± ${fmt(r.improvement.ci95)}` : "—";
  const rows: string[][] = [
    ["", "mean reward", "LLM calls", "tool calls"],
    ["before: seed prompt", fmt(m.before.meanRewardWithFailuresAsZero), perRollout(m.beforeCapture.llmCalls.total, m.beforeCapture.rollouts), perRollout(m.beforeCapture.toolCalls.total, m.beforeCapture.rollouts)],
    [`after: APO's best (${r.best.candidateId})`, fmt(m.after.meanRewardWithFailuresAsZero), perRollout(m.afterCapture.llmCalls.total, m.afterCapture.rollouts), perRollout(m.afterCapture.toolCalls.total, m.afterCapture.rollouts)],
    ["gain (paired, 95% CI)", gain, "", ""],
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const table = rows.map((row) => row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]! + 2))).join("").trimEnd());
  return [
    `2. APO on ${train.length} train / ${val.length} val reports, checked on the ${test.length} held-out test reports (calls per rollout):`,
    "",
    ...table,
    "",
    `verdict: ${r.summary}`,
    `APO's own check on test: seed ${fmt(r.seed.score)}, best ${fmt(r.best.score)}; rollouts: ${r.spend.rollouts}; published: ${r.published ? r.published.resourcesId : "nothing"}`,
    `after: captured ${describeCapture(m.afterCapture)}`,
    "",
    "optimized system prompt:",
    ...templateOf(r).split("\n").map((line) => `  ${line}`),
  ].join("\n");
}

function templateOf(r: APOResult): string {
  const system = r.best.resources.system;
  return system?.kind === "prompt_template" ? system.template : "(not a prompt template)";
}

/**
 * APO's optimizer client, made of the AI SDK: APO needs only `chat.completions.create`, so an
 * application that uses the AI SDK needs no second client library.
 */
function aiSdkClient(baseURL: string, apiKey: string): OptimizerClient {
  const provider = createOpenAI({ baseURL, apiKey });
  return {
    chat: {
      completions: {
        async create(body, options) {
          const { text } = await generateText({
            model: provider.chat(body.model),
            prompt: body.messages.map((m) => m.content).join("\n\n"),
            ...(body.temperature === undefined ? {} : { temperature: body.temperature }),
            ...(body.max_completion_tokens === undefined ? {} : { maxOutputTokens: body.max_completion_tokens }),
            ...(body.seed === undefined ? {} : { seed: body.seed }),
            ...(options?.signal === undefined ? {} : { abortSignal: options.signal }),
          });
          return { choices: [{ message: { content: text } }] };
        },
      },
    },
  };
}

/** OPENAI_BASE_URL, when set, must be an http(s) URL: a typo would otherwise surface as a connection error mid-run. */
function parseEndpoint(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^https?:$/.test(url.protocol)) {
    console.error(`error: OPENAI_BASE_URL expects an http(s) URL such as https://api.openai.com/v1, got '${value}'`);
    process.exit(2);
  }
  return value;
}

function openStore(spec: string): Store {
  try {
    return createStore(spec);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    console.error(`error: --store: ${error.message}`);
    process.exit(2);
  }
}

function parseFlags() {
  try {
    const { values } = parseArgs({
      options: {
        rounds: { type: "string", default: "2" },
        beam: { type: "string", default: "2" },
        branch: { type: "string", default: "3" },
        runners: { type: "string", default: "4" },
        seed: { type: "string", default: "0" },
        noise: { type: "string", default: "0.1" },
        store: { type: "string", default: "memory" },
      },
    });
    const noise = Number(values.noise);
    if (!(noise >= 0 && noise <= 1)) throw new Error(`--noise expects a number from 0 to 1, got '${values.noise}'`);
    return {
      rounds: whole("rounds", values.rounds, 1),
      beam: whole("beam", values.beam, 1),
      branch: whole("branch", values.branch, 1),
      runners: whole("runners", values.runners, 1),
      seed: whole("seed", values.seed, 0),
      noise,
      store: values.store,
    };
  } catch (error) {
    // parseArgs' own errors (an unknown flag, a missing value) are as clear as ours: no stack trace.
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}

function whole(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects a whole number ≥ ${min}, got '${value}'`);
  return n;
}

function fmt(x: number | null): string {
  return x === null ? "n/a" : x.toFixed(3);
}

function sign(x: number): string {
  return x >= 0 ? "+" : "";
}

function perRollout(total: number, rollouts: number): string {
  return rollouts === 0 ? "n/a" : (total / rollouts).toFixed(1);
}
