/**
 * Records an LLM response as it came over the wire — a whole JSON body, an SSE stream, an HTTP
 * error, or a stream that broke part-way — on the call's span. Shared by every layer that sees raw
 * responses: the fetch and openai instrumentations and the gateway.
 */
import type { JsonObject } from "../types/index.js";
import { toJsonValue } from "../types/index.js";
import { type LlmResponse, type SseEvent, type StreamAccumulator, type WireApi, SseParser, createAccumulator, responseFromBody } from "../llm/index.js";
import type { ActiveSpan } from "./active-span.js";
import { recordFirstChunk, recordLlmError, recordLlmResponse } from "./llm-call.js";

/** A body as JSON, or undefined when it is absent or not JSON. */
export function parseJsonText(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}


/**
 * Records an LLM call's HTTP response from a copy the caller took: an error body for a status of
 * 400 or more, else the JSON body or, for `text/event-stream`, the events as they arrive (so the
 * span ends when the stream does). Resolves when the span has ended; never rejects.
 */
export async function recordResponseCopy(span: ActiveSpan, api: WireApi, copy: Response): Promise<void> {
  try {
    if (copy.status >= 400) {
      const body = parseJsonText(await copy.text());
      recordLlmError(span, httpError(copy.status, body), { status: copy.status, body: errorBody(body) });
    } else if ((copy.headers.get("content-type") ?? "").includes("text/event-stream")) {
      await recordEventStream(span, api, copy);
    } else {
      const text = await copy.text();
      const body = parseJsonText(text);
      if (body === undefined) recordLlmError(span, new Error(`the LLM response body is not JSON (${text.length} characters)`), { status: copy.status });
      else recordLlmResponse(span, responseFromBody(api, body));
    }
  } catch (error) {
    recordLlmError(span, error, { status: copy.status });
  }
}

function httpError(status: number, body: unknown): Error {
  const json = toJsonValue(body);
  const inner = typeof json === "object" && json !== null && !Array.isArray(json) ? (json.error ?? json) : json;
  const detail = typeof inner === "object" && inner !== null && !Array.isArray(inner) && typeof inner.message === "string" ? `: ${inner.message}` : "";
  const error = new Error(`HTTP ${status}${detail}`);
  error.name = "HttpError";
  return error;
}

function errorBody(body: unknown): JsonObject | undefined {
  if (body === undefined) return undefined;
  const json = toJsonValue(body);
  return typeof json === "object" && json !== null && !Array.isArray(json) ? json : { body: json };
}

async function recordEventStream(span: ActiveSpan, api: WireApi, copy: Response): Promise<void> {
  const accumulator = createAccumulator(api);
  const parser = new SseParser();
  const feed = (events: SseEvent[]) => {
    for (const event of events) {
      if (event.data === "[DONE]") continue;
      const data = parseJsonText(event.data);
      if (data === undefined) continue;
      recordFirstChunk(span);
      accumulator.add(data, event.event);
    }
  };
  if (copy.body !== null) {
    const reader = copy.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        feed(parser.push(decoder.decode(value, { stream: true })));
      }
      feed(parser.push(decoder.decode()));
      feed(parser.end());
    } catch (error) {
      recordPartialFailure(span, accumulator, error);
      return;
    }
  }
  finishStream(span, accumulator);
}

/**
 * Ends a stream's span: its response (through `record`, by default recorded as is), or what
 * arrived and the error the stream reported in-band.
 */
export function finishStream(
  span: ActiveSpan,
  accumulator: StreamAccumulator,
  record: (response: LlmResponse) => void = (response) => recordLlmResponse(span, response),
): void {
  const failure = accumulator.error;
  if (failure === undefined) {
    record(accumulator.result());
    return;
  }
  const error = new Error(failure.message);
  error.name = "StreamError";
  recordPartialFailure(span, accumulator, error, errorBody(failure.body));
}

/**
 * Records a call that failed part-way (a stream that broke, or that its consumer abandoned): the
 * response attributes of what did arrive, then the error, which ends the span.
 */
export function recordPartialFailure(span: ActiveSpan, accumulator: StreamAccumulator, error: unknown, body?: JsonObject): void {
  if (accumulator.received) recordLlmResponse(span, accumulator.result(), { end: false });
  recordLlmError(span, error, body === undefined ? {} : { body });
}

