/**
 * A span another OpenTelemetry instrumentation wrote, in the form tracetrain's tracer records:
 * typed (`tracetrain.span.type`), an LLM call's messages as OpenAI chat messages, a tool span's
 * call and an agent span's name under the GenAI keys adapters read. The tracer's OTel mirror
 * applies these same conversions to spans ending in process; adapters apply {@link recordedForm}
 * to spans that arrived any other way (over OTLP, from another language), so both become the same
 * training data.
 */
import { Attr, Operations, type SpanType, SpanTypes } from "../../types/index.js";
import { requestAttributes, responseAttributes } from "../call-attributes.js";
import { type Dialect, agentNameOf, classifySpan, isConvertedContentKey, llmRequestOf, llmResponseOf, timeToFirstChunkOf, toolCallOf, withContentEvents } from "./dialects.js";
import type { ContentIssue, OtelAttributes, OtelEventLike } from "./values.js";

/** A foreign span's type and its attributes as the tracer would have recorded them. */
export interface RecordedForm {
  type: SpanType;
  /** The span's own attributes, with an LLM call's content converted (the foreign copy replaced) and the keys adapters read added. */
  attributes: Record<string, unknown>;
}

/**
 * The recorded form of a span, or undefined when no dialect describes it (a plain span, kept as
 * it is). What an LLM call's content conversion could not read is listed in
 * `tracetrain.llm.content_issues`.
 */
export function recordedForm(name: string, attributes: OtelAttributes, events: readonly OtelEventLike[]): RecordedForm | undefined {
  const issues: ContentIssue[] = [];
  const all = withContentEvents(attributes, events, issues);
  const { type, dialect } = classifySpan(name, all);
  if (dialect === "generic") return undefined;
  const out: Record<string, unknown> = {};
  if (type === SpanTypes.llm) {
    for (const key in attributes) if (!isConvertedContentKey(key)) out[key] = attributes[key];
    Object.assign(out, requestAttributes(llmRequestOf(name, all, dialect, issues)), responseAttributes(llmResponseOf(all, dialect, issues)));
    // No dialect has exact tokens: a program in another language that got them from its engine
    // (vLLM's ids) sends them under tracetrain's keys, which the conversion must not drop.
    for (const key of TOKEN_KEYS) if (out[key] === undefined && attributes[key] !== undefined) out[key] = attributes[key];
    out[Attr.timeToFirstChunk] = timeToFirstChunkOf(all, events);
    out[Attr.contentIssues] = issueLines(issues);
  } else {
    Object.assign(out, attributes, roleAttributes(type, dialect, name, all));
  }
  out[Attr.spanType] = type;
  for (const key in out) if (out[key] === undefined) delete out[key];
  return { type, attributes: out };
}

/** What a tool or agent span records under the GenAI keys adapters read (nothing for other types). */
export function roleAttributes(type: SpanType, dialect: Dialect, name: string, a: OtelAttributes): Record<string, unknown> {
  if (type === SpanTypes.tool) {
    const call = toolCallOf(a, dialect);
    return {
      [Attr.operationName]: Operations.executeTool,
      [Attr.toolName]: call.name ?? (name.startsWith(EXECUTE_TOOL) ? name.slice(EXECUTE_TOOL.length) : undefined),
      [Attr.toolCallId]: call.callId,
      [Attr.toolCallArguments]: call.arguments,
      [Attr.toolCallResult]: call.result,
    };
  }
  if (type === SpanTypes.agent) return { [Attr.operationName]: Operations.invokeAgent, [Attr.genAiAgentName]: agentNameOf(name, a) };
  return {};
}

const EXECUTE_TOOL = "execute_tool ";

/** The token-level keys a foreign LLM span may carry as tracetrain writes them. */
const TOKEN_KEYS = [Attr.promptTokenIds, Attr.responseTokenIds, Attr.logprobs] as const;

/** Issues as the lines of `tracetrain.llm.content_issues` (undefined when there are none). */
export function issueLines(issues: readonly ContentIssue[]): string[] | undefined {
  return issues.length === 0 ? undefined : issues.map((i) => `${i.key}: ${i.problem}`);
}
