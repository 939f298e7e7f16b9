import type { FrameworkTemplate } from "./framework.js";

export const LANGCHAIN: FrameworkTemplate = {
  title: "LangChain.js",
  peerPackages: ["@langchain/core"],
  packages: { "@langchain/openai": "^1.0.0" },
  capture:
    "No `callbacks:` argument needed: the tracer records LangChain runs (and LangGraph nodes, each as an agent named after the node) with their structure, and `ChatOpenAI`'s calls as LLM-call spans of the rollout.",
  agent: `/**
 * The agent: a LangChain.js ChatOpenAI call. It reads its system prompt with ctx.prompt("system")
 * and its model with ctx.llm(), so the trainer can hand it a candidate prompt (APO, GEPA) or
 * another model (RL) per rollout; returning a number makes it the rollout's reward.
 */
import { ChatOpenAI } from "@langchain/openai";
import { agent } from "tracetrain";
import { rewardOf, type Ticket } from "./tickets.js";

export const triage = agent(
  async (task: Ticket, ctx) => {
    const llm = ctx.llm();
    const model = new ChatOpenAI({
      model: llm.model,
      apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none",
      configuration: { baseURL: llm.baseUrl },
    });
    const reply = await model.invoke(
      [
        ["system", ctx.prompt("system").format({})],
        ["human", task.ticket],
      ],
      { signal: ctx.signal },
    );
    return rewardOf(task, reply.text);
  },
  { name: "triage" },
);
`,
};
