/**
 * The OpenTelemetry GenAI message formats, read into OpenAI chat messages:
 *
 * - **Parts** (the current conventions): `gen_ai.input.messages` / `gen_ai.output.messages` are
 *   lists of `{role, parts, name?, finish_reason?}`, and `gen_ai.system_instructions` a list of
 *   parts — as JSON text or structured values. A part is `text` / `reasoning` `{content}`,
 *   `tool_call` `{id?, name, arguments?}`, `tool_call_response` `{id?, response}`, media
 *   (`blob` `{modality, mime_type?, content}`, `uri` `{modality, uri}`, `file` / `file_data`
 *   `{modality, file_id}`), or a type of its own (`server_tool_call`, `compaction`, …). See the
 *   conventions' `gen-ai-input-messages.json` and `gen-ai-output-messages.json` schemas.
 * - **Per-message events** (v1.36 and older): `gen_ai.system.message`, `gen_ai.user.message`,
 *   `gen_ai.assistant.message`, `gen_ai.tool.message` and `gen_ai.choice` span events, their body's
 *   fields (`content`, `tool_calls`, `id`, `index`, `finish_reason`, `message`) as event attributes
 *   or as JSON text in `gen_ai.event.content`.
 *
 * Messages already in the OpenAI shape (`{role, content, tool_calls?}`) pass through. Whatever
 * cannot be read is left out and reported as a {@link ContentIssue}, never turned into an empty
 * message without a word.
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import { Attr, toJsonValue } from "../../types/index.js";
import type { LlmChoice } from "../call.js";
import { type IssueSink, type OtelAttributes, type OtelEventLike, arr, asText, describeValue, openAiToolCall, parseJson, rec, records, str } from "./values.js";

/** The v1.36 per-message events, and the role each one's message has. */
const MESSAGE_EVENTS: Readonly<Record<string, string>> = {
  "gen_ai.system.message": "system",
  "gen_ai.user.message": "user",
  "gen_ai.assistant.message": "assistant",
  "gen_ai.tool.message": "tool",
};
const CHOICE_EVENT = "gen_ai.choice";
/** Where some SDKs (Azure's) put an event's body, as JSON text. */
const EVENT_CONTENT = "gen_ai.event.content";

/** Whether an event is one of the per-message events whose content the LLM-call format replaces. */
export function isMessageEvent(name: string): boolean {
  return name === CHOICE_EVENT || MESSAGE_EVENTS[name] !== undefined;
}

function report(issues: IssueSink, key: string, problem: string): void {
  issues?.push({ key, problem });
}

// ---- parts ------------------------------------------------------------------------------------

/**
 * The chat role of a GenAI role. The conventions allow any string, and some instrumentations write
 * their framework's names (LangChain's `Human` / `AI`, Gemini's `model`): chat records need OpenAI's.
 */
function chatRole(role: string): string {
  return ROLE_ALIASES.get(role.toLowerCase()) ?? role;
}
const ROLE_ALIASES: ReadonlyMap<string, string> = new Map([
  ["human", "user"],
  ["ai", "assistant"],
  ["model", "assistant"],
  ["system", "system"],
  ["user", "user"],
  ["assistant", "assistant"],
  ["tool", "tool"],
]);

/** Input messages (`gen_ai.input.messages`, or any list in the same format). */
export function genAiMessages(raw: unknown, key: string, issues: IssueSink): ChatMessage[] | undefined {
  const list = arr(parseJson(raw));
  if (!list) return undefined;
  const out: ChatMessage[] = [];
  list.forEach((item, i) => {
    const m = rec(item);
    const role = str(m?.role);
    if (!m || role === undefined) {
      report(issues, key, `message ${i}: ${m ? "no role" : `expected an object, got ${describeValue(item)}`}; left out`);
      return;
    }
    const parts = arr(m.parts);
    // Already OpenAI-shaped (some instrumentations, and tracetrain itself, write it that way).
    if (!parts) out.push(toJsonValue(m) as ChatMessage);
    else for (const message of fromParts(chatRole(role), str(m.name), parts, `message ${i} (${role})`, key, issues)) out.push(message);
  });
  return out;
}

/** Output messages (`gen_ai.output.messages`): one choice each. */
export function genAiChoices(raw: unknown, key: string, issues: IssueSink): LlmChoice[] | undefined {
  const list = arr(parseJson(raw));
  if (!list) return undefined;
  const out: LlmChoice[] = [];
  list.forEach((item, i) => {
    const m = rec(item);
    if (!m) {
      report(issues, key, `message ${i}: expected an object, got ${describeValue(item)}; left out`);
      return;
    }
    const role = chatRole(str(m.role) ?? "assistant");
    const parts = arr(m.parts);
    // A choice is one message; tool results in an output (rare) are not a response the model wrote.
    const message = parts ? fromParts(role, str(m.name), parts, `message ${i} (${role})`, key, issues).find((x) => x.role === role) : (toJsonValue(m) as ChatMessage);
    const finishReason = str(m.finish_reason);
    // The finish reason belongs to the choice, not the message.
    const { finish_reason: _dropped, ...rest } = message ?? { role, content: "" };
    out.push({ message: rest as ChatMessage, ...(finishReason === undefined ? {} : { finishReason }) });
  });
  return out;
}

/** `gen_ai.system_instructions`: text, or a list of parts, as one system prompt. */
export function systemInstructions(raw: unknown, key: string, issues: IssueSink): string | undefined {
  const parsed = parseJson(raw);
  if (typeof parsed === "string") return parsed;
  const parts = arr(parsed);
  if (!parts) {
    if (parsed !== undefined && parsed !== null) report(issues, key, `expected text or a list of parts, got ${describeValue(parsed)}; left out`);
    return undefined;
  }
  const texts: string[] = [];
  parts.forEach((item, j) => {
    const p = rec(item);
    const text = p?.type === "text" || p?.type === undefined ? str(p?.content) : undefined;
    if (text !== undefined) texts.push(text);
    else report(issues, key, `part ${j}: ${partProblem(p, item)}; left out`);
  });
  return texts.join("");
}

/** What the parts of one message hold, in the order they came. */
interface Collected {
  content: JsonValue[];
  toolCalls: JsonValue[];
  toolResults: ChatMessage[];
  reasoning: string[];
}

/** One GenAI message as OpenAI chat messages: each tool result becomes a `tool` message of its own. */
function fromParts(role: string, name: string | undefined, parts: unknown[], where: string, key: string, issues: IssueSink): ChatMessage[] {
  const collected: Collected = { content: [], toolCalls: [], toolResults: [], reasoning: [] };
  parts.forEach((item, j) => {
    const problem = collectPart(collected, item);
    if (problem !== undefined) report(issues, key, `${where} part ${j}: ${problem}; left out`);
  });
  const { content, toolCalls, toolResults, reasoning } = collected;
  const messages: ChatMessage[] = [...toolResults];
  // A tool message holds only its results; anything else in it (or in another role's message) is a message of its own.
  if (content.length > 0 || toolCalls.length > 0 || reasoning.length > 0 || toolResults.length === 0) {
    const message: ChatMessage = { role, content: contentOf(content, toolCalls.length > 0) };
    if (name !== undefined) message.name = name;
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    if (reasoning.length > 0) message.reasoning_content = reasoning.join("");
    messages.push(message);
  }
  return messages;
}

/** Plain text when there is only text (how chat messages are usually sent), else the list of content parts. */
function contentOf(content: JsonValue[], hasToolCalls: boolean): string | JsonValue[] | null {
  if (content.length === 0) return hasToolCalls ? null : "";
  const texts: string[] = [];
  for (const part of content) {
    const p = rec(part);
    if (p?.type !== "text" || typeof p.text !== "string") return content;
    texts.push(p.text);
  }
  return texts.join("");
}

/** Adds one part to what a message holds; returns why it could not be read, if it could not. */
function collectPart(into: Collected, item: unknown): string | undefined {
  const p = rec(item);
  if (!p) return partProblem(p, item);
  switch (p.type) {
    case "text": {
      const text = str(p.content);
      if (text === undefined) return `a text part's content is ${describeValue(p.content)}, not text`;
      into.content.push({ type: "text", text });
      return undefined;
    }
    case "reasoning": {
      const text = str(p.content);
      if (text === undefined) return `a reasoning part's content is ${describeValue(p.content)}, not text`;
      into.reasoning.push(text);
      return undefined;
    }
    case "tool_call": {
      const name = str(p.name);
      if (name === undefined || name === "") return "a tool_call part without a tool name";
      into.toolCalls.push(openAiToolCall(str(p.id)?.trim(), name, p.arguments));
      return undefined;
    }
    case "tool_call_response": {
      // The schema says `response`; the conventions' own example (and some SDKs) write `result`.
      const response = p.response !== undefined ? p.response : p.result;
      if (response === undefined) return "a tool_call_response part without a response";
      into.toolResults.push({ role: "tool", tool_call_id: str(p.id)?.trim() ?? "", content: asText(response) });
      return undefined;
    }
    case "blob":
    case "uri":
    case "file":
    case "file_data": {
      const media = mediaPart(p);
      if (typeof media === "string") return media;
      into.content.push(media);
      return undefined;
    }
    default:
      return partProblem(p, item);
  }
}

function partProblem(p: Record<string, unknown> | undefined, item: unknown): string {
  if (!p) return `expected a part object, got ${describeValue(item)}`;
  const type = str(p.type);
  if (type === undefined) return "a part without a type";
  // server_tool_call(_response), compaction and custom parts have no place in a chat message.
  return `part type "${type.length > 40 ? `${type.slice(0, 40)}…` : type}" has no chat-message form`;
}

const AUDIO_FORMATS: Readonly<Record<string, string>> = { "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3" };

/** A media part as an OpenAI content part, or why it has none. */
function mediaPart(p: Record<string, unknown>): JsonValue | string {
  const mime = str(p.mime_type);
  const modality = str(p.modality) ?? (mime?.startsWith("image/") ? "image" : mime?.startsWith("audio/") ? "audio" : undefined);
  const fileId = str(p.file_id);
  const uri = str(p.uri);
  const data = p.type === "blob" ? str(p.content) : undefined;
  if (p.type === "blob" && data === undefined) return "a blob part without base64 content";
  if (modality === "image" || (modality === undefined && (data !== undefined || uri !== undefined))) {
    const url = data !== undefined ? `data:${mime ?? "image/*"};base64,${data}` : uri;
    if (url !== undefined) return { type: "image_url", image_url: { url } };
  }
  if (modality === "audio" && data !== undefined) {
    const format = mime === undefined ? undefined : AUDIO_FORMATS[mime];
    if (format === undefined) return `an audio blob of type ${mime ?? "unknown"} (chat messages take wav or mp3)`;
    return { type: "input_audio", input_audio: { data, format } };
  }
  if (fileId !== undefined) return { type: "file", file: { file_id: fileId } };
  if (data !== undefined) return { type: "file", file: { file_data: `data:${mime ?? "application/octet-stream"};base64,${data}` } };
  if (uri !== undefined) return `a ${modality ?? "media"} part given by URI (chat messages take only images by URI)`;
  return `a ${modality ?? "media"} ${str(p.type)} part without data, URI or file id`;
}

// ---- per-message events -----------------------------------------------------------------------

/**
 * The span's attributes, completed from v1.36-style per-message events: their messages become
 * `gen_ai.input.messages` and their choices `gen_ai.output.messages` (OpenAI-shaped), unless the
 * attributes already hold messages in another form.
 */
export function withMessageEvents(a: OtelAttributes, events: readonly OtelEventLike[], hasIndexedMessages: boolean, issues: IssueSink): OtelAttributes {
  if (!events.some((e) => isMessageEvent(e.name))) return a;
  const inputs: ChatMessage[] = [];
  const choices: Array<{ index: number; value: JsonValue }> = [];
  events.forEach((event, i) => {
    const role = MESSAGE_EVENTS[event.name];
    if (role === undefined && event.name !== CHOICE_EVENT) return;
    const body = eventBody(event);
    const where = `event ${i}`;
    if (role !== undefined) {
      inputs.push(eventMessage(role, body, event.name, where, issues));
      return;
    }
    const message = rec(parseJson(body.message)) ?? {};
    const finishReason = str(body.finish_reason);
    const choice = eventMessage("assistant", message, event.name, where, issues);
    choices.push({ index: typeof body.index === "number" ? body.index : choices.length, value: toJsonValue(finishReason === undefined ? choice : { ...choice, finish_reason: finishReason }) });
  });
  const out: Record<string, unknown> = { ...a };
  if (inputs.length > 0 && a[Attr.inputMessages] === undefined && !hasIndexedMessages) out[Attr.inputMessages] = inputs;
  if (choices.length > 0 && a[Attr.outputMessages] === undefined && !hasIndexedMessages) out[Attr.outputMessages] = choices.sort((x, y) => x.index - y.index).map((c) => c.value);
  return out;
}

/** An event's body: its attributes, and the JSON body some SDKs put in `gen_ai.event.content`. */
function eventBody(event: OtelEventLike): Record<string, unknown> {
  const attributes = event.attributes ?? {};
  const body = rec(parseJson(attributes[EVENT_CONTENT]));
  return body === undefined ? attributes : { ...attributes, ...body };
}

function eventMessage(role: string, body: Record<string, unknown>, key: string, where: string, issues: IssueSink): ChatMessage {
  const message: ChatMessage = { role: str(body.role) ?? role };
  const toolCalls = records(parseJson(body.tool_calls)).map((c) => {
    const fn = rec(c.function);
    return openAiToolCall(str(c.id), str(fn?.name) ?? str(c.name), fn?.arguments ?? c.arguments);
  });
  message.content = eventContent(body.content, key, where, issues) ?? (toolCalls.length > 0 ? null : "");
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const id = str(body.id) ?? str(body.tool_call_id);
  if (message.role === "tool" && id !== undefined) message.tool_call_id = id;
  return message;
}

/** An event's content as chat content (undefined when it has none, or a shape chat messages cannot hold). */
function eventContent(raw: unknown, key: string, where: string, issues: IssueSink): string | JsonValue[] | undefined {
  if (raw === undefined || raw === null || typeof raw === "string") return raw ?? undefined;
  const parts = arr(raw);
  if (parts && parts.every((p) => typeof rec(p)?.type === "string")) {
    const texts = parts.map((p) => (rec(p)!.type === "text" ? str(rec(p)!.text) : undefined));
    return texts.every((t) => t !== undefined) ? texts.join("") : (toJsonValue(parts) as JsonValue[]);
  }
  report(issues, key, `${where}: content is ${describeValue(raw)}, not text or a list of content parts; left out`);
  return undefined;
}
