import type { Instrumentation } from "../instrumentation.js";
import { createAgentsInstrumentation } from "./agents.js";
import { createAiSdkInstrumentation } from "./ai-sdk.js";
import { createFetchInstrumentation } from "./fetch.js";
import { createLangChainInstrumentation } from "./langchain.js";
import { createOpenAIInstrumentation } from "./openai.js";
import { createOtelInstrumentation } from "./otel.js";

/** The built-in instrumentations, by the option name that turns each on or off. */
export const builtinInstrumentations = {
  /** The openai SDK (chat completions, completions, responses): exact requests and responses, streams included. */
  openai: createOpenAIInstrumentation,
  /** `globalThis.fetch`: OpenAI-compatible and Anthropic calls made by any other client. */
  fetch: createFetchInstrumentation,
  /** LangChain.js / LangGraph runs: chains, graph nodes as agents, tools, retrievers. */
  langchain: createLangChainInstrumentation,
  /** The OpenAI Agents SDK: agents, tools, handoffs. */
  agents: createAgentsInstrumentation,
  /** The Vercel AI SDK 7's diagnostics channel: operations, steps, model calls, tool executions (AI SDK 6: see `otel`). */
  ai: createAiSdkInstrumentation,
  /** OpenTelemetry spans of other libraries (e.g. the Vercel AI SDK 6 with telemetry on). */
  otel: createOtelInstrumentation,
} satisfies Record<string, () => Instrumentation>;

export type InstrumentationName = keyof typeof builtinInstrumentations;

/**
 * Whether each instrumentation is on when `Tracer.instrument()`'s options do not say. All are,
 * except `otel`: it registers a global OpenTelemetry tracer provider, and OpenTelemetry refuses a
 * second one, so turning it on behind an application's back could break the application's own OTel
 * set-up. Turn it on (`{ otel: true }`), or add `createOtelSpanProcessor()` to your own provider.
 */
export const instrumentedByDefault: Record<InstrumentationName, boolean> = { openai: true, fetch: true, langchain: true, agents: true, ai: true, otel: false };

export { createAgentsInstrumentation, createAiSdkInstrumentation, createFetchInstrumentation, createLangChainInstrumentation, createOpenAIInstrumentation, createOtelInstrumentation };
export { createOtelSpanProcessor, type OtelSpanProcessor } from "./otel.js";
