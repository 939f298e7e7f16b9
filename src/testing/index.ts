/**
 * Test support shipped to users: a deterministic OpenAI-compatible LLM server, and the conformance
 * suites every store backend and every training backend must pass.
 */
export * from "./mock-llm.js";
export { describeStoreConformance, type ConformanceTestApi, type StoreFactory } from "./store-conformance.js";
export {
  describeBackendConformance,
  type BackendConformanceTestApi,
  type BackendFactory,
  type BackendUnderTest,
  type TokenSequence,
} from "./backend-conformance.js";
export { hexId, makeSpan } from "./spans.js";
export { requestMessages, stableHash, type RequestMessage } from "./request-text.js";
