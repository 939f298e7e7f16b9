/**
 * An LLM call as span attributes: the one mapping from {@link LlmRequest} / {@link LlmResponse} to
 * the attributes adapters read. The tracer records every call through it, and adapters use it to
 * read spans other instrumentations wrote (over OTLP) as if the tracer had recorded them.
 * Undefined values mean "not recorded".
 */
import type { ChatMessage } from "../types/index.js";
import { Attr } from "../types/index.js";
import type { LlmRequest, LlmResponse } from "./call.js";

/** The attributes of a call's request. */
export function requestAttributes(request: LlmRequest): Record<string, unknown> {
  return {
    [Attr.operationName]: request.operation,
    [Attr.providerName]: request.provider,
    [Attr.requestModel]: request.model,
    [Attr.inputMessages]: request.messages ?? (request.prompt === undefined ? undefined : promptAsMessages(request.prompt)),
    [Attr.toolDefinitions]: request.tools && request.tools.length > 0 ? request.tools : undefined,
    [Attr.requestTemperature]: request.temperature,
    [Attr.requestTopP]: request.topP,
    [Attr.requestMaxTokens]: request.maxTokens,
    [Attr.requestChoiceCount]: request.choiceCount,
    [Attr.requestStream]: request.stream,
    [Attr.requestSeed]: request.seed,
    [Attr.requestStopSequences]: request.stop,
    [Attr.endpoint]: request.endpoint,
    [Attr.serverAddress]: request.serverAddress,
    [Attr.serverPort]: request.serverPort,
  };
}

/** A legacy completion prompt as the user messages it amounts to, so adapters see one format. */
function promptAsMessages(prompt: string | string[]): ChatMessage[] {
  return (Array.isArray(prompt) ? prompt : [prompt]).map((content) => ({ role: "user", content }));
}

/**
 * The attributes of a call's response. Logprobs are only usable aligned one to one with the
 * tokens: misaligned ones are left out (never recorded wrong) and said in `tracetrain.llm.capture_warning`.
 */
export function responseAttributes(response: LlmResponse): Record<string, unknown> {
  const tokenIds = response.choices.map((c) => c.tokenIds);
  const warnings: string[] = [];
  const logprobs = response.choices.map((c, i) => {
    if (c.logprobs === undefined || c.tokenIds === undefined || c.logprobs.length === c.tokenIds.length) return c.logprobs;
    warnings.push(`choice ${i}: ${c.logprobs.length} logprobs for ${c.tokenIds.length} token ids; logprobs not recorded`);
    return undefined;
  });
  return {
    [Attr.captureWarning]: warnings.length > 0 ? warnings.join("; ") : undefined,
    [Attr.responseId]: response.id,
    [Attr.responseModel]: response.model,
    [Attr.responseFinishReasons]: response.choices.map((c) => c.finishReason ?? null),
    [Attr.outputMessages]: response.choices.map((c) => ({ ...c.message, ...(c.finishReason ? { finish_reason: c.finishReason } : {}) })),
    [Attr.usageInputTokens]: response.inputTokens,
    [Attr.usageOutputTokens]: response.outputTokens,
    [Attr.promptTokenIds]: response.promptTokenIds,
    [Attr.responseTokenIds]: tokenIds.every((ids) => ids !== undefined) && tokenIds.length > 0 ? tokenIds : undefined,
    [Attr.logprobs]: logprobs.every((lp) => lp !== undefined) && logprobs.length > 0 ? logprobs : undefined,
  };
}
