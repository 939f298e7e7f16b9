/**
 * `tracetrain/otel`: OpenTelemetry both ways — a span processor that turns other libraries' OTel
 * spans (the Vercel AI SDK's, for one) into tracetrain spans, and a sink that exports tracetrain's
 * spans to any OTLP/HTTP collector, next to the store with `teeSinks`.
 *
 * @packageDocumentation
 */
export {
  createOtelInstrumentation,
  createOtelSpanProcessor,
  type OtelSpanProcessor,
  createOtlpSink,
  teeSinks,
  type OtlpSinkOptions,
  type TeeSink,
  type TeeOptions,
  type SpanSink,
  type DeliveryStats,
} from "../tracer/index.js";
