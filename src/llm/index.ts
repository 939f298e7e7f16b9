/**
 * The LLM call on the wire: the one shape every layer describes a call in ({@link LlmRequest},
 * {@link LlmResponse}), an incremental SSE parser, and the codecs that read each wire API's
 * requests, responses and streams into that shape; that shape as span attributes; and the readers
 * of what other OpenTelemetry instrumentations record. Pure functions over `unknown`; no I/O.
 */
export type { LlmChoice, LlmRequest, LlmResponse } from "./call.js";
export { SseParser, type SseEvent } from "./sse.js";
export * from "./wire/index.js";
export { requestAttributes, responseAttributes } from "./call-attributes.js";
export * from "./otel/index.js";
