/**
 * The reference model's chat template: chat messages rendered ChatML-style
 * (`<|im_start|>role\ntext<|im_end|>\n`, then `<|im_start|>assistant\n` to generate), tool calls
 * Hermes-style, tokenized segment by segment with the real o200k_base tokenizer (markers included
 * as ordinary text). The inverse direction —
 * finding the messages again in a sequence of token ids — is here too, because at training time
 * the backend receives token ids only and must see them as the sampler saw them.
 */
import type { Tiktoken } from "@dqbd/tiktoken";
import { o200k } from "../../../util/index.js";
import { z } from "zod";

const START = "<|im_start|>";
const END = "<|im_end|>";

/** A content part; only text (and refusal) parts carry text this template can render. */
const ContentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional(), refusal: z.string().optional() });

const ToolCallSchema = z.looseObject({
  id: z.string().optional(),
  type: z.literal("function").optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

/** A message of a chat-completions request, as much of it as the template renders (other fields are allowed and ignored; looser than the recorded `ChatMessage` of src/types on purpose: it is what clients send). */
export const RequestMessageSchema = z
  .looseObject({
    role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
    content: z.union([z.string(), z.array(ContentPartSchema)]).nullish(),
    tool_calls: z.array(ToolCallSchema).nullish(),
    name: z.string().optional(),
    tool_call_id: z.string().optional(),
  })
  .refine((m) => m.role === "assistant" || (m.content !== undefined && m.content !== null), {
    message: "content is required for this role",
    path: ["content"],
  });
export type RequestMessage = z.infer<typeof RequestMessageSchema>;

/** One message found in a token sequence: its role and the tokens of its content. */
export interface ContextMessage {
  role: string;
  tokens: number[];
  /** The content's text (its bytes between the header and the end marker, as UTF-8). */
  text: string;
  /** False for the last message when it has no end marker yet (the one being generated). */
  closed: boolean;
}

// ---------------------------------------------------------------------------------------------
// The tokenizer
// ---------------------------------------------------------------------------------------------

function encoder(): Tiktoken {
  return o200k();
}

/** Token ids of `text`; special-looking strings such as `<|im_start|>` are encoded as ordinary text. */
export function tokenize(text: string): number[] {
  return Array.from(encoder().encode_ordinary(text));
}

/** The token id `text` encodes to, or undefined when it takes more (or fewer) than one token. */
export function singleTokenId(text: string): number | undefined {
  const ids = tokenize(text);
  return ids.length === 1 ? ids[0] : undefined;
}

// Token bytes are looked up for every token of every context the policy reads; the cache keeps
// that to one tokenizer call per distinct token. Bytes are kept as a latin1 string (one char per
// byte), so marker search is a plain indexOf and char offsets are byte offsets.
const byteStrings = new Map<number, string | null>();

function tokenByteString(id: number): string | undefined {
  let cached = byteStrings.get(id);
  if (cached === undefined) {
    try {
      cached = Buffer.from(encoder().decode_single_token_bytes(id)).toString("latin1");
    } catch {
      cached = null; // not in the vocabulary
    }
    byteStrings.set(id, cached);
  }
  return cached ?? undefined;
}

/** Whether `id` is a token of o200k_base. */
export function isKnownToken(id: number): boolean {
  return tokenByteString(id) !== undefined;
}

/** The UTF-8 bytes of one token (empty for an id outside the vocabulary). */
export function tokenBytes(id: number): number[] {
  return Array.from(Buffer.from(tokenByteString(id) ?? "", "latin1"));
}

/** The text of one token; a token holding part of a multi-byte character decodes lossily, as OpenAI's `token` field does. */
export function tokenText(id: number): string {
  return Buffer.from(tokenByteString(id) ?? "", "latin1").toString("utf8");
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/**
 * A piece of rendered text that is tokenized on its own. The template tokenizes segment by segment
 * (markers, each message's content, each part of a tool call) and concatenates the ids, so what a
 * response sampled token by token is re-rendered in the next prompt as exactly the same ids: the
 * policy emits the same segments. `slot` marks the segments the policy chooses.
 */
export interface Segment {
  text: string;
  slot?: "name" | "value";
}

export const TOOL_CALL_OPEN = '<tool_call>{"name": ';
const TOOL_CALL_CLOSE = "}}</tool_call>";

/**
 * A tool call as the model writes it, Hermes-style: `<tool_call>{"name": "f", "arguments": {"k": v}}</tool_call>`.
 * Arguments that are not a JSON object are shown as one JSON value (a string when malformed).
 */
export function toolCallSegments(name: string, args: string): Segment[] {
  const parsed = parsedOrText(args);
  const segments: Segment[] = [{ text: TOOL_CALL_OPEN }, { text: JSON.stringify(name), slot: "name" }];
  if (!isPlainObject(parsed)) return [...segments, { text: `, "arguments": ${JSON.stringify(parsed)}}</tool_call>` }];
  segments.push({ text: ', "arguments": {' });
  Object.entries(parsed).forEach(([key, value], i) => {
    segments.push({ text: `${i > 0 ? ", " : ""}${JSON.stringify(key)}: ` }, { text: JSON.stringify(value) ?? "null", slot: "value" });
  });
  segments.push({ text: TOOL_CALL_CLOSE });
  return segments;
}

/** Arguments are a JSON string on the wire; shown as JSON when they are, as a string when malformed. */
function parsedOrText(args: string): unknown {
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return args;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function contentText(content: RequestMessage["content"]): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content.map((part) => part.text ?? part.refusal ?? "").join("");
}

function messageSegments(message: RequestMessage): Segment[] {
  const text = contentText(message.content);
  const calls = (message.tool_calls ?? []).flatMap((c) => toolCallSegments(c.function.name, c.function.arguments));
  return [...(text === "" ? [] : [{ text }]), ...calls];
}

/** How the request constrains tool use; rendered into the tools block so training sees it in the ids. */
export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

const TOOL_CHOICE_LINE = "\ntool_choice: ";

/** The prompt's segments: tool definitions (and a tool choice other than auto) as a leading block, the messages, then the generation header. */
export function chatSegments(messages: readonly RequestMessage[], tools?: readonly unknown[], toolChoice?: ToolChoice): Segment[] {
  const segments: Segment[] = [];
  const header = (role: string) => segments.push({ text: START }, { text: `${role}\n` });
  const end = () => segments.push({ text: END }, { text: "\n" });
  if (tools && tools.length > 0) {
    header("tools");
    segments.push({ text: JSON.stringify(tools) });
    if (toolChoice !== undefined && toolChoice !== "auto") segments.push({ text: `${TOOL_CHOICE_LINE}${JSON.stringify(toolChoice)}` });
    end();
  }
  for (const message of messages) {
    header(message.role);
    segments.push(...messageSegments(message));
    end();
  }
  header("assistant");
  return segments;
}

/** The prompt text (the segments joined). */
export function renderChat(messages: readonly RequestMessage[], tools?: readonly unknown[], toolChoice?: ToolChoice): string {
  return chatSegments(messages, tools, toolChoice)
    .map((s) => s.text)
    .join("");
}

/** Token ids of segments, each tokenized on its own. */
export function encodeSegments(segments: readonly Segment[]): number[] {
  return segments.flatMap((s) => tokenize(s.text));
}

/** The token ids the model writes for an assistant message (its text, then its tool calls), without the end marker: a response as sampled. */
export function encodeAssistantMessage(message: RequestMessage): number[] {
  return encodeSegments(messageSegments(message));
}

/** The prompt's token ids. */
export function encodeChat(messages: readonly RequestMessage[], tools?: readonly unknown[], toolChoice?: ToolChoice): number[] {
  return encodeSegments(chatSegments(messages, tools, toolChoice));
}

/** The tools block's text split into the tools (JSON) and the tool choice; undefined parts when absent or malformed. */
export function readToolsBlock(text: string): { tools: unknown; toolChoice: unknown } {
  const at = text.lastIndexOf(TOOL_CHOICE_LINE);
  const toolsText = at === -1 ? text : text.slice(0, at);
  const choiceText = at === -1 ? undefined : text.slice(at + TOOL_CHOICE_LINE.length);
  return { tools: parseOrUndefined(toolsText), toolChoice: choiceText === undefined ? "auto" : parseOrUndefined(choiceText) };
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading token ids back as messages
// ---------------------------------------------------------------------------------------------

/**
 * The messages of a token sequence, found by their markers in the sequence's bytes (markers do not
 * tokenize the same way everywhere: `.<` can merge the end of a text with a marker's first char).
 * A message's tokens are those overlapping its content, so a token straddling content and marker
 * still counts. Text before the first marker belongs to no message.
 */
export function splitMessages(ids: readonly number[]): ContextMessage[] {
  const starts = new Array<number>(ids.length);
  let bytes = "";
  for (let i = 0; i < ids.length; i++) {
    starts[i] = bytes.length;
    bytes += tokenByteString(ids[i]!) ?? "";
  }
  const messages: ContextMessage[] = [];
  let at = bytes.indexOf(START);
  while (at !== -1) {
    const next = bytes.indexOf(START, at + START.length);
    const limit = next === -1 ? bytes.length : next;
    const newline = bytes.indexOf("\n", at + START.length);
    const headerEnds = newline !== -1 && newline < limit;
    const role = bytes.slice(at + START.length, headerEnds ? newline : limit);
    const contentStart = headerEnds ? newline + 1 : limit;
    const end = bytes.indexOf(END, contentStart);
    const closed = end !== -1 && end < limit;
    const contentEnd = closed ? end : limit;
    const text = Buffer.from(bytes.slice(contentStart, contentEnd), "latin1").toString("utf8");
    messages.push({ role, tokens: tokensOverlapping(ids, starts, bytes.length, contentStart, contentEnd), text, closed });
    at = next;
  }
  return messages;
}

/** The tokens whose bytes overlap [from, to). */
function tokensOverlapping(ids: readonly number[], starts: readonly number[], total: number, from: number, to: number): number[] {
  const out: number[] = [];
  if (from >= to) return out;
  for (let i = firstEndingAfter(starts, total, from); i < ids.length && starts[i]! < to; i++) out.push(ids[i]!);
  return out;
}

/** Index of the first token whose bytes end after `offset` (binary search on start offsets). */
function firstEndingAfter(starts: readonly number[], total: number, offset: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const end = mid + 1 < starts.length ? starts[mid + 1]! : total;
    if (end <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
