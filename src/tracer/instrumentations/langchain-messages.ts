/**
 * Converts what LangChain hands its callbacks — messages, invocation params, LLM results, tool
 * outputs, retrieved documents — into tracetrain's LLM-call shape (OpenAI chat format).
 *
 * LangChain objects are read by their fields, never by class: a process may hold two copies of
 * `@langchain/core` (its ESM and CJS builds), and older code passes plain objects. Nothing here
 * throws on an unexpected shape; a field that cannot be read is left out.
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import { toJsonValue } from "../../types/index.js";
import { Operations } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../../llm/index.js";

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** LangChain's message type (`human`, `ai`, `system`, `tool`, …) → OpenAI role. */
const ROLES: Record<string, string> = {
  human: "user",
  user: "user",
  ai: "assistant",
  assistant: "assistant",
  system: "system",
  developer: "developer",
  tool: "tool",
  function: "function",
};

function messageType(message: Fields): string | undefined {
  const type = str(message.type);
  if (type !== undefined) return type;
  // Messages from before `type` was a field only answer `_getType()`.
  const getType = message._getType;
  return typeof getType === "function" ? str(getType.call(message)) : undefined;
}

function roleOf(message: Fields, type: string | undefined): string {
  if (type === "generic") return str(message.role) ?? "user";
  if (type === "system") {
    // ChatOpenAI sends a SystemMessage marked this way as a `developer` message.
    const kwargs = message.additional_kwargs;
    if (isFields(kwargs) && kwargs.__openai_role__ === "developer") return "developer";
  }
  return (type !== undefined ? ROLES[type] : undefined) ?? str(message.role) ?? "user";
}

/** Content as OpenAI takes it: a string, or a list of parts (text parts without LangChain's streaming bookkeeping). */
function contentOf(content: unknown): ChatMessage["content"] {
  if (typeof content === "string") return content;
  if (content === undefined || content === null) return null;
  if (!Array.isArray(content)) return JSON.stringify(toJsonValue(content));
  return content.map((part): JsonValue => {
    if (isFields(part) && part.type === "text" && typeof part.text === "string") return { type: "text", text: part.text };
    return toJsonValue(part);
  });
}

/** An AI message's tool calls in OpenAI's shape: `{id, type: "function", function: {name, arguments: <JSON string>}}`. */
function toolCallsOf(message: Fields): JsonValue[] | undefined {
  const out: JsonValue[] = [];
  const add = (call: unknown, serialize: (args: unknown) => string) => {
    if (!isFields(call)) return;
    out.push({
      ...(str(call.id) === undefined ? {} : { id: str(call.id) as string }),
      type: "function",
      function: { name: str(call.name) ?? "", arguments: serialize(call.args) },
    });
  };
  if (Array.isArray(message.tool_calls)) for (const call of message.tool_calls) add(call, (args) => JSON.stringify(toJsonValue(args ?? {})));
  // Calls whose arguments did not parse keep their raw text, which is what the model produced.
  if (Array.isArray(message.invalid_tool_calls)) {
    for (const call of message.invalid_tool_calls) add(call, (args) => (typeof args === "string" ? args : JSON.stringify(toJsonValue(args ?? null))));
  }
  if (out.length > 0) return out;
  // Messages built by hand may carry the provider's own tool calls only.
  const kwargs = message.additional_kwargs;
  if (isFields(kwargs) && Array.isArray(kwargs.tool_calls) && kwargs.tool_calls.length > 0) return kwargs.tool_calls.map((call) => toJsonValue(call));
  return undefined;
}

/** One LangChain message as an OpenAI chat message; undefined for messages that are not sent (`RemoveMessage`). */
export function toChatMessage(message: unknown): ChatMessage | undefined {
  if (typeof message === "string") return { role: "user", content: message };
  if (!isFields(message)) return undefined;
  const type = messageType(message);
  if (type === "remove") return undefined;
  const role = roleOf(message, type);
  const out: ChatMessage = { role, content: contentOf(message.content) };
  const name = str(message.name);
  if (name !== undefined) out.name = name;
  if (role === "assistant") {
    const calls = toolCallsOf(message);
    if (calls) out.tool_calls = calls;
  }
  const toolCallId = str(message.tool_call_id);
  if (role === "tool" && toolCallId !== undefined) out.tool_call_id = toolCallId;
  return out;
}

export function toChatMessages(messages: readonly unknown[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const message of messages) {
    const converted = toChatMessage(message);
    if (converted) out.push(converted);
  }
  return out;
}

/** The request parameters LangChain reports in `extraParams.invocation_params` (provider-shaped, usually OpenAI's). */
function requestParameters(extraParams: unknown, metadata: unknown): Omit<LlmRequest, "operation" | "messages" | "prompt"> {
  const params = isFields(extraParams) && isFields(extraParams.invocation_params) ? extraParams.invocation_params : {};
  const meta = isFields(metadata) ? metadata : {};
  const stop = Array.isArray(params.stop) ? params.stop.filter((s): s is string => typeof s === "string") : typeof params.stop === "string" ? [params.stop] : undefined;
  const tools = Array.isArray(params.tools) ? params.tools.map((tool) => toJsonValue(tool)) : undefined;
  const request: Omit<LlmRequest, "operation" | "messages" | "prompt"> = {};
  const model = str(params.model) ?? str(params.model_name) ?? str(params.modelName) ?? str(meta.ls_model_name);
  const provider = str(meta.ls_provider);
  const maxTokens = num(params.max_tokens) ?? num(params.max_completion_tokens) ?? num(params.maxTokens) ?? num(meta.ls_max_tokens);
  const temperature = num(params.temperature) ?? num(meta.ls_temperature);
  if (model !== undefined) request.model = model;
  if (provider !== undefined) request.provider = provider;
  if (temperature !== undefined) request.temperature = temperature;
  if (num(params.top_p) !== undefined) request.topP = num(params.top_p) as number;
  if (maxTokens !== undefined && maxTokens >= 0) request.maxTokens = maxTokens;
  if (num(params.n) !== undefined) request.choiceCount = num(params.n) as number;
  if (typeof params.stream === "boolean") request.stream = params.stream;
  if (num(params.seed) !== undefined) request.seed = num(params.seed) as number;
  if (stop && stop.length > 0) request.stop = stop;
  if (tools && tools.length > 0) request.tools = tools;
  return request;
}

/** The request of a chat model run (`handleChatModelStart`). */
export function chatRequest(messages: readonly unknown[], extraParams: unknown, metadata: unknown): LlmRequest {
  return { operation: Operations.chat, ...requestParameters(extraParams, metadata), messages: toChatMessages(messages) };
}

/** The request of a text-completion run (`handleLLMStart`): one prompt per run. */
export function completionRequest(prompt: string | undefined, extraParams: unknown, metadata: unknown): LlmRequest {
  return { operation: Operations.textCompletion, ...requestParameters(extraParams, metadata), ...(prompt === undefined ? {} : { prompt }) };
}

/** The per-token logprobs of an OpenAI-style `logprobs: {content: [{logprob}]}`, when requested. */
function logprobsOf(generationInfo: Fields | undefined): number[] | undefined {
  const logprobs = generationInfo?.logprobs;
  if (!isFields(logprobs) || !Array.isArray(logprobs.content)) return undefined;
  const out: number[] = [];
  for (const entry of logprobs.content) {
    const value = isFields(entry) ? num(entry.logprob) : undefined;
    if (value === undefined) return undefined;
    out.push(value);
  }
  return out;
}

function choiceOf(generation: unknown, operation: LlmRequest["operation"]): LlmChoice | undefined {
  if (!isFields(generation)) return undefined;
  const info = isFields(generation.generationInfo) ? generation.generationInfo : undefined;
  const message = isFields(generation.message) ? generation.message : undefined;
  const responseMetadata = message && isFields(message.response_metadata) ? message.response_metadata : undefined;
  const converted = operation === Operations.chat && message ? toChatMessage(message) : undefined;
  const choice: LlmChoice = { message: converted ?? { role: "assistant", content: str(generation.text) ?? "" } };
  const finishReason = str(info?.finish_reason) ?? str(info?.finishReason) ?? str(responseMetadata?.finish_reason) ?? str(responseMetadata?.stop_reason);
  if (finishReason !== undefined) choice.finishReason = finishReason;
  const logprobs = logprobsOf(info);
  if (logprobs) choice.logprobs = logprobs;
  return choice;
}

/** Usage as LangChain reports it: `llmOutput.tokenUsage` (OpenAI), else the message's `usage_metadata`. */
function usageOf(llmOutput: Fields | undefined, firstMessage: Fields | undefined): { input?: number; output?: number } {
  const tokenUsage = llmOutput && isFields(llmOutput.tokenUsage) ? llmOutput.tokenUsage : llmOutput && isFields(llmOutput.usage) ? llmOutput.usage : undefined;
  const input = num(tokenUsage?.promptTokens) ?? num(tokenUsage?.prompt_tokens) ?? num(tokenUsage?.input_tokens);
  const output = num(tokenUsage?.completionTokens) ?? num(tokenUsage?.completion_tokens) ?? num(tokenUsage?.output_tokens);
  if (input !== undefined || output !== undefined) return { ...(input === undefined ? {} : { input }), ...(output === undefined ? {} : { output }) };
  const usage = firstMessage && isFields(firstMessage.usage_metadata) ? firstMessage.usage_metadata : undefined;
  const metaInput = num(usage?.input_tokens);
  const metaOutput = num(usage?.output_tokens);
  return { ...(metaInput === undefined ? {} : { input: metaInput }), ...(metaOutput === undefined ? {} : { output: metaOutput }) };
}

/** A run's `LLMResult` (`handleLLMEnd`): the choices of its one prompt, usage, response id and model. */
export function llmResponse(output: unknown, operation: LlmRequest["operation"]): LlmResponse {
  const result = isFields(output) ? output : {};
  const generations = Array.isArray(result.generations) && Array.isArray(result.generations[0]) ? (result.generations[0] as unknown[]) : [];
  const choices: LlmChoice[] = [];
  for (const generation of generations) {
    const choice = choiceOf(generation, operation);
    if (choice) choices.push(choice);
  }
  const first = generations[0];
  const firstMessage = isFields(first) && isFields(first.message) ? first.message : undefined;
  const responseMetadata = firstMessage && isFields(firstMessage.response_metadata) ? firstMessage.response_metadata : undefined;
  const usage = usageOf(isFields(result.llmOutput) ? result.llmOutput : undefined, firstMessage);
  const response: LlmResponse = { choices };
  // Without a provider id LangChain names the message after its run (`run-<uuid>`): not a response id.
  const id = str(firstMessage?.id) ?? str(responseMetadata?.id);
  if (id !== undefined && !id.startsWith("run-")) response.id = id;
  const model = str(responseMetadata?.model_name) ?? str(responseMetadata?.model);
  if (model !== undefined) response.model = model;
  if (usage.input !== undefined) response.inputTokens = usage.input;
  if (usage.output !== undefined) response.outputTokens = usage.output;
  return response;
}

/** A tool's output as recorded: a ToolMessage's content, a string as is, anything else as JSON. */
export function toolResult(output: unknown): { result: JsonValue; toolCallId: string | undefined } {
  if (isFields(output) && "content" in output && (messageType(output) === "tool" || typeof output.tool_call_id === "string")) {
    return { result: contentOf(output.content) ?? null, toolCallId: str(output.tool_call_id) };
  }
  return { result: typeof output === "string" ? output : toJsonValue(output), toolCallId: undefined };
}

/** Retrieved documents as `{pageContent, metadata, id?}`. */
export function documentsOf(documents: unknown): JsonValue[] {
  if (!Array.isArray(documents)) return [];
  return documents.map((doc): JsonValue => {
    if (!isFields(doc)) return toJsonValue(doc);
    const out: Record<string, JsonValue> = { pageContent: str(doc.pageContent) ?? "", metadata: toJsonValue(doc.metadata ?? {}) };
    if (str(doc.id) !== undefined) out.id = str(doc.id) as string;
    return out;
  });
}
