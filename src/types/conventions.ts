/**
 * Every span name and attribute key tracetrain writes or reads, in one place.
 *
 * LLM calls, agents and tools follow the OpenTelemetry GenAI semantic conventions (`gen_ai.*`).
 * What those conventions lack — exact token ids, logprobs, reward semantics, which layer saw a
 * call — lives under `tracetrain.*`.
 */

/** Span names tracetrain gives its own spans. LLM, agent and tool spans use OTel's `{operation} {name}` form. */
export const SpanNames = {
  rollout: "tracetrain.rollout",
  reward: "tracetrain.reward",
  message: "tracetrain.message",
  object: "tracetrain.object",
  exception: "tracetrain.exception",
  /** A behaviour filter's finding (see types/behaviour.ts): a child of the span it points at. */
  behaviourFinding: "tracetrain.behaviour.finding",
} as const;

/** What a span represents; written to {@link Attr.spanType} so adapters never guess from names. */
export const SpanTypes = {
  rollout: "rollout",
  /** One call to a model: request, response, usage, token ids. */
  llm: "llm",
  /** A framework's wrapper around a model call that a lower layer recorded in full (see `tracetrain.llm.recorded_by`). */
  llmRun: "llm_run",
  agent: "agent",
  tool: "tool",
  chain: "chain",
  retriever: "retriever",
  handoff: "handoff",
  operation: "operation",
  reward: "reward",
  message: "message",
  object: "object",
  exception: "exception",
  /** A behaviour finding: never a call or a reward, adapters leave it out of training data. */
  behaviour: "behaviour",
} as const;
export type SpanType = (typeof SpanTypes)[keyof typeof SpanTypes];

/**
 * Which instrumentation produced a span; reported per layer in the coverage report. `external`
 * marks spans the store server records on behalf of code without the tracetrain SDK (an agent in
 * another language that posts its reward over HTTP).
 */
export const Layers = ["tracer", "emitter", "openai", "fetch", "langchain", "agents", "ai", "otel", "external", "gateway"] as const;
export type Layer = (typeof Layers)[number];

/** Attribute keys. */
export const Attr = {
  // tracetrain.*
  spanType: "tracetrain.span.type",
  layer: "tracetrain.layer",
  rolloutId: "tracetrain.rollout_id",
  attemptId: "tracetrain.attempt_id",
  agentName: "tracetrain.agent.name",
  /** Set on a span that was still open when its trace ended and was closed by the tracer. */
  incomplete: "tracetrain.span.incomplete",
  promptTokenIds: "tracetrain.llm.prompt_token_ids",
  /** One list of token ids per choice (`n` > 1 gives several). */
  responseTokenIds: "tracetrain.llm.response_token_ids",
  /** One list of per-token logprobs per choice, aligned with the response tokens. */
  logprobs: "tracetrain.llm.logprobs",
  policyVersion: "tracetrain.llm.policy_version",
  /** On a framework's model-call span: the layer that recorded the same call in full (its child). */
  recordedBy: "tracetrain.llm.recorded_by",
  /** The request path the call went to, e.g. `/v1/chat/completions`. */
  endpoint: "tracetrain.llm.endpoint",
  /** The error body an LLM server returned with a failed call. */
  errorBody: "tracetrain.llm.error_body",
  /** Set on a call recorded without exact token ids (its transitions are text only: never tokenize them and pretend). */
  textOnly: "tracetrain.llm.text_only",
  /** Why token data the server sent was not recorded (e.g. logprobs misaligned with the token ids). */
  captureWarning: "tracetrain.llm.capture_warning",
  /**
   * Message content of another instrumentation's span that could not be read into chat messages
   * (a part type chat messages cannot hold, a malformed message), one line each: the call's text
   * is incomplete, so adapters do not make it text training data.
   */
  contentIssues: "tracetrain.llm.content_issues",
  /** On a gateway call: the upstream that answered, and how many times the call was retried on the way. */
  /**
   * On an LLM-call span: the prompt components whose seed text the tracer or gateway replaced with
   * the candidate's text in this request (in-flight substitution, see `tracetrain.substitutions`).
   */
  substituted: "tracetrain.substituted",
  /** On a rollout's root span: the prompt templates the agent read through `ctx.prompt()`. */
  promptsRead: "tracetrain.prompts_read",
  gatewayUpstream: "tracetrain.gateway.upstream",
  gatewayRetries: "tracetrain.gateway.retries",
  rewardValue: "tracetrain.reward.value",
  rewardName: "tracetrain.reward.name",
  /** Several named reward dimensions `{name → value}`; `tracetrain.reward.value` holds the primary one. */
  rewardValues: "tracetrain.reward.values",
  rewardFinal: "tracetrain.reward.final",
  rewardCallId: "tracetrain.reward.call_id",
  /** The evaluator's textual feedback on the reward: why the run earned it (what a reflection reads). */
  rewardFeedback: "tracetrain.reward.feedback",
  messageBody: "tracetrain.message.body",
  objectJson: "tracetrain.object.json",
  operationInput: "tracetrain.operation.input",
  operationOutput: "tracetrain.operation.output",
  /** The framework's own id for a run (LangChain run id, Agents SDK span id), for joining. */
  frameworkRunId: "tracetrain.framework.run_id",
  /** On a `retriever` span: the query, and the documents found (`{pageContent, metadata, id?}`). */
  retrievalQuery: "tracetrain.retrieval.query",
  retrievalDocuments: "tracetrain.retrieval.documents",
  /** The name an OTel span had when its mirror was renamed (LLM calls are named `{operation} {model}`). */
  otelSpanName: "tracetrain.otel.span_name",
  /** A framework span's own data where no GenAI attribute fits (an Agents SDK guardrail's `{name, triggered}`, a custom span's data). */
  frameworkSpanData: "tracetrain.framework.span_data",
  /** On a `handoff` span: the agent handing off, and the agent taking over. */
  handoffFrom: "tracetrain.handoff.from",
  handoffTo: "tracetrain.handoff.to",

  /** On a behaviour finding span: who found what (see `Finding`). */
  behaviourDetector: "tracetrain.behaviour.detector",
  behaviourRule: "tracetrain.behaviour.rule",
  behaviourSeverity: "tracetrain.behaviour.severity",
  behaviourMessage: "tracetrain.behaviour.message",
  behaviourEvidence: "tracetrain.behaviour.evidence",
  /** The span the finding points at (also its parent when that span is in the attempt's trace). */
  behaviourTarget: "tracetrain.behaviour.target_span_id",
  /** What the policy did about it: `log`, `penalize`, `exclude` or `stop`. */
  behaviourAction: "tracetrain.behaviour.action",
  /** The reward change this finding made (0 or negative): the rollout's trained reward is its outcome reward plus these. */
  behaviourPenalty: "tracetrain.behaviour.penalty",
  /** `attempt` (one trace) or `group` (the rollouts of one task compared). */
  behaviourScope: "tracetrain.behaviour.scope",

  // OpenTelemetry GenAI
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  requestTemperature: "gen_ai.request.temperature",
  requestTopP: "gen_ai.request.top_p",
  requestTopK: "gen_ai.request.top_k",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestChoiceCount: "gen_ai.request.choice.count",
  requestStream: "gen_ai.request.stream",
  requestSeed: "gen_ai.request.seed",
  requestStopSequences: "gen_ai.request.stop_sequences",
  responseId: "gen_ai.response.id",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  timeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  inputMessages: "gen_ai.input.messages",
  outputMessages: "gen_ai.output.messages",
  systemInstructions: "gen_ai.system_instructions",
  toolDefinitions: "gen_ai.tool.definitions",
  genAiAgentName: "gen_ai.agent.name",
  toolName: "gen_ai.tool.name",
  toolCallId: "gen_ai.tool.call.id",
  toolCallArguments: "gen_ai.tool.call.arguments",
  toolCallResult: "gen_ai.tool.call.result",
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  exceptionType: "exception.type",
  exceptionMessage: "exception.message",
  exceptionStacktrace: "exception.stacktrace",
  evaluationName: "gen_ai.evaluation.name",
  evaluationScore: "gen_ai.evaluation.score.value",
  /** On the `gen_ai.evaluation.result` event: the evaluator's free-form explanation of the score. */
  evaluationExplanation: "gen_ai.evaluation.explanation",
} as const;

/** OTel GenAI operation names tracetrain writes. */
export const Operations = {
  chat: "chat",
  textCompletion: "text_completion",
  invokeAgent: "invoke_agent",
  /** A framework's multi-step operation that is not an agent of its own (the AI SDK's `generateText` without a `functionId`). */
  invokeWorkflow: "invoke_workflow",
  executeTool: "execute_tool",
} as const;

/** OTel event names. */
export const EventNames = {
  exception: "exception",
  /** Rewards are mirrored as this event on OTLP export, so observability tools show them. */
  evaluationResult: "gen_ai.evaluation.result",
  firstChunk: "gen_ai.content.first_chunk",
} as const;

/** OTel GenAI span name for an LLM call: `{operation} {model}`. */
export function llmSpanName(operation: string, model: string | undefined): string {
  return model ? `${operation} ${model}` : operation;
}
