/**
 * Best-of-N rejection sampling on a small sum task, then a before/after table.
 *
 *   npm start                          # offline: a simulated model from tracetrain/testing
 *   OPENAI_BASE_URL=… OPENAI_API_KEY=… OPENAI_MODEL=… npm start   # any OpenAI-compatible endpoint
 *
 * Flags: --n N (4) --threshold X (1) --seed N (0, simulated model only) --out FILE
 * (.tracetrain/best-of-n/sft.jsonl) --store URL (memory; e.g. sqlite:./.tracetrain/tracetrain.db
 * to see the run on `npx tracetrain dashboard`).
 */
import { parseArgs } from "node:util";
import { Trainer } from "tracetrain";
import { adder } from "./agent.js";
import { bestOfN } from "./best-of-n.js";
import { startSumModel } from "./mock-model.js";
import { TASKS } from "./tasks.js";

const { values } = parseFlags();
const n = Number(values.n);
const threshold = Number(values.threshold);
const seed = Number(values.seed);
if (!Number.isInteger(n) || n < 1) fail(`--n expects a whole number ≥ 1, got '${values.n}'`);
if (!Number.isFinite(threshold)) fail(`--threshold expects a number, got '${values.threshold}'`);
if (!Number.isInteger(seed)) fail(`--seed expects a whole number, got '${values.seed}'`);

const mock = process.env.OPENAI_BASE_URL === undefined ? await startSumModel(seed) : undefined;
if (mock !== undefined) console.error("using the simulated model (set OPENAI_BASE_URL to use a real endpoint)");
const trainer = new Trainer({
  store: values.store,
  runners: 4,
  algorithm: bestOfN({ n, threshold, out: values.out }),
  initialResources: {
    system: { kind: "prompt_template", template: "Add the two numbers. Reply with the sum." },
    main: { kind: "llm", baseUrl: mock?.baseUrl ?? process.env.OPENAI_BASE_URL!, model: process.env.OPENAI_MODEL ?? "gpt-4.1-mini" },
  },
});
try {
  const { result, interrupted } = await trainer.fit(adder, { train: TASKS });
  const fmt = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));
  console.log(`${"".padEnd(22)}${"records".padStart(8)}${"mean reward".padStart(13)}`);
  console.log(`${"all rollouts".padEnd(22)}${String(result.rollouts).padStart(8)}${fmt(result.meanAll).padStart(13)}`);
  console.log(`${`kept (best of ${n})`.padEnd(22)}${String(result.kept).padStart(8)}${fmt(result.meanKept).padStart(13)}`);
  console.log(`\n${result.tasks} tasks, ${result.rollouts} rollouts, ${result.kept} kept (reward ≥ ${threshold})`);
  console.log(interrupted ? "interrupted: nothing written" : `SFT dataset: ${result.file}`);
  console.log(`run: ${result.runId}`);
} finally {
  await trainer.close();
  await mock?.close();
}

function parseFlags() {
  try {
    return parseArgs({
      options: {
        n: { type: "string", default: "4" },
        threshold: { type: "string", default: "1" },
        seed: { type: "string", default: "0" },
        out: { type: "string", default: ".tracetrain/best-of-n/sft.jsonl" },
        store: { type: "string", default: "memory" },
      },
    });
  } catch (error) {
    // node:util's message names the flag ("Unknown option '--x'"): told in one line, not as a crash.
    return fail(error instanceof Error ? error.message : String(error));
  }
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}
