/**
 * The LLM call on the wire: the one shape every layer describes a call in ({@link LlmRequest},
 * {@link LlmResponse}), an incremental SSE parser, and the codecs that read each wire API's
 * requests, responses and streams into that shape. Pure functions over `unknown`; no I/O.
 */
export type { LlmChoice, LlmRequest, LlmResponse } from "./call.js";
export { SseParser, type SseEvent } from "./sse.js";
export * from "./wire/index.js";
