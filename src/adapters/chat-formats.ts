/**
 * A chat record (chat-messages.ts) in the two conversational formats people fine-tune from:
 *
 * - OpenAI fine-tuning JSONL: `{messages, tools}`; assistant `tool_calls` as
 *   `{id, type: "function", function: {name, arguments}}` with `arguments` a JSON string, `tool`
 *   messages with the `tool_call_id` they answer, `weight` (0 or 1) on assistant messages only,
 *   and `tools` as `{type: "function", function: {name, description, parameters}}`.
 * - Hugging Face `messages` (TRL `SFTTrainer`'s conversational format, rendered by
 *   `apply_chat_template`): the same conversation with tool-call `arguments` as objects, each tool
 *   message carrying the called function's `name` beside its `tool_call_id`, and no `weight` (TRL
 *   has no per-message weight: a record with weight-0 assistant messages is left for the caller to
 *   decide about, see {@link hasUntrainedTurns}).
 *
 * Tools recorded in another API's shape (`{name, description, input_schema}`, Anthropic's) are
 * rewritten to the function shape; a definition without a name is left out.
 */
import type { ChatMessage, ChatRecord, FunctionTool, HfChatRecord, HfMessage, JsonValue } from "../types/index.js";

type JsonObject = { [key: string]: JsonValue };

/** The record as OpenAI's fine-tuning API takes it. */
export function toOpenAiChatRecord(record: ChatRecord): ChatRecord {
  const messages = record.messages.map(openAiMessage);
  const tools = functionTools(record.tools);
  return tools.length === 0 ? { messages } : { messages, tools };
}

/** The record as Hugging Face chat templates and TRL's `SFTTrainer` take it. */
export function toHfChatRecord(record: ChatRecord): HfChatRecord {
  const names = new Map<string, string>();
  const messages = record.messages.map((message): HfMessage => {
    const out: HfMessage = { role: roleOf(message.role) };
    const calls = (message.tool_calls ?? []).flatMap((call) => hfToolCall(call, names));
    if (message.content !== undefined && message.content !== null && !(calls.length > 0 && message.content === "")) out.content = message.content;
    else if (calls.length === 0) out.content = "";
    if (calls.length > 0) out.tool_calls = calls;
    if (message.tool_call_id !== undefined) {
      out.tool_call_id = message.tool_call_id;
      const name = names.get(message.tool_call_id);
      if (name !== undefined) out.name = name;
    } else if (message.name !== undefined) out.name = message.name;
    return out;
  });
  const tools = functionTools(record.tools);
  return tools.length === 0 ? { messages } : { messages, tools };
}

/** Whether the record has assistant messages it does not train on (`weight: 0`), which the Hugging Face format cannot say. */
export function hasUntrainedTurns(record: ChatRecord): boolean {
  return record.messages.some((m) => m.role === "assistant" && m.weight === 0);
}

function openAiMessage(message: ChatMessage): ChatMessage {
  const { weight, tool_calls: calls, ...rest } = message;
  const out: ChatMessage = { ...rest };
  if (calls !== undefined && calls.length > 0) out.tool_calls = calls.map(openAiToolCall);
  // OpenAI takes a weight on assistant messages only, and only 0 or 1.
  if (message.role === "assistant" && (weight === 0 || weight === 1)) out.weight = weight;
  return out;
}

/** A tool call with its arguments as the JSON text OpenAI's format wants. */
function openAiToolCall(call: JsonValue): JsonValue {
  if (!isObject(call) || !isObject(call.function)) return call;
  const args = call.function.arguments;
  return { ...call, type: "function", function: { ...call.function, arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}) } };
}

function hfToolCall(call: JsonValue, names: Map<string, string>): NonNullable<HfMessage["tool_calls"]> {
  if (!isObject(call) || !isObject(call.function) || typeof call.function.name !== "string") return [];
  const { name, arguments: args } = call.function;
  const id = typeof call.id === "string" ? call.id : undefined;
  if (id !== undefined) names.set(id, name);
  return [{ ...(id === undefined ? {} : { id }), type: "function", function: { name, arguments: argumentsObject(args) } }];
}

/** Arguments as an object; text that is not a JSON object stays text, as the model wrote it. */
function argumentsObject(args: JsonValue | undefined): JsonObject | string {
  if (isObject(args)) return args;
  if (typeof args !== "string") return {};
  try {
    const parsed = JSON.parse(args) as JsonValue;
    return isObject(parsed) ? parsed : args;
  } catch {
    return args;
  }
}

/** Tool definitions in the function shape both formats take. */
export function functionTools(tools: readonly JsonValue[] | undefined): FunctionTool[] {
  const out: FunctionTool[] = [];
  for (const tool of tools ?? []) {
    const definition = isObject(tool) && isObject(tool.function) ? tool.function : tool;
    if (!isObject(definition) || typeof definition.name !== "string" || definition.name === "") continue;
    const parameters = isObject(definition.parameters) ? definition.parameters : isObject(definition.input_schema) ? definition.input_schema : undefined;
    const fn: FunctionTool["function"] = { name: definition.name };
    if (typeof definition.description === "string") fn.description = definition.description;
    if (parameters !== undefined) fn.parameters = parameters;
    if (typeof definition.strict === "boolean") fn.strict = definition.strict;
    out.push({ type: "function", function: fn });
  }
  return out;
}

function roleOf(role: string): HfMessage["role"] {
  return role === "system" || role === "developer" || role === "user" || role === "assistant" || role === "tool" ? role : "user";
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
