export { Tracer, type TracerOptions, type TraceOptions, type TraceOutcome } from "./tracer.js";
export { emitReward, withReward, emitMessage, emitObject, emitException, operation, withAgent, type RewardOptions } from "./emitters.js";
export type { SpanSink, DeliveryStats } from "./span-buffer.js";
export type { TraceTarget } from "./trace-state.js";
export { Attr, SpanNames, SpanTypes, Layers, Operations, EventNames, type SpanType, type Layer } from "./conventions.js";
export type { Instrumentation, InstallResult } from "./instrumentation.js";
export {
  builtinInstrumentations,
  createOpenAIInstrumentation,
  createFetchInstrumentation,
  createLangChainInstrumentation,
  createAgentsInstrumentation,
  createOtelInstrumentation,
  type InstrumentOptions,
  type InstrumentationName,
} from "./instrumentations/index.js";
export { createOtelSpanProcessor, type OtelSpanProcessor } from "./instrumentations/otel.js";
export { createOtlpSink, teeSinks, type OtlpSinkOptions, type TeeSink, type TeeOptions } from "./otlp-export.js";
