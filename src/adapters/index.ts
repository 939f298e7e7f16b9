/**
 * Adapters: pure functions from spans to training data — transitions, trajectories, chat
 * records for SFT, merged token samples for RL — with explicit reward and credit policies and a
 * diagnostics report per attempt. No I/O (except {@link writeJsonl}, which writes to the stream it
 * is handed).
 */
export type { AdapterSpan, AttemptContext, AttemptContextSource, AttemptSpans } from "./span-input.js";
export { groupByAttempt, groupIdOf, contextFromRollout, contextFor } from "./span-input.js";
export { buildSpanTree, isDescendant, type SpanNode, type SpanTree } from "./span-tree.js";
export { extractCalls, agentMatcher, type CallChoice, type CallExclusion, type CallSelectionOptions, type ExtractedCall } from "./calls.js";
export type { ToolUse } from "./tool-uses.js";
export { assignRewards, type RewardAssignment, type RewardFeedback } from "./rewards.js";
export {
  finalCredit,
  lastCallCredit,
  perCallCredit,
  discountedCredit,
  creditPolicies,
  creditPolicyFromName,
  combineRewards,
  type CreditPolicy,
  type CreditInput,
  type CreditCall,
} from "./credit.js";
export { adaptAttempt, adaptSpans, toTransitions, toTrajectories, diagnose, type AdaptedAttempt, type AdapterOptions } from "./transitions.js";
export { toChatMessages, toChatSamples, chatSamplesOf, sameMessage, toFineTuningMessage, offeredTools, type OfferedTool, type ChatMessagesOptions, type ChatSample } from "./chat-messages.js";
export { mergeTransitions, toMergedSamples, startsWithSequence, type MergeOptions, type MergeResult, type AttemptMerge, type MergedSamplesOptions } from "./merge.js";
export { toOpenAiChatRecord, toHfChatRecord, hasUntrainedTurns, functionTools } from "./chat-formats.js";
export { toTokenRecord, toSftTokenRecord, toChatRecord, filterForExport, topKPerGroup, toJsonLine, toJsonl, type ExportItem, type ExportFilter } from "./export-formats.js";
export { writeJsonl, type JsonlSink } from "./export-writer.js";
export {
  DiagnosticsCollector,
  summarizeDiagnostics,
  explainEmpty,
  type AdapterDiagnostics,
  type DiagnosticsSummary,
  type DropReason,
  type DroppedItem,
  type FinalRewardSource,
  type MergeNote,
  type MergeStats,
} from "./diagnostics.js";
export { TraceAdapter, type TraceAdapterOptions, type AdaptResult } from "./trace-adapter.js";
export { DEFAULT_PRICES, priceOf, costOf, type Price } from "./prices.js";
export {
  callTokens,
  tokenFigures,
  figuresOf,
  sumFigures,
  emptyFigures,
  tokensPerReward,
  countMessageTokens,
  countTextTokens,
  TOKENS_PER_MESSAGE,
  REPLY_PRIMING_TOKENS,
  UNKNOWN_MODEL,
  type CallTokens,
} from "./token-accounting.js";
export * from "./behaviour/index.js";
