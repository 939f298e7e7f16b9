/**
 * Records an LLM call on a span. Whatever an instrumentation sees — an openai SDK call, raw HTTP,
 * a LangChain run, an Agents SDK generation, an OTel span in another dialect — it converts to
 * {@link LlmRequest} / {@link LlmResponse} (`src/llm/call.ts`) and records them here, so an
 * LLM-call span looks the same whichever layer wrote it, and adapters read one format.
 */
import { type LlmRequest, type LlmResponse, requestAttributes, responseAttributes } from "../llm/index.js";
import type { JsonObject } from "../types/index.js";
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
  span.setAttributes(requestAttributes(request));
}

/**
 * Records the response and ends the span — or, with `end: false`, only records what arrived (a
 * stream cut short is recorded this way before its error ends the span).
 */
export function recordLlmResponse(span: ActiveSpan, response: LlmResponse, options: { endTime?: number; end?: boolean } = {}): void {
  span.setAttributes(responseAttributes(response));
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
