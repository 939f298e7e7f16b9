import type { FrameworkTemplate } from "./framework.js";

export const OPENAI: FrameworkTemplate = {
  title: "the openai SDK",
  peerPackages: [],
  packages: {},
  capture: "The tracer patches the application's copy of `openai`: every `chat.completions.create` call (and Responses call) becomes an LLM-call span of the rollout, with nothing to add to the agent.",
  agent: `/**
 * The agent: plain openai-SDK code. It reads its system prompt with ctx.prompt("system") and its
 * model with ctx.llm(), so the trainer can hand it a candidate prompt (APO, GEPA) or another model
 * (RL) per rollout; returning a number makes it the rollout's reward.
 */
import OpenAI from "openai";
import { agent } from "tracetrain";
import { rewardOf, type Ticket } from "./tickets.js";

export const triage = agent(
  async (task: Ticket, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none" });
    const completion = await client.chat.completions.create(
      {
        model: llm.model,
        messages: [
          { role: "system", content: ctx.prompt("system").format({}) },
          { role: "user", content: task.ticket },
        ],
      },
      { signal: ctx.signal },
    );
    return rewardOf(task, completion.choices[0]?.message.content);
  },
  { name: "triage" },
);
`,
};
