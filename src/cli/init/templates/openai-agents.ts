import type { FrameworkTemplate } from "./framework.js";

export const OPENAI_AGENTS: FrameworkTemplate = {
  title: "the OpenAI Agents SDK",
  peerPackages: ["@openai/agents"],
  packages: {},
  capture:
    "Agents, tool calls and handoffs are recorded from the SDK's own tracing, which must be on (agent.ts turns it on, and removes the SDK's default exporter to OpenAI with `setTraceProcessors([])`, so tracetrain records alone).",
  agent: `/**
 * The agent: an OpenAI Agents SDK agent. Its instructions come from ctx.prompt("system") and its
 * model from ctx.llm(), so the trainer can hand it a candidate prompt (APO, GEPA) or another model
 * (RL) per rollout; returning a number makes it the rollout's reward.
 */
import { Agent, OpenAIChatCompletionsModel, run, setTraceProcessors, setTracingDisabled } from "@openai/agents";
import OpenAI from "openai";
import { agent } from "tracetrain";
import { rewardOf, type Ticket } from "./tickets.js";

// tracetrain records the SDK's traces; the SDK's own exporter would send them to OpenAI as well.
setTraceProcessors([]);
setTracingDisabled(false);

export const triage = agent(
  async (task: Ticket, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none" });
    const router = new Agent({
      name: "router",
      instructions: ctx.prompt("system").format({}),
      model: new OpenAIChatCompletionsModel(client, llm.model),
    });
    const result = await run(router, task.ticket, { signal: ctx.signal });
    return rewardOf(task, result.finalOutput);
  },
  { name: "triage" },
);
`,
};
