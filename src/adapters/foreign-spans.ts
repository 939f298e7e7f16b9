/**
 * Spans tracetrain's tracer did not write — sent over OTLP by an OpenTelemetry SDK in any language,
 * or recorded by an instrumentation in another process — are read as the tracer would have
 * recorded them: typed, an LLM call's messages (OTel GenAI parts, indexed attributes or
 * per-message events, OpenInference, Vercel AI SDK) as OpenAI chat messages, a tool span's call
 * and an agent span's name under the GenAI keys. The conversion is the one the tracer's OTel mirror
 * applies in process (`src/llm/otel`), so a span is the same training data whichever way it came.
 * Spans already carry a `tracetrain.span.type` when the tracer wrote them; those are left as they are.
 */
import { recordedForm } from "../llm/index.js";
import { Attr } from "../types/index.js";
import type { AdapterSpan } from "./span-input.js";

const NO_EVENTS: readonly never[] = [];

/** The span as the tracer would have recorded it (a copy; the input is never changed). */
export function asRecorded(span: AdapterSpan): AdapterSpan {
  const attributes = span.attributes ?? {};
  if (typeof attributes[Attr.spanType] === "string") return span;
  const form = recordedForm(span.name, attributes, span.events ?? NO_EVENTS);
  return form === undefined ? span : { ...span, attributes: form.attributes };
}

/**
 * Whether another OpenTelemetry instrumentation wrote the span: it came from outside the tracer
 * (which records `tracetrain.layer` on everything it writes), or the tracer mirrored it (`otel`).
 */
export function isFromOtelInstrumentation(span: AdapterSpan): boolean {
  const layer = span.attributes?.[Attr.layer];
  return layer === undefined || layer === "otel";
}
