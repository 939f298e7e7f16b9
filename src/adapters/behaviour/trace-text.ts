/**
 * The text of an attempt as detectors read it: what each call's response said, which tool calls
 * it made with which arguments, what tools and retrievers gave back, and what the task said. One
 * place, so every detector reads a trace the same way — including agents whose tool runs left no
 * span (a hand-written loop over the openai SDK), whose results are only in the next prompt.
 */
import { Attr, SpanTypes } from "../../types/index.js";
import type { JsonValue } from "../../types/index.js";
import type { ExtractedCall } from "../calls.js";
import { contentText } from "../chat-messages.js";
import type { ToolUse } from "../tool-uses.js";
import type { AdaptedAttempt } from "../transitions.js";

/** A call's first choice as text: its content. */
export function responseText(call: ExtractedCall): string {
  return contentText(call.choices[0]?.message?.content);
}

/** The calls of the policy: those not made inside a reward span (a judge is not the agent). */
export function policyCalls(attempt: AdaptedAttempt): ExtractedCall[] {
  return attempt.calls.filter((c) => !c.insideReward);
}

/** The agent's final answer: the text of the last policy call that wrote any. */
export function finalOutput(attempt: AdaptedAttempt): { text: string; call: ExtractedCall } | undefined {
  const calls = policyCalls(attempt);
  for (let i = calls.length - 1; i >= 0; i--) {
    const text = responseText(calls[i]!);
    if (text.trim().length > 0) return { text, call: calls[i]! };
  }
  return undefined;
}

/** A tool call's arguments as the model wrote them, as one string. */
export function argumentText(args: JsonValue | undefined): string {
  if (args === undefined) return "";
  return typeof args === "string" ? args : JSON.stringify(args);
}

/** A string value inside a tool call's arguments, and where (`query`, `items[2].url`; "" for arguments that are not JSON). */
export interface ArgumentLeaf {
  path: string;
  text: string;
}

/**
 * Every string inside the arguments: parsed when they are JSON, else the raw text as one leaf —
 * a model's arguments are often malformed, and a malformed `rm -rf /` is still `rm -rf /`.
 * Numbers and booleans are left out (they carry no command, host or secret). Iterative, so deep
 * hostile nesting cannot overflow the stack.
 */
export function argumentLeaves(args: JsonValue | undefined): ArgumentLeaf[] {
  const parsed = parsedArguments(args);
  if (parsed === undefined) return args === undefined ? [] : [{ path: "", text: argumentText(args) }];
  const leaves: ArgumentLeaf[] = [];
  const stack: Array<{ value: JsonValue; path: string }> = [{ value: parsed, path: "" }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === "string") leaves.push({ path, text: value });
    else if (Array.isArray(value)) for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i]!, path: `${path}[${i}]` });
    else if (typeof value === "object" && value !== null) {
      for (const key of Object.keys(value).reverse()) stack.push({ value: value[key]!, path: path === "" ? key : `${path}.${key}` });
    }
  }
  return leaves;
}

/** The arguments as a JSON value: parsed when they are a JSON string, as given when already structured; undefined when not JSON. */
export function parsedArguments(args: JsonValue | undefined): JsonValue | undefined {
  if (args === undefined) return undefined;
  if (typeof args !== "string") return args;
  try {
    return JSON.parse(args) as JsonValue;
  } catch {
    // Not JSON: callers fall back to the raw text, which is what the model wrote.
    return undefined;
  }
}

/** Something the agent read that it did not write: a tool's result or a retrieved document. */
export interface UntrustedText {
  kind: "tool" | "retriever";
  /** Said in findings: `tool 'search'`, `a retrieved document`, `a tool result`. */
  source: string;
  /** The tool's name, when a tool gave it. */
  tool?: string;
  text: string;
  /** The span it came from: the tool or retriever span, else the call whose prompt first held it. */
  spanId: string;
  /** The first policy call that read it (index into `policyCalls`), when one did. */
  readerIndex: number | undefined;
}

/**
 * Every tool result and retrieved document of the attempt, once each: from tool and retriever
 * spans, and from `tool` messages in prompts that no tool span recorded. Each with the first
 * policy call that came after it — the call that read it.
 */
export function untrustedTexts(attempt: AdaptedAttempt): readonly UntrustedText[] {
  let texts = untrustedCache.get(attempt);
  if (texts === undefined) {
    texts = readUntrusted(attempt);
    untrustedCache.set(attempt, texts);
  }
  return texts;
}

/** Several detectors read the same attempt's untrusted texts; an adapted attempt never changes, so they are read once. */
const untrustedCache = new WeakMap<AdaptedAttempt, readonly UntrustedText[]>();

function readUntrusted(attempt: AdaptedAttempt): UntrustedText[] {
  const calls = policyCalls(attempt);
  const readerAfter = (order: number): number | undefined => {
    const i = calls.findIndex((c) => c.node.order > order);
    return i < 0 ? undefined : i;
  };
  const out: UntrustedText[] = [];
  const seen = new Set<string>();
  for (const node of attempt.tree.nodes) {
    const attrs = node.span?.attributes ?? {};
    if (node.type === SpanTypes.tool) {
      const result = attrs[Attr.toolCallResult];
      if (result === undefined || result === null) continue;
      const tool = typeof attrs[Attr.toolName] === "string" ? (attrs[Attr.toolName] as string) : undefined;
      const text = argumentText(result as JsonValue);
      seen.add(text);
      out.push({ kind: "tool", source: tool === undefined ? "a tool" : `tool '${clip(tool, 100)}'`, ...(tool === undefined ? {} : { tool }), text, spanId: node.spanId, readerIndex: readerAfter(node.order) });
    } else if (node.type === SpanTypes.retriever) {
      const docs = attrs[Attr.retrievalDocuments];
      if (!Array.isArray(docs)) continue;
      for (const doc of docs) {
        const text = documentText(doc as JsonValue);
        if (text.length > 0) out.push({ kind: "retriever", source: "a retrieved document", text, spanId: node.spanId, readerIndex: readerAfter(node.order) });
      }
    }
  }
  // Prompts repeat every earlier tool message: one already read (by its call id) is not read again.
  const readIds = new Set<string>();
  calls.forEach((call, index) => {
    for (const message of call.promptMessages ?? []) {
      if (message.role !== "tool") continue;
      if (message.tool_call_id !== undefined) {
        if (readIds.has(message.tool_call_id)) continue;
        readIds.add(message.tool_call_id);
      }
      const text = contentText(message.content);
      if (text.length === 0 || seen.has(text)) continue;
      seen.add(text);
      const tool = typeof message.name === "string" ? message.name : toolNameOfCallId(calls, message.tool_call_id);
      out.push({ kind: "tool", source: tool === undefined ? "a tool result" : `tool '${clip(tool, 100)}'`, ...(tool === undefined ? {} : { tool }), text, spanId: call.callId, readerIndex: index });
    }
  });
  return out;
}

function documentText(doc: JsonValue): string {
  if (typeof doc === "string") return doc;
  if (typeof doc === "object" && doc !== null && !Array.isArray(doc) && typeof doc.pageContent === "string") return doc.pageContent;
  return JSON.stringify(doc);
}

function toolNameOfCallId(calls: readonly ExtractedCall[], id: string | undefined): string | undefined {
  if (id === undefined) return undefined;
  for (const call of calls) for (const use of call.toolUses) if (use.id === id) return use.name;
  return undefined;
}

/** The tool calls of the policy, each with the call that made it. */
export function policyToolUses(attempt: AdaptedAttempt): Array<{ use: ToolUse; call: ExtractedCall }> {
  return policyCalls(attempt).flatMap((call) => call.toolUses.map((use) => ({ use, call })));
}

/** What the task said: the text of every user and system message the policy was given. */
export function taskText(attempt: AdaptedAttempt): string {
  const parts = new Set<string>();
  for (const call of policyCalls(attempt)) {
    for (const m of call.promptMessages ?? []) if (m.role === "user" || m.role === "system" || m.role === "developer") parts.add(contentText(m.content));
  }
  return [...parts].join("\n");
}

/** `text` around `[start, end)`, at most `width` characters either side, with ellipses where cut. */
export function excerpt(text: string, start: number, end: number, width = 60): string {
  const from = Math.max(0, start - width);
  const to = Math.min(text.length, end + width);
  const cappedTo = Math.min(to, from + 2 * width + 400);
  return `${from > 0 ? "…" : ""}${text.slice(from, cappedTo)}${cappedTo < text.length ? "…" : ""}`;
}

/** A short quote of a string for a message or evidence. */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
