/**
 * The tracer: records what an unmodified agent does — LLM calls, tools, agents, rewards — as spans
 * of the current rollout (AsyncLocalStorage context), through instrumentations that hook the SDKs
 * and frameworks the application loads, and delivers them to a {@link SpanSink}. It never knows a
 * store.
 */
export { Tracer, type TraceOutcome, type InstrumentResults } from "./tracer.js";
export {
  TracerOptionsSchema,
  TraceOptionsSchema,
  InstrumentOptionsSchema,
  type TracerOptions,
  type ParsedTracerOptions,
  type TraceOptions,
  type InstrumentOptions,
} from "./options.js";
export { emitReward, withReward, emitMessage, emitObject, emitException, operation, withAgent } from "./emitters.js";
export {
  builtinInstrumentations,
  createOpenAIInstrumentation,
  createFetchInstrumentation,
  createLangChainInstrumentation,
  createAgentsInstrumentation,
  createAiSdkInstrumentation,
  createOtelInstrumentation,
  createOtelSpanProcessor,
  type OtelSpanProcessor,
  type InstrumentationName,
} from "./instrumentations/index.js";
export { createOtlpSink, teeSinks, tracesUrl, type OtlpSinkOptions, type TeeSink, type TeeOptions } from "./otlp-export.js";
// The recording kit, for instrumentations and the gateway.
export * from "./record.js";
