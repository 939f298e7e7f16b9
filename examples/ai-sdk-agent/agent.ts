/**
 * The agent: a plain Vercel AI SDK tool loop — `generateText` with three tools and a step limit —
 * wrapped with `agent()`. Nothing in it is about tracing: tracetrain records its model calls (the
 * `fetch` layer) and its steps and tool executions (AI SDK 7's diagnostics channel; AI SDK 6's
 * OpenTelemetry spans, which `experimental_telemetry` turns on) by itself.
 *
 * The two lines that let APO change the agent read its system prompt and its model from the
 * rollout's resources: `ctx.prompt("system")` and `ctx.llm()`.
 */
import { createOpenAI } from "@ai-sdk/openai";
import * as ai from "ai";
import { generateText, stepCountIs, tool } from "ai";
import { agent, emitReward } from "tracetrain";
import { z } from "zod";
import { addAmounts, type ExpenseTask, exchangeRate, policyFor, reportText, score } from "./expenses.js";

/** The agent's seed prompt: it says what to do, and nothing of how. */
export const SEED_PROMPT = "You are a travel-expense assistant. Work out how much of an employee's expense report the company reimburses, in US dollars.";

/** At most this many model calls per report: lookups, the sum, the answer, with room to spare. */
export const MAX_STEPS = 6;

/**
 * The Trainer's `instrument` option for the installed AI SDK. AI SDK 7 publishes its steps and tool
 * executions on a diagnostics channel that tracetrain's `ai` instrumentation (on by default)
 * listens to; AI SDK 6 reports them only through OpenTelemetry, which the `otel` one records.
 */
export const instrument = "AI_SDK_TELEMETRY_TRACING_CHANNEL" in ai ? {} : { otel: true };

export const tools = {
  get_exchange_rate: tool({
    description: "Today's exchange rate of a currency, in US dollars per unit.",
    inputSchema: z.object({ currency: z.string().describe("ISO code, e.g. EUR") }),
    execute: async ({ currency }) => exchangeRate(currency.toUpperCase()),
  }),
  lookup_policy: tool({
    description: "The company's expense policy for one category of receipt (hotel, meals, alcohol, taxi, train, flight).",
    inputSchema: z.object({ category: z.string() }),
    execute: async ({ category }) => policyFor(category.toLowerCase()),
  }),
  add_amounts: tool({
    description: "Adds amounts exactly and rounds the total to the cent.",
    inputSchema: z.object({ amounts: z.array(z.number()) }),
    execute: async ({ amounts }) => addAmounts(amounts),
  }),
};

export const expenseAgent = agent(
  async (task: ExpenseTask, ctx) => {
    const llm = ctx.llm();
    const openai = createOpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none" });
    const { text } = await generateText({
      // .chat: the Chat Completions API, which every OpenAI-compatible server speaks (the default is Responses).
      model: openai.chat(llm.model),
      // `system`: the spelling AI SDK 6 and 7 both take (7 also reads `instructions`).
      system: ctx.prompt("system").format({}),
      prompt: reportText(task),
      tools,
      // `stopWhen: stepCountIs(n)` in AI SDK 6 and 7 alike (4 had `maxSteps`).
      stopWhen: stepCountIs(MAX_STEPS),
      // AI SDK 6 only (AI SDK 7 publishes its steps on a diagnostics channel without it).
      experimental_telemetry: { isEnabled: true },
    });
    const { value, feedback } = score(text, task);
    // The feedback goes with the run to APO's optimizer model: what was expected, not only "0".
    emitReward(value, { feedback });
  },
  { name: "expense-assistant" },
);
