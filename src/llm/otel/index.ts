/**
 * What other OpenTelemetry instrumentations write — the OTel GenAI conventions (parts, indexed and
 * per-message-event forms), OpenInference and the Vercel AI SDK — read into the LLM-call shape
 * and the span form tracetrain records. Pure functions over `unknown`; no I/O.
 */
export {
  AiSdkAttr,
  type Classification,
  type Dialect,
  type ToolCallInfo,
  agentNameOf,
  classifySpan,
  errorTypeOf,
  isConvertedContentEvent,
  isConvertedContentKey,
  llmRequestOf,
  llmResponseOf,
  providerOfAiSdk,
  timeToFirstChunkOf,
  toolCallOf,
  withContentEvents,
} from "./dialects.js";
export { type RecordedForm, issueLines, recordedForm, roleAttributes } from "./span.js";
export { type ContentIssue, type OtelAttributes, type OtelEventLike, describeValue } from "./values.js";
