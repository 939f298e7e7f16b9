/**
 * The same agent after the one change that lets tracetrain tune it: the system prompt and the
 * model come from the rollout's resources (`ctx.prompt("system")`, `ctx.llm()`) instead of
 * constants and the environment. APO can then try other prompts, and RL can point the model at
 * its gateway, without touching this file again.
 */
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import type { AgentContext } from "tracetrain";
import { TOOLS } from "./catalog.js";

export function createSupportAgent(ctx: AgentContext) {
  const llm = ctx.llm();
  const model = new ChatOpenAI({
    model: llm.model,
    temperature: 0,
    apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none",
    configuration: { baseURL: llm.baseUrl },
  });
  return createAgent({ model, tools: TOOLS, systemPrompt: ctx.prompt("system").format({}), name: "support" });
}
