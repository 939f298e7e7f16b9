/**
 * The three attribute dialects OTel-instrumented libraries write LLM calls in, read into the one
 * shape tracetrain records ({@link LlmRequest} / {@link LlmResponse}, OpenAI chat messages):
 *
 * - **OTel GenAI** (`gen_ai.*`): operation name, request/response model, usage, and the structured
 *   `gen_ai.input.messages` / `gen_ai.output.messages` (messages of typed `parts`), plus the older
 *   indexed `gen_ai.prompt.{i}.*` / `gen_ai.completion.{i}.*` form many instrumentations still emit,
 *   and the per-message events of v1.36 and older (`genai-messages.ts` reads the message formats).
 * - **OpenInference** (`openinference.span.kind`, `llm.*`): flattened, indexed messages
 *   (`llm.input_messages.{i}.message.role`, …), `llm.token_count.*`, `llm.invocation_parameters`.
 * - **Vercel AI SDK** (`ai.*`, v4–v6 `experimental_telemetry`): `ai.generateText` / `ai.streamText`
 *   wrap one `…doGenerate` / `…doStream` span per model call, whose prompt is the SDK's own
 *   message format as a JSON string; `ai.toolCall` spans run tools.
 *
 * The keys below are the foreign dialects' keys (what we read), kept here rather than in
 * `conventions.ts`, which lists what tracetrain writes. The tracer's OTel mirror reads spans with
 * these as they end in process; adapters read spans that arrived over OTLP with the same functions
 * (`span.ts`), so both become the same training data.
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import { toJsonValue } from "../../types/index.js";
import { Attr, Operations, type SpanType, SpanTypes } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../call.js";
import { genAiChoices, genAiMessages, isMessageEvent, systemInstructions, withMessageEvents } from "./genai-messages.js";
import {
  type IssueSink,
  type OtelAttributes,
  type OtelEventLike,
  arr,
  asText,
  bool,
  indexedGroups,
  num,
  openAiToolCall,
  parseJson,
  rec,
  records,
  str,
  strings,
} from "./values.js";

export type Dialect = "ai_sdk" | "openinference" | "gen_ai" | "generic";

export interface Classification {
  dialect: Dialect;
  type: SpanType;
}

/** Vercel AI SDK keys (also the form the `ai` layer puts AI SDK 7's channel messages in, to read them with this dialect). */
export const AiSdkAttr = {
  operationId: "ai.operationId",
  modelId: "ai.model.id",
  modelProvider: "ai.model.provider",
  promptMessages: "ai.prompt.messages",
  promptTools: "ai.prompt.tools",
  responseText: "ai.response.text",
  responseObject: "ai.response.object",
  responseReasoning: "ai.response.reasoning",
  responseToolCalls: "ai.response.toolCalls",
  responseFinishReason: "ai.response.finishReason",
  responseId: "ai.response.id",
  responseModel: "ai.response.model",
  msToFirstChunk: "ai.response.msToFirstChunk",
  inputTokens: "ai.usage.inputTokens",
  outputTokens: "ai.usage.outputTokens",
  // AI SDK v4 names.
  promptTokens: "ai.usage.promptTokens",
  completionTokens: "ai.usage.completionTokens",
  toolCallName: "ai.toolCall.name",
  toolCallId: "ai.toolCall.id",
  toolCallArgs: "ai.toolCall.args",
  toolCallResult: "ai.toolCall.result",
  firstChunkEvent: "ai.stream.firstChunk",
} as const;
const Ai = AiSdkAttr;

/** OpenInference keys. */
const Oi = {
  spanKind: "openinference.span.kind",
  modelName: "llm.model_name",
  requestModelName: "llm.request.model_name",
  responseModelName: "llm.response.model_name",
  provider: "llm.provider",
  system: "llm.system",
  invocationParameters: "llm.invocation_parameters",
  inputMessages: "llm.input_messages.",
  outputMessages: "llm.output_messages.",
  tools: "llm.tools.",
  prompts: "llm.prompts",
  choices: "llm.choices",
  promptTokens: "llm.token_count.prompt",
  completionTokens: "llm.token_count.completion",
  finishReason: "llm.finish_reason",
  inputValue: "input.value",
  outputValue: "output.value",
  outputMimeType: "output.mime_type",
  toolName: "tool.name",
  toolId: "tool.id",
  agentName: "agent.name",
} as const;

/** OTel GenAI keys tracetrain does not write itself (deprecated or indexed forms). */
const GenAi = {
  system: "gen_ai.system",
  promptTokens: "gen_ai.usage.prompt_tokens",
  completionTokens: "gen_ai.usage.completion_tokens",
  indexedPrompt: "gen_ai.prompt.",
  indexedCompletion: "gen_ai.completion.",
  /** One event carrying the full request and response (replaces the old per-message events). */
  detailsEvent: "gen_ai.client.inference.operation.details",
} as const;

const LLM_OPERATIONS = new Set(["chat", "text_completion", "generate_content"]);
const AI_SDK_CHAINS = new Set(["ai.generateText", "ai.streamText", "ai.generateObject", "ai.streamObject"]);

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/** What an OTel span represents, and which dialect describes it. Dialects are tried most specific first. */
export function classifySpan(name: string, a: OtelAttributes): Classification {
  const aiOperation = str(a[Ai.operationId]) ?? (name.startsWith("ai.") ? name : undefined);
  if (aiOperation !== undefined) return { dialect: "ai_sdk", type: aiSdkType(aiOperation) };
  const oiKind = str(a[Oi.spanKind]);
  if (oiKind !== undefined) return { dialect: "openinference", type: openInferenceType(oiKind.toUpperCase()) };
  const operation = str(a[Attr.operationName]);
  if (operation !== undefined) return { dialect: "gen_ai", type: genAiType(operation) };
  // Instrumentations that predate `gen_ai.operation.name` still name the provider and model.
  if ((a[GenAi.system] !== undefined || a[Attr.providerName] !== undefined) && a[Attr.requestModel] !== undefined) {
    return { dialect: "gen_ai", type: SpanTypes.llm };
  }
  return { dialect: "generic", type: SpanTypes.operation };
}

function aiSdkType(operation: string): SpanType {
  if (operation.endsWith(".doGenerate") || operation.endsWith(".doStream")) return SpanTypes.llm;
  if (operation === "ai.toolCall") return SpanTypes.tool;
  if (AI_SDK_CHAINS.has(operation)) return SpanTypes.chain;
  // embed / embedMany / rerank and their inner calls: not chat calls a trainer can learn from.
  return SpanTypes.operation;
}

function openInferenceType(kind: string): SpanType {
  switch (kind) {
    case "LLM":
      return SpanTypes.llm;
    case "TOOL":
      return SpanTypes.tool;
    case "AGENT":
      return SpanTypes.agent;
    case "CHAIN":
      return SpanTypes.chain;
    case "RETRIEVER":
      return SpanTypes.retriever;
    default:
      return SpanTypes.operation;
  }
}

function genAiType(operation: string): SpanType {
  if (LLM_OPERATIONS.has(operation)) return SpanTypes.llm;
  switch (operation) {
    case "execute_tool":
      return SpanTypes.tool;
    case "invoke_agent":
    case "create_agent":
      return SpanTypes.agent;
    case "invoke_workflow":
      return SpanTypes.chain;
    case "retrieval":
      return SpanTypes.retriever;
    default:
      return SpanTypes.operation;
  }
}

/**
 * Attribute keys whose content the normalisation converted into tracetrain's LLM-call format.
 * They are not copied onto the mirrored LLM span: the converted form replaces them, and a second
 * copy of every prompt would double the size of each trajectory.
 */
export function isConvertedContentKey(key: string): boolean {
  return (
    key === Ai.promptMessages ||
    key === Ai.promptTools ||
    key === Ai.responseText ||
    key === Ai.responseObject ||
    key === Ai.responseReasoning ||
    key === Ai.responseToolCalls ||
    key === Attr.inputMessages ||
    key === Attr.outputMessages ||
    key === Attr.systemInstructions ||
    key === Attr.toolDefinitions ||
    key === Oi.inputValue ||
    key === Oi.outputValue ||
    key === Oi.prompts ||
    key === Oi.choices ||
    key.startsWith(Oi.inputMessages) ||
    key.startsWith(Oi.outputMessages) ||
    key.startsWith(Oi.tools) ||
    key.startsWith(`${Oi.prompts}.`) ||
    key.startsWith(`${Oi.choices}.`) ||
    key.startsWith(GenAi.indexedPrompt) ||
    key.startsWith(GenAi.indexedCompletion)
  );
}

/** Events whose content the LLM-call format replaces (not copied onto the mirrored LLM span). */
export function isConvertedContentEvent(name: string): boolean {
  return name === GenAi.detailsEvent || isMessageEvent(name);
}

/**
 * The span's attributes, completed with the messages its events carry: those of a
 * `gen_ai.client.inference.operation.details` event (newer GenAI instrumentations put the messages
 * there instead of on the span), or the older per-message events.
 */
export function withContentEvents(a: OtelAttributes, events: readonly OtelEventLike[], issues?: IssueSink): OtelAttributes {
  if (events.length === 0) return a;
  const details = events.find((e) => e.name === GenAi.detailsEvent);
  const merged = details?.attributes ? { ...details.attributes, ...a } : a;
  return withMessageEvents(merged, events, hasIndexedKey(merged, GenAi.indexedPrompt), issues);
}

function hasIndexedKey(a: OtelAttributes, prefix: string): boolean {
  for (const key in a) if (key.startsWith(prefix)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// LLM calls
// ---------------------------------------------------------------------------------------------

/** The request of an LLM-call span, in tracetrain's format; what cannot be read goes to `issues`. */
export function llmRequestOf(name: string, a: OtelAttributes, dialect: Dialect, issues?: IssueSink): LlmRequest {
  const base = genAiRequest(a, issues);
  if (dialect === "ai_sdk") {
    const operation = str(a[Ai.operationId]) ?? name;
    return {
      ...base,
      provider: providerOfAiSdk(str(a[Ai.modelProvider])) ?? base.provider,
      model: str(a[Ai.modelId]) ?? base.model,
      messages: aiSdkMessages(a[Ai.promptMessages]) ?? base.messages,
      tools: aiSdkTools(a[Ai.promptTools]) ?? base.tools,
      stream: operation.endsWith(".doStream") ? true : base.stream,
    };
  }
  if (dialect === "openinference") return { ...base, ...openInferenceRequest(a) };
  return base;
}

/** The response of an LLM-call span, in tracetrain's format; what cannot be read goes to `issues`. */
export function llmResponseOf(a: OtelAttributes, dialect: Dialect, issues?: IssueSink): LlmResponse {
  const base = genAiResponse(a, issues);
  if (dialect === "ai_sdk") {
    const choice = aiSdkChoice(a);
    return {
      id: str(a[Ai.responseId]) ?? base.id,
      model: str(a[Ai.responseModel]) ?? base.model,
      choices: choice ? [choice] : base.choices,
      inputTokens: num(a[Ai.inputTokens]) ?? num(a[Ai.promptTokens]) ?? base.inputTokens,
      outputTokens: num(a[Ai.outputTokens]) ?? num(a[Ai.completionTokens]) ?? base.outputTokens,
    };
  }
  if (dialect === "openinference") {
    const choices = openInferenceChoices(a);
    return {
      id: base.id ?? responseIdFromOutputValue(a),
      model: str(a[Oi.responseModelName]) ?? str(a[Oi.modelName]) ?? base.model,
      choices: choices.length > 0 ? choices : base.choices,
      inputTokens: num(a[Oi.promptTokens]) ?? base.inputTokens,
      outputTokens: num(a[Oi.completionTokens]) ?? base.outputTokens,
    };
  }
  return base;
}

/** Seconds from the request to the first streamed chunk, when the span says. */
export function timeToFirstChunkOf(a: OtelAttributes, events: readonly OtelEventLike[]): number | undefined {
  const fromEvent = events.find((e) => e.name === Ai.firstChunkEvent)?.attributes?.[Ai.msToFirstChunk];
  const ms = num(fromEvent) ?? num(a[Ai.msToFirstChunk]);
  return ms !== undefined ? ms / 1000 : num(a[Attr.timeToFirstChunk]);
}

function genAiRequest(a: OtelAttributes, issues: IssueSink): LlmRequest {
  const messages = genAiMessages(a[Attr.inputMessages], Attr.inputMessages, issues) ?? indexedGenAiMessages(a, GenAi.indexedPrompt);
  const system = systemInstructions(a[Attr.systemInstructions], Attr.systemInstructions, issues);
  return {
    operation: str(a[Attr.operationName]) === Operations.textCompletion ? Operations.textCompletion : Operations.chat,
    provider: str(a[Attr.providerName]) ?? str(a[GenAi.system]),
    model: str(a[Attr.requestModel]),
    messages: system !== undefined && messages?.[0]?.role !== "system" ? [{ role: "system", content: system }, ...(messages ?? [])] : messages,
    tools: genAiTools(a[Attr.toolDefinitions]),
    temperature: num(a[Attr.requestTemperature]),
    topP: num(a[Attr.requestTopP]),
    maxTokens: num(a[Attr.requestMaxTokens]),
    choiceCount: num(a[Attr.requestChoiceCount]),
    stream: bool(a[Attr.requestStream]),
    seed: num(a[Attr.requestSeed]),
    stop: strings(a[Attr.requestStopSequences]),
    serverAddress: str(a[Attr.serverAddress]),
    serverPort: num(a[Attr.serverPort]),
  };
}

function genAiResponse(a: OtelAttributes, issues: IssueSink): LlmResponse {
  const finishReasons = strings(a[Attr.responseFinishReasons]) ?? [];
  const choices = genAiChoices(a[Attr.outputMessages], Attr.outputMessages, issues) ?? indexedGenAiChoices(a);
  return {
    id: str(a[Attr.responseId]),
    model: str(a[Attr.responseModel]),
    choices: choices.map((choice, i) => (choice.finishReason === undefined && finishReasons[i] !== undefined ? { ...choice, finishReason: finishReasons[i] } : choice)),
    inputTokens: num(a[Attr.usageInputTokens]) ?? num(a[GenAi.promptTokens]),
    outputTokens: num(a[Attr.usageOutputTokens]) ?? num(a[GenAi.completionTokens]),
  };
}

function genAiTools(raw: unknown): JsonValue[] | undefined {
  const list = arr(parseJson(raw));
  return list?.map((item) => {
    const t = rec(item);
    // The GenAI form puts name/description/parameters at the top level; OpenAI nests them in `function`.
    if (t && t.function === undefined && str(t.name) !== undefined) {
      return { type: "function", function: toJsonValue({ name: t.name, description: t.description, parameters: t.parameters }) };
    }
    return toJsonValue(item);
  });
}

/** `gen_ai.prompt.{i}.role/content` (the indexed form of older instrumentations). */
function indexedGenAiMessages(a: OtelAttributes, prefix: string): ChatMessage[] | undefined {
  const groups = indexedGroups(a, prefix);
  if (groups.length === 0) return undefined;
  return groups.map((fields) => indexedMessage(fields, "role", "content", "tool_calls.", { id: "id", name: "name", arguments: "arguments" }, "tool_call_id"));
}

function indexedGenAiChoices(a: OtelAttributes): LlmChoice[] {
  return indexedGroups(a, GenAi.indexedCompletion).map((fields) => {
    const finishReason = str(fields.finish_reason);
    const message = indexedMessage(fields, "role", "content", "tool_calls.", { id: "id", name: "name", arguments: "arguments" }, "tool_call_id");
    return { message, ...(finishReason === undefined ? {} : { finishReason }) };
  });
}

// --- OpenInference: `llm.input_messages.{i}.message.role`, … ---

const OI_TOOL_CALL_KEYS = { id: "tool_call.id", name: "tool_call.function.name", arguments: "tool_call.function.arguments" };

function openInferenceRequest(a: OtelAttributes): Partial<LlmRequest> {
  const params = rec(parseJson(a[Oi.invocationParameters])) ?? {};
  const inputs = indexedGroups(a, Oi.inputMessages).map(openInferenceMessage);
  const prompts = openInferenceTexts(a, Oi.prompts, "prompt.text");
  const tools = indexedGroups(a, Oi.tools)
    .map((fields) => parseJson(fields["tool.json_schema"]))
    .filter((tool) => tool !== undefined)
    .map((tool) => toJsonValue(tool));
  const stop = params.stop;
  return defined({
    operation: inputs.length === 0 && prompts.length > 0 ? Operations.textCompletion : Operations.chat,
    provider: str(a[Oi.provider]) ?? str(a[Oi.system]),
    model: str(a[Oi.requestModelName]) ?? str(a[Oi.modelName]),
    messages: inputs.length > 0 ? inputs : undefined,
    prompt: inputs.length === 0 && prompts.length > 0 ? (prompts.length === 1 ? prompts[0] : prompts) : undefined,
    tools: tools.length > 0 ? tools : undefined,
    temperature: num(params.temperature),
    topP: num(params.top_p),
    maxTokens: num(params.max_tokens) ?? num(params.max_completion_tokens),
    choiceCount: num(params.n),
    stream: bool(params.stream),
    seed: num(params.seed),
    stop: typeof stop === "string" ? [stop] : strings(stop),
  });
}

function openInferenceChoices(a: OtelAttributes): LlmChoice[] {
  const finishReason = str(a[Oi.finishReason]);
  const outputs = indexedGroups(a, Oi.outputMessages).map(openInferenceMessage);
  const messages = outputs.length > 0 ? outputs : openInferenceTexts(a, Oi.choices, "completion.text").map((content): ChatMessage => ({ role: "assistant", content }));
  return messages.map((message, i) => ({ message, ...(i === 0 && finishReason !== undefined ? { finishReason } : {}) }));
}

function openInferenceMessage(fields: Record<string, unknown>): ChatMessage {
  const message = indexedMessage(fields, "message.role", "message.content", "message.tool_calls.", OI_TOOL_CALL_KEYS, "message.tool_call_id");
  const contents = indexedGroups(fields, "message.contents.");
  if (message.content === undefined && contents.length > 0) {
    const parts = contents.map((c): JsonValue => {
      const url = str(c["message_content.image.image.url"]);
      return url !== undefined ? { type: "image_url", image_url: { url } } : { type: "text", text: str(c["message_content.text"]) ?? "" };
    });
    // One text part is the same message as plain content; the other dialects record it that way.
    const single = contents.length === 1 && str(contents[0]!["message_content.image.image.url"]) === undefined;
    message.content = single ? (str(contents[0]!["message_content.text"]) ?? "") : parts;
  }
  const name = str(fields["message.name"]);
  if (name !== undefined) message.name = name;
  const functionName = str(fields["message.function_call_name"]);
  if (functionName !== undefined) message.function_call = { name: functionName, arguments: str(fields["message.function_call_arguments_json"]) ?? "{}" };
  return message;
}

/** `llm.prompts` / `llm.choices`: a list of strings, or indexed objects (`llm.prompts.{i}.prompt.text`). */
function openInferenceTexts(a: OtelAttributes, key: string, field: string): string[] {
  const direct = strings(a[key]);
  if (direct) return direct;
  return indexedGroups(a, `${key}.`).flatMap((fields) => str(fields[field]) ?? []);
}

function responseIdFromOutputValue(a: OtelAttributes): string | undefined {
  if (str(a[Oi.outputMimeType]) !== "application/json") return undefined;
  return str(rec(parseJson(a[Oi.outputValue]))?.id);
}

// --- Vercel AI SDK: its language-model prompt format, as a JSON string ---

function aiSdkMessages(raw: unknown): ChatMessage[] | undefined {
  const list = arr(parseJson(raw));
  if (!list) return undefined;
  return list.flatMap((item): ChatMessage[] => {
    const m = rec(item);
    const role = str(m?.role);
    if (!m || role === undefined) return [];
    if (typeof m.content === "string") return [{ role, content: m.content }];
    const parts = records(m.content);
    if (role === "tool") {
      return parts
        .filter((p) => p.type === "tool-result")
        .map((p) => ({ role: "tool", tool_call_id: str(p.toolCallId) ?? "", content: aiSdkToolOutput(p) }));
    }
    if (role === "assistant") {
      const text = parts.flatMap((p) => (p.type === "text" ? (str(p.text) ?? []) : [])).join("");
      const toolCalls = parts.filter((p) => p.type === "tool-call").map((p) => openAiToolCall(str(p.toolCallId), str(p.toolName), p.input ?? p.args));
      return [{ role, content: text.length > 0 ? text : null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) }];
    }
    return [{ role, content: aiSdkUserContent(parts) }];
  });
}

/** A single text part becomes a string (as the OpenAI provider sends it); anything else a parts array. */
function aiSdkUserContent(parts: Record<string, unknown>[]): string | JsonValue[] {
  const only = parts[0];
  if (parts.length === 1 && only?.type === "text") return str(only.text) ?? "";
  return parts.map((p): JsonValue => {
    if (p.type === "text") return { type: "text", text: str(p.text) ?? "" };
    const mediaType = str(p.mediaType) ?? str(p.mimeType) ?? "application/octet-stream";
    const data = str(p.data) ?? str(p.image) ?? "";
    const url = /^(https?:|data:)/.test(data) ? data : `data:${mediaType};base64,${data}`;
    if (p.type === "image" || mediaType.startsWith("image/")) return { type: "image_url", image_url: { url } };
    return { type: "file", file: toJsonValue({ filename: p.filename, file_data: url }) };
  });
}

/** A tool result as the text the model is sent: v5+ `output: {type, value}`, v4 `result`. */
function aiSdkToolOutput(part: Record<string, unknown>): string {
  const output = rec(part.output);
  if (!output) return asText(part.result);
  switch (str(output.type)) {
    case "text":
    case "error-text":
      return str(output.value) ?? "";
    case "content":
      return (arr(output.value) ?? []).map((p) => str(rec(p)?.text) ?? "").join("");
    case "execution-denied":
      return str(output.reason) ?? "execution denied";
    default:
      return asText(output.value);
  }
}

function aiSdkTools(raw: unknown): JsonValue[] | undefined {
  const list = arr(raw) ?? arr(parseJson(raw));
  return list?.map((item) => {
    const t = rec(parseJson(item));
    if (t && t.type === "function") {
      return { type: "function", function: toJsonValue({ name: t.name, description: t.description, parameters: t.inputSchema ?? t.parameters }) };
    }
    return toJsonValue(t ?? item);
  });
}

function aiSdkChoice(a: OtelAttributes): LlmChoice | undefined {
  const text = str(a[Ai.responseText]) ?? str(a[Ai.responseObject]);
  const reasoning = str(a[Ai.responseReasoning]);
  const toolCalls = (arr(parseJson(a[Ai.responseToolCalls])) ?? []).flatMap((item) => {
    const c = rec(item);
    return c ? [openAiToolCall(str(c.toolCallId), str(c.toolName), c.input ?? c.args)] : [];
  });
  // Nothing recorded (e.g. `recordOutputs: false`): say nothing rather than an empty message.
  if (text === undefined && toolCalls.length === 0 && reasoning === undefined) return undefined;
  const finishReason = str(a[Ai.responseFinishReason]) ?? strings(a[Attr.responseFinishReasons])?.[0];
  const message: ChatMessage = {
    role: "assistant",
    content: text !== undefined && text.length > 0 ? text : toolCalls.length > 0 ? null : (text ?? ""),
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    ...(reasoning !== undefined && reasoning.length > 0 ? { reasoning_content: reasoning } : {}),
  };
  return { message, ...(finishReason === undefined ? {} : { finishReason: openAiFinishReason(finishReason) }) };
}

/** The AI SDK's unified finish reasons, spelled as OpenAI spells them. */
function openAiFinishReason(reason: string): string {
  return reason === "tool-calls" ? "tool_calls" : reason === "content-filter" ? "content_filter" : reason;
}

/** `openai.chat` → `openai`: the AI SDK names the provider and the API together. */
export function providerOfAiSdk(provider: string | undefined): string | undefined {
  return provider?.split(".")[0];
}

// ---------------------------------------------------------------------------------------------
// Tools and agents
// ---------------------------------------------------------------------------------------------

export interface ToolCallInfo {
  name: string | undefined;
  callId: string | undefined;
  arguments: unknown;
  result: unknown;
}

/** The tool call a tool span ran, whichever dialect wrote it; JSON strings are parsed. */
export function toolCallOf(a: OtelAttributes, dialect: Dialect): ToolCallInfo {
  if (dialect === "ai_sdk") {
    return { name: str(a[Ai.toolCallName]), callId: str(a[Ai.toolCallId]), arguments: parseJson(a[Ai.toolCallArgs]), result: parseJson(a[Ai.toolCallResult]) };
  }
  if (dialect === "openinference") {
    return {
      name: str(a[Oi.toolName]) ?? str(a[Attr.toolName]),
      callId: str(a[Oi.toolId]) ?? str(a[Attr.toolCallId]),
      arguments: parseJson(a[Oi.inputValue]),
      result: parseJson(a[Oi.outputValue]),
    };
  }
  return { name: str(a[Attr.toolName]), callId: str(a[Attr.toolCallId]), arguments: parseJson(a[Attr.toolCallArguments]), result: parseJson(a[Attr.toolCallResult]) };
}

/** The agent an agent span runs. */
export function agentNameOf(name: string, a: OtelAttributes): string {
  // GenAI names the span `invoke_agent {agent}` (the AI SDK 7 without an agent name: `invoke_agent {model}`).
  return str(a[Attr.genAiAgentName]) ?? str(a[Oi.agentName]) ?? (name.startsWith("invoke_agent ") ? name.slice("invoke_agent ".length) : name);
}

/** What failed, for `error.type` on a failed LLM call. */
export function errorTypeOf(a: OtelAttributes, events: readonly OtelEventLike[]): string {
  const exception = events.find((e) => e.name === "exception");
  return str(a[Attr.errorType]) ?? str(exception?.attributes?.[Attr.exceptionType]) ?? "error";
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** A message from indexed fields: role, content, tool calls under `toolCallsPrefix{j}.…`. */
function indexedMessage(
  fields: Record<string, unknown>,
  roleKey: string,
  contentKey: string,
  toolCallsPrefix: string,
  toolCallKeys: { id: string; name: string; arguments: string },
  toolCallIdKey: string,
): ChatMessage {
  const toolCalls = indexedGroups(fields, toolCallsPrefix).map((c) => openAiToolCall(str(c[toolCallKeys.id]), str(c[toolCallKeys.name]), c[toolCallKeys.arguments]));
  const content = fields[contentKey];
  const message: ChatMessage = { role: str(fields[roleKey]) ?? "user" };
  if (content !== undefined) message.content = typeof content === "string" ? content : asText(content);
  else if (toolCalls.length > 0) message.content = null;
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const toolCallId = str(fields[toolCallIdKey]);
  if (toolCallId !== undefined) message.tool_call_id = toolCallId;
  return message;
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
