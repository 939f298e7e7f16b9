/**
 * Pure conversion of LLM wire payloads — OpenAI chat completions, legacy completions, the
 * Responses API and Anthropic messages, whole or streamed — into the one shape every layer records
 * ({@link LlmRequest} / {@link LlmResponse}). The openai SDK patch, the fetch wrapper and the
 * gateway all use these, so a call looks the same whichever layer saw it.
 *
 * One file per wire API (`chat.ts`, `completions.ts`, `responses.ts`, `anthropic.ts`), each with
 * its request reader, response reader and stream accumulator; `api.ts` dispatches by API. Every
 * converter takes `unknown`, keeps what it can recognise, skips the rest, and never throws.
 */
export { type WireApi, createAccumulator, providerOf, requestFromBody, responseFromBody, wireApiOfPath } from "./api.js";
export type { StreamAccumulator, StreamError } from "./accumulator.js";
export { logprobsOf } from "./common.js";
export { ChatChunkAccumulator, chatRequest, chatResponse } from "./chat.js";
export { CompletionChunkAccumulator, completionRequest, completionResponse } from "./completions.js";
export { ResponsesEventAccumulator, responsesRequest, responsesResponse } from "./responses.js";
export { AnthropicEventAccumulator, anthropicRequest, anthropicResponse } from "./anthropic.js";
