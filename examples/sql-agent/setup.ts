/**
 * What main.ts and eval.ts share: the model endpoint (the simulated models unless OPENAI_BASE_URL
 * is set), the database, the gold answers, the agent, and flag checking.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { ResourcesMap } from "tracetrain";
import { makeSqlAgent } from "./agent.js";
import { type EvalItem, goldAnswers, loadEvalItems } from "./eval-set.js";
import { type AgentName, seedPromptResources } from "./prompts.js";
import { startSqlModels } from "./simulation/index.js";
import { SqlRunner, schemaText } from "./sql.js";

export interface Setup {
  items: EvalItem[];
  agent: ReturnType<typeof makeSqlAgent>;
  /** The endpoint the agents (and the optimizer) call. */
  baseUrl: string;
  apiKey: string;
  model: string;
  simulated: boolean;
  /** The seed prompts plus `main`, the agents' LLM. */
  resources(prompts?: Partial<Record<AgentName, string>>): ResourcesMap;
  close(): Promise<void>;
}

export async function setUp(options: { seed: number; maxRewrites: number }): Promise<Setup> {
  const simulated = process.env.OPENAI_BASE_URL === undefined;
  const mock = simulated ? await startSqlModels(options.seed) : undefined;
  if (mock !== undefined) console.error("using the simulated SQL models (set OPENAI_BASE_URL to use a real endpoint)");
  const sql = new SqlRunner();
  try {
    const items = loadEvalItems();
    const gold = await goldAnswers(items, sql);
    const baseUrl = mock?.baseUrl ?? process.env.OPENAI_BASE_URL!;
    const apiKey = process.env.OPENAI_API_KEY ?? "none";
    const model = process.env.OPENAI_MODEL ?? (simulated ? "simulated-sql" : "gpt-4.1-mini");
    const agent = makeSqlAgent({ gold, sql, schema: schemaText(), maxRewrites: options.maxRewrites });
    return {
      items,
      agent,
      baseUrl,
      apiKey,
      model,
      simulated,
      resources(prompts = {}) {
        const seed = seedPromptResources();
        for (const [name, template] of Object.entries(prompts)) seed[name as AgentName] = { ...seed[name as AgentName], template };
        return { ...seed, main: { kind: "llm", baseUrl, model, apiKey } };
      },
      async close() {
        await sql.close();
        await mock?.close();
      },
    };
  } catch (error) {
    await sql.close();
    await mock?.close();
    throw error;
  }
}

/** The command line's flags; an unknown or malformed one is a bad flag. */
export function parseFlags<const T extends NonNullable<ParseArgsConfig["options"]>>(options: T) {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
}

/** A bad flag: say what was expected, exit 2, no stack trace. */
export function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

export function wholeNumber(flag: string, value: string | undefined, min = 0): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isInteger(n) || n < min) fail(`--${flag} expects a whole number ≥ ${min}, got '${value}'`);
  return n;
}
