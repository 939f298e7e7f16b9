import type { FrameworkTemplate } from "./framework.js";

export const AI_SDK: FrameworkTemplate = {
  title: "the Vercel AI SDK",
  peerPackages: ["ai"],
  // @ai-sdk/openai 3 goes with ai 6, 4 with ai 7.
  packages: { "@ai-sdk/openai": ">=3.0.0 <5.0.0" },
  capture:
    "The AI SDK calls the API with `fetch`, which the tracer records as LLM-call spans of the rollout. With AI SDK 7 the tracer also records the SDK's own steps and tool executions (its `ai:telemetry` channel) with nothing to add; with AI SDK 6 pass `experimental_telemetry: { isEnabled: true }` and give the trainer `instrument: { otel: true }` for them.",
  agent: `/**
 * The agent: a Vercel AI SDK generateText call. It reads its system prompt with
 * ctx.prompt("system") and its model with ctx.llm(), so the trainer can hand it a candidate prompt
 * (APO, GEPA) or another model (RL) per rollout; returning a number makes it the rollout's reward.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import { agent } from "tracetrain";
import { rewardOf, type Ticket } from "./tickets.js";

export const triage = agent(
  async (task: Ticket, ctx) => {
    const llm = ctx.llm();
    const provider = createOpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none" });
    const { text } = await generateText({
      model: provider.chat(llm.model),
      system: ctx.prompt("system").format({}),
      prompt: task.ticket,
      abortSignal: ctx.signal,
    });
    return rewardOf(task, text);
  },
  { name: "triage" },
);
`,
};
