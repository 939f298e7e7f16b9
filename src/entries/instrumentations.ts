/**
 * `tracetrain/instrumentations`: the built-in instrumentations `Tracer.instrument()` installs
 * (openai, fetch, LangChain, the OpenAI Agents SDK, the Vercel AI SDK 7, OpenTelemetry), the {@link Instrumentation}
 * contract, and the recording kit to write your own.
 *
 * @packageDocumentation
 */
export {
  builtinInstrumentations,
  createOpenAIInstrumentation,
  createFetchInstrumentation,
  createLangChainInstrumentation,
  createAgentsInstrumentation,
  createAiSdkInstrumentation,
  createOtelInstrumentation,
  type InstrumentOptions,
  type InstrumentationName,
  type Instrumentation,
  type InstallResult,
  ActiveSpan,
  currentFrame,
  runInSpan,
  startSpan,
  withSpan,
  withSuppressed,
  startLlmSpan,
  recordLlmRequest,
  recordLlmResponse,
  recordLlmError,
  recordFirstChunk,
  type StartSpanOptions,
  type WithSpanOptions,
} from "../tracer/index.js";
export type { LlmRequest, LlmResponse, LlmChoice } from "../llm/index.js";
export { Attr, SpanNames, SpanTypes, Operations, EventNames, Layers, type Layer, type SpanType } from "../types/index.js";
