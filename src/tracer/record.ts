/**
 * The recording kit: what instrumentations — built in or your own — and the LLM gateway use to
 * record into the current rollout. The tracer's API (`Tracer`, emitters) is built on it; nothing
 * here knows a store, only a {@link SpanSink}.
 */
export { ActiveSpan, describeError } from "./active-span.js";
export { type ContextFrame, currentFrame, outsideTrace, runInFrame, withSuppressed } from "./context.js";
export { type StartSpanOptions, type WithSpanOptions, runInSpan, startSpan, withSpan } from "./spans.js";
export { recordFirstChunk, recordLlmError, recordLlmRequest, recordLlmResponse, startLlmSpan } from "./llm-call.js";
export { finishStream, parseJsonText, recordPartialFailure, recordResponseCopy } from "./llm-response.js";
export { SpanBuffer, type DeliveryStats, type SpanBufferOptions, type SpanSink } from "./span-buffer.js";
export { TraceState, type TraceTarget } from "./trace-state.js";
export { type InstallResult, type Instrumentation } from "./instrumentation.js";
export { Substituter } from "./substitute.js";
