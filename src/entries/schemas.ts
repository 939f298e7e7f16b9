/**
 * `tracetrain/schemas`: the zod schemas every record and wire payload is defined by (types are
 * inferred from them), the validation helpers, the error classes, and the span conventions
 * (`Attr`, `SpanNames`, …) — the vocabulary for reading spans or writing your own instrumentation.
 *
 * @packageDocumentation
 */
export * from "../types/index.js";
export { Routes, API_PREFIX, type RouteName } from "../store/index.js";
