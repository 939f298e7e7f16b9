/**
 * tracetrain — train AI agents from their own traces.
 *
 * This entry point is the whole public API. Records and wire payloads are zod schemas
 * (`RolloutSchema`, `SpanSchema`, …) with their TypeScript types inferred from them.
 */
export * from "./types/index.js";
export * from "./store/index.js";
export * from "./server/index.js";
export { createStore } from "./create-store.js";
export * from "./tracer/index.js";
export * from "./runner/index.js";
export * from "./algorithms/index.js";
export * from "./adapters/index.js";
export * from "./trainer/index.js";
export * from "./gateway/index.js";
