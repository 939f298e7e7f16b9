/**
 * Test support shipped to users: a deterministic OpenAI-compatible LLM server, and the store
 * conformance suite every store backend must pass.
 */
export * from "./mock-llm.js";
export { describeStoreConformance, type ConformanceTestApi, type StoreFactory } from "./store-conformance.js";
export { hexId, makeSpan } from "./spans.js";
export { requestMessages, stableHash, type RequestMessage } from "./request-text.js";
