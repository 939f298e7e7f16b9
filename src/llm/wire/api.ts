/**
 * The wire APIs, told apart by request path, and dispatch to each one's request reader, response
 * reader and stream accumulator.
 */
import type { LlmRequest, LlmResponse } from "../call.js";
import type { StreamAccumulator } from "./accumulator.js";
import { AnthropicEventAccumulator, anthropicRequest, anthropicResponse } from "./anthropic.js";
import { ChatChunkAccumulator, chatRequest, chatResponse } from "./chat.js";
import { CompletionChunkAccumulator, completionRequest, completionResponse } from "./completions.js";
import { ResponsesEventAccumulator, responsesRequest, responsesResponse } from "./responses.js";

/** The wire APIs this module understands. */
export type WireApi = "chat" | "completions" | "responses" | "anthropic";

/** Which API a request path belongs to (`…/chat/completions`, `…/completions`, `…/responses`, `…/messages`). */
export function wireApiOfPath(path: string): WireApi | undefined {
  if (path.endsWith("/chat/completions")) return "chat";
  if (path.endsWith("/completions")) return "completions";
  if (path.endsWith("/responses")) return "responses";
  if (path.endsWith("/messages")) return "anthropic";
  return undefined;
}

/** The `gen_ai.provider.name` of an API. */
export function providerOf(api: WireApi): string {
  return api === "anthropic" ? "anthropic" : "openai";
}

/** The request of any API, from its JSON body. */
export function requestFromBody(api: WireApi, body: unknown): LlmRequest {
  switch (api) {
    case "chat":
      return chatRequest(body);
    case "completions":
      return completionRequest(body);
    case "responses":
      return responsesRequest(body);
    case "anthropic":
      return anthropicRequest(body);
  }
}

/** The response of any API, from its JSON body. */
export function responseFromBody(api: WireApi, body: unknown): LlmResponse {
  switch (api) {
    case "chat":
      return chatResponse(body);
    case "completions":
      return completionResponse(body);
    case "responses":
      return responsesResponse(body);
    case "anthropic":
      return anthropicResponse(body);
  }
}

/** A fresh accumulator for a stream of this API. */
export function createAccumulator(api: WireApi): StreamAccumulator {
  switch (api) {
    case "chat":
      return new ChatChunkAccumulator();
    case "completions":
      return new CompletionChunkAccumulator();
    case "responses":
      return new ResponsesEventAccumulator();
    case "anthropic":
      return new AnthropicEventAccumulator();
  }
}
