/**
 * Records an LLM call on a span. Whatever an instrumentation sees — an openai SDK call, raw HTTP,
 * a LangChain run, an Agents SDK generation, an OTel span in another dialect — it converts to
 * {@link LlmRequest} / {@link LlmResponse} (`src/llm/call.ts`) and records them here, so an
 * LLM-call span looks the same whichever layer wrote it, and adapters read one format.
 */
import type { LlmRequest, LlmResponse } from "../llm/index.js";
import type { ChatMessage, JsonObject } from "../types/index.js";
import type { ActiveSpan } from "./active-span.js";
import { Attr, type Layer, SpanTypes, llmSpanName } from "../types/index.js";
import { nowMs } from "../types/index.js";
import { startSpan } from "./spans.js";

/** Starts an LLM-call span for `request` in the current rollout (undefined outside a trace). */
export function startLlmSpan(
  layer: Layer,
  request: LlmRequest,
  options: { startTime?: number; parent?: ActiveSpan; agentName?: string } = {},
): ActiveSpan | undefined {
  const span = startSpan(llmSpanName(request.operation, request.model), {
    layer,
    type: SpanTypes.llm,
    kind: "client",
    ...(options.startTime === undefined ? {} : { startTime: options.startTime }),
    ...(options.parent === undefined ? {} : { parent: options.parent }),
    ...(options.agentName === undefined ? {} : { agentName: options.agentName }),
  });
  if (span) recordLlmRequest(span, request);
  return span;
}

export function recordLlmRequest(span: ActiveSpan, request: LlmRequest): void {
  span.setAttributes({
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
  });
}

/** A legacy completion prompt as the user messages it amounts to, so adapters see one format. */
function promptAsMessages(prompt: string | string[]): ChatMessage[] {
  return (Array.isArray(prompt) ? prompt : [prompt]).map((content) => ({ role: "user", content }));
}

/**
 * Records the response and ends the span — or, with `end: false`, only records what arrived (a
 * stream cut short is recorded this way before its error ends the span).
 */
export function recordLlmResponse(span: ActiveSpan, response: LlmResponse, options: { endTime?: number; end?: boolean } = {}): void {
  const tokenIds = response.choices.map((c) => c.tokenIds);
  const warnings: string[] = [];
  // Logprobs are only usable aligned one to one with the tokens; misaligned ones are left out, never recorded wrong.
  const logprobs = response.choices.map((c, i) => {
    if (c.logprobs === undefined || c.tokenIds === undefined || c.logprobs.length === c.tokenIds.length) return c.logprobs;
    warnings.push(`choice ${i}: ${c.logprobs.length} logprobs for ${c.tokenIds.length} token ids; logprobs not recorded`);
    return undefined;
  });
  if (warnings.length > 0) span.setAttribute(Attr.captureWarning, warnings.join("; "));
  span.setAttributes({
    [Attr.responseId]: response.id,
    [Attr.responseModel]: response.model,
    [Attr.responseFinishReasons]: response.choices.map((c) => c.finishReason ?? null),
    [Attr.outputMessages]: response.choices.map((c) => ({ ...c.message, ...(c.finishReason ? { finish_reason: c.finishReason } : {}) })),
    [Attr.usageInputTokens]: response.inputTokens,
    [Attr.usageOutputTokens]: response.outputTokens,
    [Attr.promptTokenIds]: response.promptTokenIds,
    [Attr.responseTokenIds]: tokenIds.every((ids) => ids !== undefined) && tokenIds.length > 0 ? tokenIds : undefined,
    [Attr.logprobs]: logprobs.every((lp) => lp !== undefined) && logprobs.length > 0 ? logprobs : undefined,
  });
  if (options.end !== false) span.setStatus("ok").end(options.endTime);
}

/** Records a failed call (an HTTP error, a thrown SDK error, an aborted stream) and ends the span. */
export function recordLlmError(span: ActiveSpan, error: unknown, details: { status?: number; body?: JsonObject } = {}): void {
  span.setAttribute(Attr.errorType, details.status !== undefined ? String(details.status) : error instanceof Error ? error.name : typeof error);
  if (details.body !== undefined) span.setAttribute(Attr.errorBody, details.body);
  span.recordException(error).end();
}

/** Marks the moment the first streamed chunk arrived (OTel: seconds from the request). */
export function recordFirstChunk(span: ActiveSpan): void {
  if (span.getAttribute(Attr.timeToFirstChunk) === undefined) span.setAttribute(Attr.timeToFirstChunk, (nowMs() - span.startTime) / 1000);
}
