/**
 * A support desk on the OpenAI Agents SDK — triage handing off to billing, technical and returns
 * specialists — where GEPA rewrites the billing specialist's instructions only, and the triage and
 * the other specialists keep theirs. Prints a before/after table on held-out tasks.
 *
 *   npm start                          # offline: simulated models from tracetrain/testing's mock LLM
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… OPENAI_MODEL=… npm start   # any OpenAI-compatible endpoint
 *
 * Flags: --proposals N (8) --minibatch N (3) --runners N (4) --seed N (0) --noise X (0.05, simulated
 * model only) --store URL (memory; e.g. sqlite:./.tracetrain/tracetrain.db for `npx tracetrain dashboard`).
 * OPTIMIZER_MODEL names the reflection model (default: OPENAI_MODEL, else gpt-4.1-mini).
 */
import OpenAI from "openai";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { createStore, GEPA, type ResourcesMap, type Store, Trainer } from "tracetrain";
import { helpdesk } from "./agent.js";
import { AGENT_NAMES } from "./desk.js";
import { SEED_INSTRUCTIONS } from "./instructions.js";
import { evaluateDesk, figures, instructionsOf, searchSummary, table } from "./report.js";
import { startSimulatedModels } from "./simulation/index.js";
import { loadTasks, splitTasks } from "./tasks.js";

const OPTIMIZED = "billing";

const options = readOptions();
const store = openStore(options.store);
const mock = process.env.OPENAI_BASE_URL === undefined ? await startSimulatedModels({ seed: options.seed, noise: options.noise }) : undefined;
if (mock !== undefined) console.error("using the simulated models (set OPENAI_BASE_URL to use a real endpoint)");
const baseUrl = mock?.baseUrl ?? process.env.OPENAI_BASE_URL!;
const apiKey = process.env.OPENAI_API_KEY ?? "none";
const model = process.env.OPENAI_MODEL ?? "gpt-4.1-mini";

const seedResources: ResourcesMap = {
  ...Object.fromEntries(AGENT_NAMES.map((name) => [name, { kind: "prompt_template", template: SEED_INSTRUCTIONS[name], engine: "mustache" }])),
  // No apiKey here: resources are stored (and shown on the dashboard); the agent reads OPENAI_API_KEY.
  main: { kind: "llm", baseUrl, model },
};

try {
  const { train, val, test } = splitTasks(await loadTasks());
  const before = await evaluateDesk(store, seedResources, test, options.runners);
  const trainer = new Trainer({
    store,
    runners: options.runners,
    initialResources: seedResources,
    algorithm: new GEPA({
      client: new OpenAI({ baseURL: baseUrl, apiKey }),
      model: process.env.OPTIMIZER_MODEL ?? process.env.OPENAI_MODEL ?? "gpt-4.1-mini",
      agents: [OPTIMIZED], // only the billing specialist's calls are reflected on; its instructions are the only ones evolved
      maxProposals: options.proposals,
      minibatchSize: options.minibatch,
      seed: options.seed,
    }),
  });
  const fit = await (async () => {
    try {
      // Minibatches of billing requests: a technical or returns request never reaches the billing
      // specialist, so its run would show the reflection nothing about billing's instructions.
      return await trainer.fit(helpdesk, { train: train.filter((t) => t.expected.agent === OPTIMIZED), val, test });
    } finally {
      await trainer.close();
    }
  })();
  if (fit.interrupted || fit.resources === undefined) {
    console.log("interrupted: no after figures");
  } else {
    // What GEPA published: the best candidate when its gain held on the held-out tasks, else the seed.
    const after = await evaluateDesk(store, fit.resources.resources, test, options.runners);
    console.log(table(figures(before), figures(after), OPTIMIZED));
    console.log(`\n${searchSummary(fit.result, instructionsOf(seedResources), instructionsOf(fit.resources.resources), OPTIMIZED)}`);
  }
} finally {
  await store.close();
  await mock?.close();
}

function readOptions() {
  const endpoint = process.env.OPENAI_BASE_URL;
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(endpoint)) fail(`OPENAI_BASE_URL expects an http(s) URL such as https://api.openai.com/v1, got '${endpoint}'`);
  const { values } = parseFlags({
    options: {
      proposals: { type: "string", default: "8" },
      minibatch: { type: "string", default: "3" },
      runners: { type: "string", default: "4" },
      seed: { type: "string", default: "0" },
      noise: { type: "string", default: "0.05" },
      store: { type: "string", default: "memory" },
    },
  });
  return checkedOptions(values);
}

/** parseArgs, with an unknown flag or a missing value reported as bad input (exit 2), not as a crash. */
function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

function checkedOptions(values: { proposals: string; minibatch: string; runners: string; seed: string; noise: string; store: string }) {
  const whole = (flag: "proposals" | "minibatch" | "runners" | "seed", min: number) => {
    const value = Number(values[flag]);
    if (!Number.isInteger(value) || value < min) fail(`--${flag} expects a whole number ≥ ${min}, got '${values[flag]}'`);
    return value;
  };
  const noise = Number(values.noise);
  if (!(noise >= 0 && noise <= 1)) fail(`--noise expects a number from 0 to 1, got '${values.noise}'`);
  return { proposals: whole("proposals", 1), minibatch: whole("minibatch", 1), runners: whole("runners", 1), seed: whole("seed", 0), noise, store: values.store };
}

function openStore(url: string): Store {
  try {
    return createStore(url);
  } catch (error) {
    fail(`--store: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}
