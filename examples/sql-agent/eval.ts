/**
 * `npm run eval`: runs the evaluation set with the current prompts and prints execution accuracy,
 * the checker's self-check agreement with the verifier, the confusion between them and a table per
 * question.
 *
 * Flags: --split all|train|val|test (all) --prompts FILE (a JSON object {writer?, checker?,
 * rewriter?}, e.g. the one `npm start` writes) --verbose (the verifier's words per question)
 * --seed N (0, simulated models only) --max-rewrites N (1) --store URL (memory) --runners N (4).
 */
import { readFileSync } from "node:fs";
import { asTasks, split } from "./eval-set.js";
import { AGENTS, type AgentName } from "./prompts.js";
import { evaluateSqlAgent, formatReport } from "./report.js";
import { fail, parseFlags, setUp, wholeNumber } from "./setup.js";

const flags = parseFlags({
  split: { type: "string", default: "all" },
  prompts: { type: "string" },
  verbose: { type: "boolean", default: false },
  seed: { type: "string", default: "0" },
  "max-rewrites": { type: "string", default: "1" },
  store: { type: "string", default: "memory" },
  runners: { type: "string", default: "4" },
});
const part = flags.split;
if (part !== "all" && part !== "train" && part !== "val" && part !== "test") fail(`--split expects all, train, val or test, got '${part}'`);
const seed = wholeNumber("seed", flags.seed);
const maxRewrites = wholeNumber("max-rewrites", flags["max-rewrites"]);
const runners = wholeNumber("runners", flags.runners, 1);
const prompts = flags.prompts === undefined ? {} : readPrompts(flags.prompts);

const setup = await setUp({ seed, maxRewrites });
try {
  const tasks = part === "all" ? asTasks(setup.items) : split(setup.items, part);
  const report = await evaluateSqlAgent({ agent: setup.agent, tasks, resources: setup.resources(prompts), store: flags.store, runners });
  console.log(`${tasks.length} questions (${part}), ${maxRewrites} rewrite(s) at most${flags.prompts ? `, prompts from ${flags.prompts}` : ", seed prompts"}\n`);
  console.log(formatReport(report, { verbose: flags.verbose }));
} finally {
  await setup.close();
}

function readPrompts(file: string): Partial<Record<AgentName, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    fail(`--prompts expects a readable JSON file, got '${file}': ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail(`--prompts expects a JSON object {writer?, checker?, rewriter?}, got ${JSON.stringify(parsed)?.slice(0, 80)}`);
  const out: Partial<Record<AgentName, string>> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!AGENTS.includes(name as AgentName)) fail(`--prompts: unknown agent '${name}' (expected ${AGENTS.join(", ")})`);
    if (typeof value !== "string" || value.trim() === "") fail(`--prompts: '${name}' must be a non-empty string`);
    out[name as AgentName] = value;
  }
  return out;
}
