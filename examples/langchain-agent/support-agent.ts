/**
 * The agent as its developer wrote it, before tracetrain: a LangChain.js `createAgent` with two
 * catalogue tools, a fixed system prompt and a ChatOpenAI model configured from the environment.
 * Nothing in this file knows about tracetrain.
 */
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { TOOLS } from "./catalog.js";

export const SYSTEM_PROMPT = "You are the customer support assistant of Trailhead Outfitters, an outdoor gear shop. Answer the customer's question about our products using the catalogue tools. Be brief and friendly.";

export function createSupportAgent() {
  const model = new ChatOpenAI({
    model: process.env.OPENAI_MODEL ?? "gpt-4.1-mini",
    temperature: 0,
    apiKey: process.env.OPENAI_API_KEY ?? "none",
    configuration: { baseURL: process.env.OPENAI_BASE_URL },
  });
  return createAgent({ model, tools: TOOLS, systemPrompt: SYSTEM_PROMPT, name: "support" });
}

/** Asks the agent one question and returns its final answer. */
export async function ask(agent: ReturnType<typeof createSupportAgent>, question: string, signal?: AbortSignal): Promise<string> {
  // A cap on model/tool turns, so that a model that keeps calling tools ends the run instead of looping.
  const { messages } = await agent.invoke({ messages: [{ role: "user", content: question }] }, { signal, recursionLimit: 12 });
  const last = messages.at(-1);
  return last === undefined ? "" : last.text;
}
