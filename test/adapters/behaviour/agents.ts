/**
 * Real traced agents for the detector tests: a tool-calling loop over the real openai SDK (its tool
 * runs leave no span: results are only in the next prompt) and one over LangChain (tool spans),
 * run by a Runner with the real tracer into a real SQLite file, against the mock LLM whose
 * scripted replies make the model do the bad thing or its harmless look-alike. Each run is read
 * back from the store and adapted, as the behaviour filter will.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HumanMessage, SystemMessage, type BaseMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import { ChatOpenAI } from "@langchain/openai";
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { z } from "zod";
import type { Rollout, Span } from "tracetrain";
import { type AdaptedAttempt, adaptSpans, contextFromRollout } from "tracetrain/adapters";
import { SqliteStore } from "tracetrain/store";
import { type Reply, replySequence } from "tracetrain/testing";
import { type Harness, quiet, startHarness } from "../harness.js";

export interface Traced {
  attempt: AdaptedAttempt;
  rollout: Rollout;
  spans: Span[];
}

/** A tool the agents can call: what it returns for the arguments the model wrote. */
export type ToolImpl = (args: Record<string, unknown>) => string;

export interface Agents {
  h: Harness;
  /** The openai SDK loop: `replies` scripted, `tools` run in-process without spans. */
  openai(replies: Reply[], tools?: Record<string, ToolImpl>, options?: RunOptions): Promise<Traced>;
  /** The LangChain loop: `replies` scripted, `tools` run as LangChain tools (recorded as tool spans). */
  langchain(replies: Reply[], tools?: Record<string, ToolImpl>, options?: RunOptions): Promise<Traced>;
  /** Any agent function, traced and adapted the same way. */
  run(name: string, fn: () => Promise<number>): Promise<Traced>;
  close(): Promise<void>;
}

export interface RunOptions {
  /** The user's message (the task). */
  user?: string;
  /** The reward the agent returns from its final answer. Default 1. */
  reward?: (answer: string) => number;
}

const SYSTEM = "You are a helpful agent. Use the tools you are given.";

export async function startAgents(): Promise<Agents> {
  const dir = mkdtempSync(join(tmpdir(), "tracetrain-detectors-"));
  const h = await startHarness(new SqliteStore(join(dir, "store.db"), { watchdogIntervalMs: false, logger: quiet }));
  const client = new OpenAI({ baseURL: h.mock.baseUrl, apiKey: "test", maxRetries: 0 });
  const traced = async (name: string, fn: () => Promise<number>): Promise<Traced> => {
    const { rollout, spans } = await h.run(name, fn);
    const [attempt] = adaptSpans(spans, { context: contextFromRollout(rollout) });
    if (attempt === undefined) throw new Error(`the ${name} run recorded no spans`);
    return { attempt, rollout, spans };
  };
  return {
    h,
    async openai(replies, tools = {}, options = {}) {
      h.mock.script(replySequence(replies));
      try {
        return await traced("openai", () => openaiLoop(client, tools, options));
      } finally {
        h.mock.script(undefined);
      }
    },
    async langchain(replies, tools = {}, options = {}) {
      h.mock.script(replySequence(replies));
      try {
        return await traced("langchain", () => langchainLoop(h.mock.baseUrl, tools, options));
      } finally {
        h.mock.script(undefined);
      }
    },
    run: traced,
    async close() {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function toolDefinitions(tools: Record<string, ToolImpl>): ChatCompletionTool[] {
  return Object.keys(tools).map((name) => ({ type: "function", function: { name, description: `The ${name} tool.`, parameters: { type: "object", properties: {}, additionalProperties: true } } }));
}

/** Arguments as the tool sees them: malformed JSON reaches it as `{ raw }`, as a forgiving agent would pass it on. */
function parseArgs(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { raw: text };
  }
}

async function openaiLoop(client: OpenAI, tools: Record<string, ToolImpl>, options: RunOptions): Promise<number> {
  const messages: ChatCompletionMessageParam[] = [
    { role: "system", content: SYSTEM },
    { role: "user", content: options.user ?? "Please do the task." },
  ];
  const definitions = toolDefinitions(tools);
  for (let turn = 0; turn < 8; turn++) {
    const reply = await client.chat.completions.create({ model: "mock-model", messages, ...(definitions.length > 0 ? { tools: definitions } : {}) });
    const message = reply.choices[0]!.message;
    messages.push(message);
    if (!message.tool_calls?.length) return (options.reward ?? (() => 1))(message.content ?? "");
    for (const call of message.tool_calls) {
      if (call.type !== "function") continue;
      const run = tools[call.function.name];
      const result = run === undefined ? `unknown tool ${call.function.name}` : run(parseArgs(call.function.arguments));
      messages.push({ role: "tool", tool_call_id: call.id, content: result });
    }
  }
  return 0;
}

async function langchainLoop(baseUrl: string, impls: Record<string, ToolImpl>, options: RunOptions): Promise<number> {
  const tools = Object.entries(impls).map(([name, run]) => tool(async (args: Record<string, unknown>) => run(args), { name, description: `The ${name} tool.`, schema: z.record(z.string(), z.unknown()) }));
  const base = new ChatOpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: baseUrl }, maxRetries: 0 });
  const model = tools.length > 0 ? base.bindTools(tools) : base;
  const messages: BaseMessage[] = [new SystemMessage(SYSTEM), new HumanMessage(options.user ?? "Please do the task.")];
  for (let turn = 0; turn < 8; turn++) {
    const reply = await model.invoke(messages);
    messages.push(reply);
    if (!reply.tool_calls?.length) return (options.reward ?? (() => 1))(typeof reply.content === "string" ? reply.content : JSON.stringify(reply.content));
    for (const call of reply.tool_calls) {
      const t = tools.find((x) => x.name === call.name);
      if (t === undefined) continue;
      messages.push(await t.invoke(call));
    }
  }
  return 0;
}
