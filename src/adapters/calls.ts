/**
 * Call extraction: the LLM calls of one attempt, each counted once, with its agent, its place and
 * whether it is training data.
 *
 * - **What is a call**: a span of type `llm` (spans other instrumentations wrote are typed first,
 *   see `foreign-spans.ts`: `gen_ai.operation.name` `chat`, `text_completion` or
 *   `generate_content`, an OpenInference `LLM` span, an AI SDK `doGenerate`). An `llm_run` span is
 *   a framework's wrapper of a call a lower layer recorded in full, and never a call itself.
 * - **Once**: calls with the same `gen_ai.response.id` are one call. The record kept is the one
 *   with the most exact data (response token ids, then prompt token ids, then logprobs), then the
 *   innermost (closest to the wire), then the earliest; fields it lacks are taken from the others.
 *   An LLM span without a response id that has another call beneath it is a wrapper too.
 * - **Agent**: the call's own `tracetrain.agent.name` (set by the tracer from `withAgent`, a
 *   LangGraph node or an Agents SDK agent), else its `gen_ai.agent.name`, else the nearest
 *   enclosing agent span's name.
 * - **Selected** when it ran outside any reward span (unless `excludeCallsInsideRewards: false`),
 *   if `agents` is given its agent matches, and its messages could all be read — or, when they
 *   could not (an empty message, content chat messages cannot hold), it has exact prompt and
 *   response token ids. A call whose messages are unreadable or whose prompt was not recorded is
 *   never a chat record; diagnostics say which.
 */
import { Attr, SpanNames, SpanTypes } from "../types/index.js";
import type { ChatMessage, JsonValue, SamplingSettings } from "../types/index.js";
import { AttributeReader } from "./attributes.js";
import type { DiagnosticsCollector } from "./diagnostics.js";
import { isFromOtelInstrumentation } from "./foreign-spans.js";
import { type SpanNode, type SpanTree, isDescendant } from "./span-tree.js";
import { type ToolUse, attachToolUses } from "./tool-uses.js";

/** One choice of a call's response. */
export interface CallChoice {
  /** The response message (without `finish_reason`, which is {@link CallChoice.finishReason}). */
  message?: ChatMessage;
  finishReason?: string;
  /** Exact response token ids, when the engine returned them. */
  tokenIds?: number[];
  /** One logprob per response token. */
  logprobs?: number[];
}

/** Why a found call is not training data. */
export type CallExclusion = "agent_not_selected" | "no_agent_name" | "inside_reward" | "unreadable_message";

/** An LLM call as adapters see it. */
export interface ExtractedCall {
  /** The span id of the record kept. */
  readonly callId: string;
  readonly node: SpanNode;
  /** Span ids of other records of this call (duplicates, wrappers): a reward's `call_id` may name any of them. */
  readonly aliases: string[];
  readonly responseId: string | undefined;
  /** Place among the attempt's calls (0-based). */
  readonly position: number;
  readonly agentName: string | undefined;
  readonly model: string | undefined;
  readonly promptMessages: ChatMessage[] | undefined;
  readonly tools: JsonValue[] | undefined;
  readonly promptTokenIds: number[] | undefined;
  readonly choices: CallChoice[];
  readonly policyVersion: string | number | undefined;
  /** The sampling settings the request set (temperature, top-p, top-k), when it set any. */
  readonly sampling: SamplingSettings | undefined;
  /** Tokens the server reported for the call (`gen_ai.usage.*`), when it did: what the call cost. */
  readonly usage: CallUsage | undefined;
  /** Whether the call ran inside a reward span (e.g. an LLM judge). */
  readonly insideReward: boolean;
  readonly selected: boolean;
  readonly exclusion: CallExclusion | undefined;
  /** The tool calls its response asked for, with the tool spans that ran them when found. */
  readonly toolUses: ToolUse[];
  /**
   * Why its messages are not usable as text (which attribute, which message, what was left out);
   * empty when they are. A call with such problems is never a chat record.
   */
  readonly messageProblems: string[];
}

/** Token usage as the server reported it. */
export interface CallUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Which calls become training data. */
export interface CallSelectionOptions {
  /**
   * Only calls of these agents (exact names, or a RegExp tested on the name) become training
   * data — selective optimization of some agents of a multi-agent system. Default: every agent.
   */
  agents?: readonly string[] | RegExp | undefined;
  /** Leave out calls made inside a reward span (an LLM judge is not the policy). Default true. */
  excludeCallsInsideRewards?: boolean | undefined;
}

/** A call candidate read from one span, before deduplication. */
interface Raw {
  node: SpanNode;
  responseId: string | undefined;
  ownAgent: string | undefined;
  model: string | undefined;
  promptMessages: ChatMessage[] | undefined;
  tools: JsonValue[] | undefined;
  promptTokenIds: number[] | undefined;
  choices: CallChoice[];
  policyVersion: string | number | undefined;
  sampling: SamplingSettings | undefined;
  usage: CallUsage | undefined;
  /** What converting another instrumentation's messages could not read (`tracetrain.llm.content_issues`). */
  contentIssues: string[];
  /** Whether another usable call sits beneath this span. */
  hasCallBelow: boolean;
}

/** Extracts the calls of one attempt's tree, in order. Drops are reported to `diagnostics`. */
export function extractCalls(tree: SpanTree, options: CallSelectionOptions, diagnostics: DiagnosticsCollector): ExtractedCall[] {
  const raws = readCandidates(tree, diagnostics);
  const kept = deduplicate(raws, diagnostics);
  const excludeInsideRewards = options.excludeCallsInsideRewards !== false;
  const matches = agentMatcher(options.agents);
  const calls: ExtractedCall[] = [];
  for (const { primary, others } of kept) {
    const agentName = primary.ownAgent ?? firstDefined(others, (o) => o.ownAgent) ?? enclosingAgent(primary.node);
    const insideReward = isInsideReward(primary.node);
    const promptSource = primary.promptMessages !== undefined ? primary : (others.find((o) => o.promptMessages !== undefined) ?? primary);
    const promptTokenIds = primary.promptTokenIds ?? firstDefined(others, (o) => o.promptTokenIds);
    const text = checkText(promptSource, primary, promptTokenIds);
    let exclusion: CallExclusion | undefined;
    if (insideReward && excludeInsideRewards) exclusion = "inside_reward";
    else if (matches !== undefined && agentName === undefined) exclusion = "no_agent_name";
    else if (matches !== undefined && !matches(agentName!)) exclusion = "agent_not_selected";
    else if (text.unreadable.length > 0 && !text.exactTokens) exclusion = "unreadable_message";
    report(diagnostics, primary.node.spanId, exclusion, agentName, text);
    calls.push({
      callId: primary.node.spanId,
      node: primary.node,
      aliases: [...new Set([...others.map((o) => o.node.spanId), ...wrapperIds(primary.node)])],
      responseId: primary.responseId,
      position: calls.length,
      agentName,
      model: primary.model ?? firstDefined(others, (o) => o.model),
      promptMessages: promptSource.promptMessages,
      tools: primary.tools ?? firstDefined(others, (o) => o.tools),
      promptTokenIds,
      choices: primary.choices,
      policyVersion: primary.policyVersion ?? firstDefined(others, (o) => o.policyVersion),
      sampling: primary.sampling ?? firstDefined(others, (o) => o.sampling),
      usage: primary.usage ?? firstDefined(others, (o) => o.usage),
      insideReward,
      selected: exclusion === undefined,
      exclusion,
      toolUses: [],
      messageProblems: text.problems,
    });
  }
  attachToolUses(tree, calls);
  return calls;
}

/** Says why a call is not training data, or — when it is, but not as text — that it is no chat record. */
function report(diagnostics: DiagnosticsCollector, callId: string, exclusion: CallExclusion | undefined, agentName: string | undefined, text: TextCheck): void {
  if (exclusion !== undefined) diagnostics.drop(callId, exclusion, exclusionDetail(exclusion, agentName, text));
  else if (text.problems.length > 0) {
    diagnostics.warn(`call ${callId}: ${text.problems.join("; ")} — left out of chat records${text.unreadable.length > 0 ? ", kept as a token sample (exact token ids)" : ""}`);
  }
}

function exclusionDetail(exclusion: CallExclusion, agentName: string | undefined, text: TextCheck): string {
  if (exclusion === "unreadable_message") return `${text.problems.join("; ")} — the call is not training data`;
  if (exclusion === "inside_reward") return "the call ran inside a reward span (an LLM judge is not the policy)";
  if (exclusion === "no_agent_name") return "agents were selected and the call has no agent name";
  return `agent '${agentName}' is not selected`;
}

function firstDefined<T, V>(items: readonly T[], get: (item: T) => V | undefined): V | undefined {
  for (const item of items) {
    const value = get(item);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** What is wrong with a call's messages as text. */
interface TextCheck {
  /**
   * Why they do not say what the model saw or wrote: what the conversion of another
   * instrumentation's content left out, and messages with nothing in them — each with its
   * attribute and place, so the fix is findable.
   */
  unreadable: string[];
  /** `unreadable`, and a prompt not recorded at all: nothing recorded is not wrong text, but a chat record needs its prompt. */
  problems: string[];
  /** Exact prompt and response token ids: token samples do not need the text. */
  exactTokens: boolean;
}

function checkText(promptSource: Raw, primary: Raw, promptTokenIds: number[] | undefined): TextCheck {
  const prompt = promptSource.promptMessages ?? [];
  const unreadable = promptSource === primary ? [...primary.contentIssues] : [...promptSource.contentIssues, ...primary.contentIssues];
  for (const [i, m] of prompt.entries()) if (isEmptyMessage(m)) unreadable.push(`${Attr.inputMessages}: message ${i} (${m.role}) has no text, tool call or media`);
  for (const [i, c] of primary.choices.entries()) if (c.message !== undefined && isEmptyMessage(c.message)) unreadable.push(`${Attr.outputMessages}: message ${i} (${c.message.role}) has no text, tool call or media`);
  const problems = prompt.length === 0 ? [...unreadable, `${Attr.inputMessages}: no prompt message was recorded`] : unreadable;
  return { unreadable, problems, exactTokens: promptTokenIds !== undefined && primary.choices.every((c) => c.tokenIds !== undefined) };
}

/** A message with nothing a model could have read or written (a tool's empty output is an answer, not nothing). */
function isEmptyMessage(message: ChatMessage): boolean {
  if (message.role === "tool" || (message.tool_calls !== undefined && message.tool_calls.length > 0) || message.function_call !== undefined) return false;
  const content = message.content;
  if (content === undefined || content === null) return true;
  if (typeof content === "string") return content.length === 0;
  return content.every((part) => part === "" || (typeof part === "object" && part !== null && !Array.isArray(part) && part.type === "text" && (part.text === "" || part.text === undefined)));
}

/** Reads every call span; drops wrappers, failed calls and calls without a response. */
function readCandidates(tree: SpanTree, diagnostics: DiagnosticsCollector): Raw[] {
  const usable: Raw[] = [];
  for (const node of tree.nodes) {
    const span = node.span!;
    if (node.type === SpanTypes.llmRun) {
      const by = span.attributes?.[Attr.recordedBy];
      diagnostics.drop(node.spanId, "wrapper_call", `a framework's record of a call that ${typeof by === "string" ? `the ${by} layer` : "a lower layer"} recorded in full`);
      continue;
    }
    if (node.type !== SpanTypes.llm) continue;
    if (span.status?.code === "error") {
      const type = span.attributes?.[Attr.errorType];
      diagnostics.drop(node.spanId, "failed_call", `the call failed${typeof type === "string" ? ` (${type})` : ""}${span.status.message ? `: ${span.status.message}` : ""}`);
      continue;
    }
    const raw = readCall(node, diagnostics);
    if (raw.choices.length === 0) {
      diagnostics.drop(node.spanId, "no_response", `the call recorded no output message and no response token ids${isFromOtelInstrumentation(span) ? CAPTURE_HINT : ""}`);
      continue;
    }
    usable.push(raw);
  }
  // A call span with another call beneath it wraps that call (a layer the tracer did not mark).
  const bySpan = new Map<SpanNode, Raw>(usable.map((r) => [r.node, r]));
  for (const raw of usable) {
    for (let p = raw.node.parent; p !== undefined; p = p.parent) {
      const outer = bySpan.get(p);
      if (outer !== undefined) outer.hasCallBelow = true;
    }
  }
  return usable;
}

function readCall(node: SpanNode, diagnostics: DiagnosticsCollector): Raw {
  const r = new AttributeReader(node.span!.attributes, node.spanId, diagnostics);
  const outputs = r.messages(Attr.outputMessages) ?? [];
  const finishReasons = r.has(Attr.responseFinishReasons) ? r.stringList(Attr.responseFinishReasons) : undefined;
  const tokenLists = r.tokenIdLists(Attr.responseTokenIds);
  const logprobLists = r.has(Attr.logprobs) ? r.numberLists(Attr.logprobs) : undefined;
  const count = Math.max(outputs.length, tokenLists?.length ?? 0);
  const choices: CallChoice[] = [];
  for (let i = 0; i < count; i++) {
    const choice: CallChoice = {};
    const output = outputs[i];
    if (output !== undefined) {
      const { finish_reason: finish, ...message } = output as ChatMessage & { finish_reason?: unknown };
      choice.message = message;
      if (typeof finish === "string") choice.finishReason = finish;
    }
    const reason = finishReasons?.[i];
    if (choice.finishReason === undefined && reason !== undefined) choice.finishReason = reason;
    const ids = tokenLists?.[i];
    if (ids !== undefined) choice.tokenIds = ids;
    const logprobs = logprobLists?.[i];
    if (logprobs !== undefined) {
      if (ids !== undefined && logprobs.length !== ids.length) {
        diagnostics.malformed(node.spanId, Attr.logprobs, `choice ${i} has ${logprobs.length} logprobs for ${ids.length} tokens`);
      } else {
        choice.logprobs = logprobs;
      }
    }
    if (choice.message !== undefined || choice.tokenIds !== undefined) choices.push(choice);
  }
  return {
    node,
    responseId: r.string(Attr.responseId),
    ownAgent: r.string(Attr.agentName) ?? r.string(Attr.genAiAgentName),
    model: r.string(Attr.responseModel) ?? r.string(Attr.requestModel),
    promptMessages: r.messages(Attr.inputMessages),
    tools: r.jsonArray(Attr.toolDefinitions),
    promptTokenIds: r.tokenIds(Attr.promptTokenIds),
    choices,
    policyVersion: r.policyVersion(Attr.policyVersion),
    sampling: samplingOf(r),
    usage: usageOf(r),
    contentIssues: r.has(Attr.contentIssues) ? (r.stringList(Attr.contentIssues) ?? []).filter((line) => line !== undefined) : [],
    hasCallBelow: false,
  };
}

/** Why a call from another instrumentation so often has no messages. */
const CAPTURE_HINT =
  " — OTel GenAI instrumentations record message content on spans only when asked to (OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_only; older ones send content to log events, which trace ingest does not receive)";

function samplingOf(r: AttributeReader): SamplingSettings | undefined {
  const sampling: SamplingSettings = {};
  const temperature = r.finiteNumber(Attr.requestTemperature);
  const topP = r.finiteNumber(Attr.requestTopP);
  const topK = r.finiteNumber(Attr.requestTopK);
  if (temperature !== undefined) sampling.temperature = temperature;
  if (topP !== undefined) sampling.topP = topP;
  if (topK !== undefined) sampling.topK = topK;
  return Object.keys(sampling).length === 0 ? undefined : sampling;
}

function usageOf(r: AttributeReader): CallUsage | undefined {
  const inputTokens = r.finiteNumber(Attr.usageInputTokens);
  const outputTokens = r.finiteNumber(Attr.usageOutputTokens);
  return inputTokens === undefined && outputTokens === undefined ? undefined : { inputTokens: inputTokens ?? 0, outputTokens: outputTokens ?? 0 };
}

/** How much exact data a record of a call holds: the record kept is the richest. */
function richness(raw: Raw): number {
  const first = raw.choices[0];
  return (first?.tokenIds !== undefined ? 4 : 0) + (raw.promptTokenIds !== undefined ? 2 : 0) + (first?.logprobs !== undefined ? 1 : 0);
}

function depth(node: SpanNode): number {
  let d = 0;
  for (let p = node.parent; p !== undefined; p = p.parent) d++;
  return d;
}

/** Groups records of one call (same response id) and picks the one to keep; wrappers are dropped. */
function deduplicate(raws: readonly Raw[], diagnostics: DiagnosticsCollector): Array<{ primary: Raw; others: Raw[] }> {
  const groups = new Map<string, Raw[]>();
  const out: Array<{ primary: Raw; others: Raw[] }> = [];
  for (const raw of raws) {
    if (raw.responseId === undefined) {
      if (raw.hasCallBelow) {
        diagnostics.drop(raw.node.spanId, "wrapper_call", "an LLM span without a response id around another recorded call");
        continue;
      }
      out.push({ primary: raw, others: [] });
      continue;
    }
    const group = groups.get(raw.responseId);
    if (group === undefined) {
      const entry = { primary: raw, others: [] as Raw[] };
      groups.set(raw.responseId, entry.others);
      out.push(entry);
    }
    group?.push(raw);
  }
  for (const entry of out) {
    if (entry.others.length === 0) continue;
    const all = [entry.primary, ...entry.others];
    let best = all[0]!;
    for (const candidate of all.slice(1)) {
      const byData = richness(candidate) - richness(best);
      if (byData > 0 || (byData === 0 && (isDescendant(candidate.node, best.node) || (!isDescendant(best.node, candidate.node) && depth(candidate.node) > depth(best.node))))) best = candidate;
    }
    entry.primary = best;
    entry.others = all.filter((r) => r !== best);
    for (const other of entry.others) {
      diagnostics.drop(other.node.spanId, "duplicate_call", `another record of call ${best.responseId} (kept: span ${best.node.spanId})`);
    }
  }
  // Keep call order: a group is placed where its kept record is.
  out.sort((a, b) => a.primary.node.order - b.primary.node.order);
  return out;
}

/** Wrapper spans directly around a call (`llm_run`, or an LLM span dropped as a wrapper). */
function wrapperIds(node: SpanNode): string[] {
  const ids: string[] = [];
  for (let p = node.parent; p !== undefined && (p.type === SpanTypes.llmRun || p.type === SpanTypes.llm); p = p.parent) ids.push(p.spanId);
  return ids;
}

/** The nearest enclosing agent's name, for calls that do not carry one. */
function enclosingAgent(node: SpanNode): string | undefined {
  for (let p = node.parent; p !== undefined; p = p.parent) {
    if (p.span === undefined) continue;
    // Not reported here: the span's own malformed values are not this call's problem.
    const r = new AttributeReader(p.span.attributes, p.spanId, undefined);
    const name = p.type === SpanTypes.agent ? (r.string(Attr.genAiAgentName) ?? r.string(Attr.agentName)) : r.string(Attr.agentName);
    if (name !== undefined) return name;
  }
  return undefined;
}

function isInsideReward(node: SpanNode): boolean {
  for (let p = node.parent; p !== undefined; p = p.parent) {
    if (p.type === SpanTypes.reward || (p.type === undefined && p.span?.name === SpanNames.reward)) return true;
  }
  return false;
}

/** A predicate for the `agents` option (a RegExp's `g`/`y` state is never used: matching must not depend on history). */
/** A test of agent names for an `agents` selection (exact names, or a RegExp); `undefined` selects every agent. */
export function agentMatcher(agents: CallSelectionOptions["agents"]): ((name: string) => boolean) | undefined {
  if (agents === undefined) return undefined;
  if (agents instanceof RegExp) {
    const re = new RegExp(agents.source, agents.flags.replace(/[gy]/g, ""));
    return (name) => re.test(name);
  }
  const names = new Set(agents);
  return (name) => names.has(name);
}
