/**
 * OTLP, both ways: spans encoded as an OTLP/HTTP JSON trace request (for export), and OTLP trace
 * requests — JSON or protobuf — decoded into span records (for ingest), under a budget that bounds
 * what a hostile body can cost. Pure functions; the tracer's sink and the server's ingest route do
 * the I/O.
 */
export * from "./encode.js";
export { DEFAULT_DECODE_LIMITS, DecodeBudget, type DecodeLimits, type DecodedResourceSpans, type DecodedSpan, type UndecodableSpan } from "./decoded.js";
export { anyValueToJson, decodeTraceRequestJson, traceResponseJson } from "./json.js";
export { decodeTraceRequestProtobuf, encodeTraceResponseProtobuf } from "./protobuf.js";
