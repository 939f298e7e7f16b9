/**
 * The tool calls an LLM call asked for, matched with the tool spans that ran them: by tool call id
 * when the tool span records one, otherwise by tool name, in order — among the tool spans that ran
 * after the call and before the same agent's next call.
 */
import { Attr, SpanTypes } from "../types/index.js";
import type { JsonValue } from "../types/index.js";
import type { SpanNode, SpanTree } from "./span-tree.js";

/** One tool call a response asked for, and what running it gave (when its span was found). */
export interface ToolUse {
  /** The tool call id the model gave. */
  id?: string;
  name: string;
  /** The arguments as the model wrote them (usually a JSON string). */
  arguments?: JsonValue;
  /** The tool's result, from its span. */
  result?: JsonValue;
  /** The tool span that ran it. */
  spanId?: string;
}

/** The part of a call this step reads and fills. */
interface CallWithTools {
  readonly node: SpanNode;
  readonly agentName: string | undefined;
  readonly choices: ReadonlyArray<{ message?: { tool_calls?: JsonValue[] | undefined } | undefined }>;
  readonly toolUses: ToolUse[];
}

const EXECUTE_TOOL = "execute_tool ";

/** Fills each call's `toolUses` (calls in order). */
export function attachToolUses(tree: SpanTree, calls: readonly CallWithTools[]): void {
  const tools = tree.nodes.filter((n) => n.type === SpanTypes.tool);
  const used = new Set<SpanNode>();
  const nextOfAgent = new Map<string | undefined, number>();
  const windowEnd: number[] = new Array<number>(calls.length);
  for (let i = calls.length - 1; i >= 0; i--) {
    const call = calls[i]!;
    windowEnd[i] = nextOfAgent.get(call.agentName) ?? Number.MAX_SAFE_INTEGER;
    nextOfAgent.set(call.agentName, call.node.order);
  }
  calls.forEach((call, i) => {
    const requested = call.choices[0]?.message?.tool_calls;
    if (requested === undefined || requested.length === 0) return;
    const window = tools.filter((t) => t.order > call.node.order && t.order < windowEnd[i]! && !used.has(t));
    for (const raw of requested) {
      const use = toolUse(raw);
      if (use === undefined) continue;
      const span = window.find((t) => !used.has(t) && toolCallIdOf(t) !== undefined && toolCallIdOf(t) === use.id) ?? window.find((t) => !used.has(t) && toolCallIdOf(t) === undefined && toolNameOf(t) === use.name);
      if (span !== undefined) {
        used.add(span);
        use.spanId = span.spanId;
        const result = span.span?.attributes?.[Attr.toolCallResult];
        if (result !== undefined) use.result = result as JsonValue;
      }
      call.toolUses.push(use);
    }
  });
}

/** Reads one OpenAI-shaped tool call (`{id, type, function: {name, arguments}}`); other shapes are skipped. */
function toolUse(raw: JsonValue): ToolUse | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const fn = raw.function;
  const name = typeof fn === "object" && fn !== null && !Array.isArray(fn) && typeof fn.name === "string" ? fn.name : typeof raw.name === "string" ? raw.name : undefined;
  if (name === undefined) return undefined;
  const use: ToolUse = { name };
  if (typeof raw.id === "string") use.id = raw.id;
  const args = typeof fn === "object" && fn !== null && !Array.isArray(fn) ? fn.arguments : raw.arguments;
  if (args !== undefined) use.arguments = args;
  return use;
}

function toolCallIdOf(node: SpanNode): string | undefined {
  const id = node.span?.attributes?.[Attr.toolCallId];
  return typeof id === "string" && id.length > 0 ? id : undefined;
}

function toolNameOf(node: SpanNode): string | undefined {
  const name = node.span?.attributes?.[Attr.toolName];
  if (typeof name === "string" && name.length > 0) return name;
  const spanName = node.span?.name ?? "";
  return spanName.startsWith(EXECUTE_TOOL) ? spanName.slice(EXECUTE_TOOL.length) : undefined;
}
