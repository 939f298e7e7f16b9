/**
 * Spans → OpenAI fine-tuning records (`{messages, tools}`), ready as SFT JSONL.
 *
 * - `per: "call"`: one record per selected call (per choice when `n` > 1): the prompt as sent and
 *   the response. Assistant messages that were part of the prompt get `weight: 0`, so each model
 *   output is trained on exactly once across records.
 * - `per: "conversation"` (default): consecutive calls of one agent join one record when each
 *   call's prompt messages start with the previous call's prompt and response — the record is the
 *   last call's prompt plus its response, so tool calls and tool results between calls are
 *   included as the model saw them. When a prompt does not extend the conversation (another
 *   agent, rewritten history), a new record starts. Assistant messages that are not a selected
 *   call's own response (few-shot examples, another agent's turns) get `weight: 0`.
 *
 * Messages keep the fine-tuning keys only (`role`, `content`, `name`, `tool_calls`,
 * `tool_call_id`, and `weight`), and tool calls the OpenAI shape.
 */
import type { ChatMessage, ChatRecord, JsonValue } from "../types/index.js";
import type { AdapterSpan } from "./span-input.js";
import { type AdaptedAttempt, type AdapterOptions, adaptSpans } from "./transitions.js";

/** Options of {@link toChatMessages}. */
export interface ChatMessagesOptions extends AdapterOptions {
  /** One record per selected call, or per conversation (default). */
  per?: "call" | "conversation" | undefined;
}

/** A chat record with where it came from (what export filters need). */
export interface ChatSample {
  record: ChatRecord;
  rolloutId: string;
  attemptId: string;
  groupId?: string;
  agentName?: string;
  /** The calls whose responses the record trains on, in order. */
  callIds: string[];
  /** The reward of the record's last call under the credit policy. */
  reward?: number;
  /** The attempt's final reward. */
  finalReward?: number;
}

/** OpenAI fine-tuning records for the selected calls. */
export function toChatMessages(spans: readonly AdapterSpan[], options: ChatMessagesOptions = {}): ChatRecord[] {
  return toChatSamples(spans, options).map((s) => s.record);
}

/** {@link toChatMessages} with each record's origin and reward. */
export function toChatSamples(spans: readonly AdapterSpan[], options: ChatMessagesOptions = {}): ChatSample[] {
  return adaptSpans(spans, options).flatMap((attempt) => chatSamplesOf(attempt, options.per ?? "conversation"));
}

interface Conversation {
  agentName: string | undefined;
  /** Messages so far, in fine-tuning shape. */
  messages: ChatMessage[];
  /** Which of `messages` are selected calls' own responses. */
  trained: Set<number>;
  tools: JsonValue[] | undefined;
  callIds: string[];
  lastCallId: string;
}

/** The chat samples of one adapted attempt. */
export function chatSamplesOf(attempt: AdaptedAttempt, per: "call" | "conversation"): ChatSample[] {
  const rewardOf = new Map<string, number>();
  for (const t of attempt.trajectory.transitions) if (t.reward !== undefined) rewardOf.set(t.callId, t.reward);
  // A call whose messages could not all be read stays out (its diagnostics say why): a chat record is text.
  const selected = attempt.calls.filter((c) => c.selected && c.messageProblems.length === 0 && c.choices.some((ch) => ch.message !== undefined));
  const conversations: Conversation[] = [];
  const open = new Map<string | undefined, Conversation>();
  for (const call of selected) {
    const prompt = (call.promptMessages ?? []).map(toFineTuningMessage);
    const chained = per === "conversation" && call.choices.length === 1 ? open.get(call.agentName) : undefined;
    if (chained !== undefined && startsWith(prompt, chained.messages)) {
      chained.messages = [...prompt, toFineTuningMessage(call.choices[0]!.message!)];
      chained.trained.add(chained.messages.length - 1);
      chained.tools = call.tools ?? chained.tools;
      chained.callIds.push(call.callId);
      chained.lastCallId = call.callId;
      continue;
    }
    for (const choice of call.choices) {
      if (choice.message === undefined) continue;
      const messages = [...prompt, toFineTuningMessage(choice.message)];
      const conversation: Conversation = { agentName: call.agentName, messages, trained: new Set([messages.length - 1]), tools: call.tools, callIds: [call.callId], lastCallId: call.callId };
      conversations.push(conversation);
      if (call.choices.length === 1) open.set(call.agentName, conversation);
      else open.delete(call.agentName);
    }
  }
  const { groupId } = attempt.trajectory;
  const finalReward = attempt.rewards.finalReward;
  return conversations.map((c) => {
    const messages = c.messages.map((m, i) => (m.role === "assistant" && !c.trained.has(i) ? { ...m, weight: 0 } : m));
    const sample: ChatSample = {
      record: c.tools === undefined || c.tools.length === 0 ? { messages } : { messages, tools: c.tools },
      rolloutId: attempt.rolloutId,
      attemptId: attempt.attemptId,
      callIds: c.callIds,
    };
    if (groupId !== undefined) sample.groupId = groupId;
    if (c.agentName !== undefined) sample.agentName = c.agentName;
    const reward = rewardOf.get(c.lastCallId);
    if (reward !== undefined) sample.reward = reward;
    if (finalReward !== undefined) sample.finalReward = finalReward;
    return sample;
  });
}

/** Whether `messages` begins with `prefix`, message by message, by what the model saw. */
function startsWith(messages: readonly ChatMessage[], prefix: readonly ChatMessage[]): boolean {
  if (messages.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (!sameMessage(messages[i]!, prefix[i]!)) return false;
  return true;
}

/** Equal as the model saw them: role, text, tool calls and the tool call answered. */
export function sameMessage(a: ChatMessage, b: ChatMessage): boolean {
  if (a.role !== b.role || (a.tool_call_id ?? "") !== (b.tool_call_id ?? "")) return false;
  if (contentText(a.content) !== contentText(b.content)) return false;
  const ac = a.tool_calls ?? [];
  const bc = b.tool_calls ?? [];
  if (ac.length !== bc.length) return false;
  for (let i = 0; i < ac.length; i++) if (toolCallKey(ac[i]!) !== toolCallKey(bc[i]!)) return false;
  return true;
}

/** A message content as plain text: text parts joined with newlines, other parts as JSON. */
export function contentText(content: ChatMessage["content"]): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part === "string") texts.push(part);
    else if (typeof part === "object" && part !== null && !Array.isArray(part) && typeof part.text === "string") texts.push(part.text);
    else texts.push(JSON.stringify(part));
  }
  return texts.join("\n");
}

function toolCallKey(call: JsonValue): string {
  if (typeof call !== "object" || call === null || Array.isArray(call)) return JSON.stringify(call);
  const fn = typeof call.function === "object" && call.function !== null && !Array.isArray(call.function) ? call.function : {};
  return JSON.stringify([call.id ?? null, fn.name ?? null, normalizeArguments(fn.arguments)]);
}

/** Arguments compare as JSON when they parse (frameworks re-serialize with other spacing). */
function normalizeArguments(args: JsonValue | undefined): string {
  if (typeof args !== "string") return JSON.stringify(args ?? null);
  try {
    return JSON.stringify(JSON.parse(args));
  } catch {
    return args;
  }
}

/** A message in the fine-tuning shape: only the keys the format defines. */
export function toFineTuningMessage(message: ChatMessage): ChatMessage {
  const out: ChatMessage = { role: message.role };
  const toolCalls = message.tool_calls !== undefined && message.tool_calls.length > 0 ? message.tool_calls.map(toFineTuningToolCall) : undefined;
  if (message.content !== undefined && message.content !== null) out.content = message.content;
  else if (toolCalls === undefined) out.content = "";
  if (message.name !== undefined) out.name = message.name;
  if (toolCalls !== undefined) out.tool_calls = toolCalls;
  if (message.tool_call_id !== undefined) out.tool_call_id = message.tool_call_id;
  return out;
}

function toFineTuningToolCall(call: JsonValue): JsonValue {
  if (!isObject(call) || !isObject(call.function)) return call;
  const fn = call.function;
  const shaped: { [key: string]: JsonValue } = {};
  if (call.id !== undefined) shaped.id = call.id;
  shaped.type = "function";
  shaped.function = { name: fn.name ?? null, arguments: fn.arguments ?? "{}" };
  return shaped;
}

function isObject(value: JsonValue | undefined): value is { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A tool offered to a call, as a reader of the run sees it. */
export interface OfferedTool {
  name: string;
  description: string | undefined;
}

/**
 * The name and description of each tool definition a call offered — OpenAI's
 * `{type: "function", function: {name, description}}` or the flat `{name, description}` other
 * APIs use. A definition without a name is left out: there is nothing to call it by.
 */
export function offeredTools(tools: readonly JsonValue[] | undefined): OfferedTool[] {
  const out: OfferedTool[] = [];
  for (const tool of tools ?? []) {
    const definition = isObject(tool) && isObject(tool.function) ? tool.function : tool;
    if (!isObject(definition) || typeof definition.name !== "string") continue;
    out.push({ name: definition.name, description: typeof definition.description === "string" ? definition.description : undefined });
  }
  return out;
}
