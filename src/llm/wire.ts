/**
 * Pure conversion of LLM wire payloads — OpenAI chat completions, legacy completions, the
 * Responses API and Anthropic messages, whole or streamed — into the one shape every layer records
 * ({@link LlmRequest} / {@link LlmResponse}). Both the openai SDK patch and the fetch wrapper use
 * these, so a call looks the same whichever layer saw it.
 *
 * Payloads come from servers and agents we do not control (vLLM, proxies, half-compatible
 * servers, hand-written requests), so nothing here trusts a field's type: every converter takes
 * `unknown`, keeps what it can recognise, skips the rest, and never throws.
 *
 * vLLM extensions: `prompt_token_ids` (top level of a chat completion, or per choice of a legacy
 * completion, or on the first chunk of a stream) and `choices[].token_ids` (whole, or one piece
 * per chunk). Logprobs come in the chat shape (`logprobs.content[].logprob`), the legacy shape
 * (`logprobs.token_logprobs`), or on Responses `output_text` parts (`logprobs[].logprob`).
 */
import type { ChatMessage, JsonValue } from "../types/index.js";
import { Operations } from "../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "./call.js";

/** The wire APIs this module understands. */
export type WireApi = "chat" | "completions" | "responses" | "anthropic";

/** Which API a request path belongs to (`…/chat/completions`, `…/completions`, `…/responses`, `…/messages`). */
export function wireApiOfPath(path: string): WireApi | undefined {
  if (path.endsWith("/chat/completions")) return "chat";
  if (path.endsWith("/completions")) return "completions";
  if (path.endsWith("/responses")) return "responses";
  if (path.endsWith("/messages")) return "anthropic";
  return undefined;
}

/** The `gen_ai.provider.name` of an API. */
export function providerOf(api: WireApi): string {
  return api === "anthropic" ? "anthropic" : "openai";
}

// ---------------------------------------------------------------------------------------------
// Narrowing helpers: each returns undefined for anything that is not what it expects
// ---------------------------------------------------------------------------------------------

type Rec = Record<string, unknown>;

function isRecord(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function int(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

function bool(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Token ids: an array of non-negative integers (an empty array counts: a choice may generate none). */
function tokenIds(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const id of value) if (typeof id !== "number" || !Number.isInteger(id) || id < 0) return undefined;
  return value as number[];
}

/** Numbers only, or undefined when any entry is not a finite number (a gap would misalign tokens). */
function numbers(values: unknown[]): number[] | undefined {
  const out: number[] = [];
  for (const value of values) {
    const n = num(value);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

function stopSequences(value: unknown): string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return undefined;
  const stops = value.filter((s): s is string => typeof s === "string");
  return stops.length > 0 ? stops : undefined;
}

/** Serialised JSON of any value, never throwing (cycles, BigInts). */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return String(value);
  }
}

/**
 * Runs a converter, falling back when a hostile payload still manages to throw (a getter that
 * throws, a Proxy): recording must never break the agent's call.
 */
function guarded<T>(fn: () => T, fallback: () => T): T {
  try {
    return fn();
  } catch {
    return fallback();
  }
}

/** Values from payloads go into span attributes, which convert anything safely on the way in. */
function asJson(value: unknown): JsonValue {
  return value as JsonValue;
}

function message(fields: Rec & { role: string }): ChatMessage {
  return fields as ChatMessage;
}

function toolCall(id: string | undefined, name: string | undefined, args: string): JsonValue {
  const fn = { name: name ?? "", arguments: args };
  return id === undefined ? { type: "function", function: fn } : { id, type: "function", function: fn };
}

/** Appends without spreading into arguments, which overflows the stack for very long lists. */
function append<T>(target: T[], values: readonly T[]): void {
  for (const value of values) target.push(value);
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** The request of any API, from its JSON body. */
export function requestFromBody(api: WireApi, body: unknown): LlmRequest {
  switch (api) {
    case "chat":
      return chatRequest(body);
    case "completions":
      return completionRequest(body);
    case "responses":
      return responsesRequest(body);
    case "anthropic":
      return anthropicRequest(body);
  }
}

/**
 * A request with the fields every OpenAI-style request shares. Built as one literal, not by
 * spreading a partial: on this per-call path a spread costs microseconds.
 */
function openAiRequest(operation: LlmRequest["operation"], body: Rec, maxTokens: number | undefined, choiceCount: number | undefined): LlmRequest {
  return {
    operation,
    provider: "openai",
    model: str(body.model),
    messages: undefined,
    prompt: undefined,
    tools: undefined,
    temperature: num(body.temperature),
    topP: num(body.top_p),
    maxTokens,
    choiceCount,
    stream: bool(body.stream),
    seed: int(body.seed),
    stop: stopSequences(body.stop),
  };
}

/** A chat completions request (`POST /chat/completions`). Messages are already in the chat format. */
export function chatRequest(body: unknown): LlmRequest {
  return guarded(
    () => {
      if (!isRecord(body)) return { operation: Operations.chat, provider: "openai" };
      const messages: ChatMessage[] = [];
      for (const m of list(body.messages)) {
        if (!isRecord(m)) continue;
        messages.push(typeof m.role === "string" ? (m as ChatMessage) : message({ ...m, role: "user" }));
      }
      const request = openAiRequest(Operations.chat, body, int(body.max_completion_tokens) ?? int(body.max_tokens), int(body.n));
      request.messages = messages;
      if (Array.isArray(body.tools)) request.tools = body.tools.map(asJson);
      return request;
    },
    () => ({ operation: Operations.chat, provider: "openai" }),
  );
}

/** A legacy completions request (`POST /completions`). A prompt given as token ids has no text to record. */
export function completionRequest(body: unknown): LlmRequest {
  return guarded(
    () => {
      if (!isRecord(body)) return { operation: Operations.textCompletion, provider: "openai" };
      const prompt = body.prompt;
      const prompts = Array.isArray(prompt) ? prompt.filter((p): p is string => typeof p === "string") : [];
      const request = openAiRequest(Operations.textCompletion, body, int(body.max_tokens), int(body.n));
      request.prompt = typeof prompt === "string" ? prompt : prompts.length > 0 ? prompts : undefined;
      return request;
    },
    () => ({ operation: Operations.textCompletion, provider: "openai" }),
  );
}

/** A Responses API request (`POST /responses`): `instructions` and `input` items become chat messages. */
export function responsesRequest(body: unknown): LlmRequest {
  return guarded(
    () => {
      if (!isRecord(body)) return { operation: Operations.chat, provider: "openai" };
      const messages: ChatMessage[] = [];
      const instructions = str(body.instructions);
      if (instructions !== undefined) messages.push({ role: "system", content: instructions });
      if (typeof body.input === "string") messages.push({ role: "user", content: body.input });
      else for (const item of list(body.input)) addResponsesInputItem(messages, item);
      const request = openAiRequest(Operations.chat, body, int(body.max_output_tokens), undefined);
      request.messages = messages;
      if (Array.isArray(body.tools)) request.tools = body.tools.map(responsesToolAsChatTool);
      return request;
    },
    () => ({ operation: Operations.chat, provider: "openai" }),
  );
}

function addResponsesInputItem(messages: ChatMessage[], item: unknown): void {
  if (!isRecord(item)) return;
  const type = item.type;
  if (type === "function_call") {
    const call = toolCall(str(item.call_id) ?? str(item.id), str(item.name), str(item.arguments) ?? jsonText(item.arguments));
    // Chat puts a turn's tool calls on its assistant message: join the calls to the message before.
    const last = messages[messages.length - 1];
    if (last?.role === "assistant") last.tool_calls = [...(last.tool_calls ?? []), call];
    else messages.push({ role: "assistant", content: null, tool_calls: [call] });
  } else if (type === "function_call_output") {
    const output = item.output;
    messages.push({ role: "tool", tool_call_id: str(item.call_id) ?? "", content: typeof output === "string" ? output : partsAsContent(list(output)) });
  } else if ((type === undefined || type === "message") && typeof item.role === "string") {
    const content = item.content;
    messages.push({ role: item.role, content: typeof content === "string" ? content : partsAsContent(list(content)) });
  }
  // reasoning items, item references and built-in tool calls carry no chat turn
}

/** A Responses or Anthropic content part as a chat content part. */
function chatPart(part: unknown): JsonValue | undefined {
  if (typeof part === "string") return { type: "text", text: part };
  if (!isRecord(part)) return undefined;
  const text = str(part.text) ?? str(part.refusal);
  if (text !== undefined) return { type: "text", text };
  if (part.type === "input_image") {
    const url = str(part.image_url) ?? str(part.file_id);
    return url === undefined ? asJson(part) : { type: "image_url", image_url: { url } };
  }
  if (part.type === "image" && isRecord(part.source)) {
    const source = part.source;
    const url = source.type === "base64" ? `data:${str(source.media_type) ?? "image/*"};base64,${str(source.data) ?? ""}` : str(source.url);
    return url === undefined ? asJson(part) : { type: "image_url", image_url: { url } };
  }
  return asJson(part);
}

/** One text part becomes a plain string (what most chat messages hold); anything else stays a part list. */
function partsAsContent(parts: unknown[]): string | JsonValue[] {
  const converted: JsonValue[] = [];
  for (const part of parts) {
    const chat = chatPart(part);
    if (chat !== undefined) converted.push(chat);
  }
  const only = converted.length === 1 ? converted[0] : undefined;
  if (isRecord(only) && only.type === "text" && typeof only.text === "string") return only.text;
  return converted;
}

/** A Responses function tool (`{type, name, parameters}`) in the chat shape (`{type, function: {…}}`). */
function responsesToolAsChatTool(tool: unknown): JsonValue {
  if (!isRecord(tool) || tool.type !== "function" || isRecord(tool.function)) return asJson(tool);
  const { type: _type, ...fn } = tool;
  return { type: "function", function: asJson(fn) };
}

/** An Anthropic messages request (`POST /messages`). */
export function anthropicRequest(body: unknown): LlmRequest {
  return guarded(
    () => {
      if (!isRecord(body)) return { operation: Operations.chat, provider: "anthropic" };
      const messages: ChatMessage[] = [];
      const system = body.system;
      if (typeof system === "string") messages.push({ role: "system", content: system });
      else if (Array.isArray(system)) messages.push({ role: "system", content: partsAsContent(system) });
      for (const m of list(body.messages)) addAnthropicMessage(messages, m);
      return {
        operation: Operations.chat,
        provider: "anthropic",
        model: str(body.model),
        messages,
        tools: Array.isArray(body.tools) ? body.tools.map(anthropicToolAsChatTool) : undefined,
        temperature: num(body.temperature),
        topP: num(body.top_p),
        maxTokens: int(body.max_tokens),
        stream: bool(body.stream),
        stop: stopSequences(body.stop_sequences),
      };
    },
    () => ({ operation: Operations.chat, provider: "anthropic" }),
  );
}

/**
 * An Anthropic turn as chat messages: `tool_use` blocks become the assistant's `tool_calls`, and
 * each `tool_result` block its own `tool` message (chat has no tool results inside a user turn).
 */
function addAnthropicMessage(messages: ChatMessage[], m: unknown): void {
  if (!isRecord(m)) return;
  const role = str(m.role) ?? "user";
  if (!Array.isArray(m.content)) {
    messages.push({ role, content: str(m.content) ?? null });
    return;
  }
  const parts: unknown[] = [];
  const calls: JsonValue[] = [];
  for (const block of m.content) {
    if (isRecord(block) && block.type === "tool_use") {
      calls.push(toolCall(str(block.id), str(block.name), jsonText(block.input ?? {})));
    } else if (isRecord(block) && block.type === "tool_result") {
      const content = block.content;
      messages.push({ role: "tool", tool_call_id: str(block.tool_use_id) ?? "", content: typeof content === "string" ? content : partsAsContent(list(content)) });
    } else {
      parts.push(block);
    }
  }
  if (parts.length === 0 && calls.length === 0) return;
  const content = parts.length > 0 ? partsAsContent(parts) : null;
  messages.push(calls.length > 0 ? { role, content, tool_calls: calls } : { role, content });
}

function anthropicToolAsChatTool(tool: unknown): JsonValue {
  if (!isRecord(tool) || typeof tool.name !== "string" || tool.input_schema === undefined) return asJson(tool);
  return {
    type: "function",
    function: { name: tool.name, ...(typeof tool.description === "string" ? { description: tool.description } : {}), parameters: asJson(tool.input_schema) },
  };
}

// ---------------------------------------------------------------------------------------------
// Whole responses
// ---------------------------------------------------------------------------------------------

/** The response of any API, from its JSON body. */
export function responseFromBody(api: WireApi, body: unknown): LlmResponse {
  switch (api) {
    case "chat":
      return chatResponse(body);
    case "completions":
      return completionResponse(body);
    case "responses":
      return responsesResponse(body);
    case "anthropic":
      return anthropicResponse(body);
  }
}

function inputTokensOf(body: Rec): number | undefined {
  const usage = body.usage;
  return isRecord(usage) ? (num(usage.prompt_tokens) ?? num(usage.input_tokens)) : undefined;
}

function outputTokensOf(body: Rec): number | undefined {
  const usage = body.usage;
  return isRecord(usage) ? (num(usage.completion_tokens) ?? num(usage.output_tokens)) : undefined;
}

/** Choices in `index` order (servers send them in order, but nothing guarantees it). */
function sortedChoices(value: unknown): Rec[] {
  const choices = list(value).filter(isRecord);
  return choices.every((c, i) => c.index === undefined || c.index === i) ? choices : [...choices].sort((a, b) => (int(a.index) ?? 0) - (int(b.index) ?? 0));
}

/** Per-token logprobs in either OpenAI shape (chat `content[].logprob`, legacy `token_logprobs`). */
export function logprobsOf(logprobs: unknown): number[] | undefined {
  if (!isRecord(logprobs)) return undefined;
  if (Array.isArray(logprobs.token_logprobs)) return numbers(logprobs.token_logprobs);
  const entries = Array.isArray(logprobs.content) && logprobs.content.length > 0 ? logprobs.content : Array.isArray(logprobs.refusal) ? logprobs.refusal : logprobs.content;
  if (!Array.isArray(entries)) return undefined;
  return numbers(entries.map((e) => (isRecord(e) ? e.logprob : undefined)));
}

/** An assistant message as recorded: the chat fields that matter, without `null` clutter. */
function assistantMessage(m: unknown): ChatMessage {
  if (!isRecord(m)) return { role: "assistant", content: null };
  const content = m.content;
  const out: ChatMessage = { role: str(m.role) ?? "assistant", content: typeof content === "string" || Array.isArray(content) ? asJson(content) as string | JsonValue[] : null };
  if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0) out.tool_calls = m.tool_calls.map(asJson);
  if (typeof m.refusal === "string") out.refusal = m.refusal;
  const reasoning = str(m.reasoning_content) ?? str(m.reasoning);
  if (reasoning !== undefined) out.reasoning_content = reasoning;
  return out;
}

/** A chat completion. */
export function chatResponse(body: unknown): LlmResponse {
  return guarded(
    () => {
      if (!isRecord(body)) return { choices: [] };
      const choices = sortedChoices(body.choices);
      return {
        id: str(body.id),
        model: str(body.model),
        choices: choices.map(
          (c): LlmChoice => ({ message: assistantMessage(c.message), finishReason: str(c.finish_reason), tokenIds: tokenIds(c.token_ids), logprobs: logprobsOf(c.logprobs) }),
        ),
        inputTokens: inputTokensOf(body),
        outputTokens: outputTokensOf(body),
        promptTokenIds: tokenIds(body.prompt_token_ids) ?? tokenIds(choices[0]?.prompt_token_ids),
      };
    },
    () => ({ choices: [] }),
  );
}

/** A legacy completion: each choice's text is the assistant's message. */
export function completionResponse(body: unknown): LlmResponse {
  return guarded(
    () => {
      if (!isRecord(body)) return { choices: [] };
      const choices = sortedChoices(body.choices);
      return {
        id: str(body.id),
        model: str(body.model),
        choices: choices.map(
          (c): LlmChoice => ({
            message: { role: "assistant", content: str(c.text) ?? "" },
            finishReason: str(c.finish_reason),
            tokenIds: tokenIds(c.token_ids),
            logprobs: logprobsOf(c.logprobs),
          }),
        ),
        inputTokens: inputTokensOf(body),
        outputTokens: outputTokensOf(body),
        // vLLM puts a legacy completion's prompt ids on each choice; a batch of prompts has several.
        promptTokenIds: tokenIds(body.prompt_token_ids) ?? tokenIds(choices[0]?.prompt_token_ids),
      };
    },
    () => ({ choices: [] }),
  );
}

/** What a Responses output list amounts to as one assistant message. */
function responsesOutput(items: unknown[]): { message: ChatMessage; logprobs: number[] | undefined; calls: number } {
  let text = "";
  let refusal: string | undefined;
  let reasoning: string | undefined;
  let sawLogprobs = false;
  let logprobsValid = true;
  const logprobs: number[] = [];
  const calls: JsonValue[] = [];
  for (const item of items) {
    if (!isRecord(item)) continue;
    if (item.type === "message") {
      for (const part of list(item.content)) {
        if (!isRecord(part)) continue;
        if (part.type === "refusal" && typeof part.refusal === "string") refusal = (refusal ?? "") + part.refusal;
        if (typeof part.text !== "string") continue;
        text += part.text;
        if (Array.isArray(part.logprobs) && part.logprobs.length > 0) {
          sawLogprobs = true;
          const values = numbers(part.logprobs.map((e) => (isRecord(e) ? e.logprob : undefined)));
          if (values === undefined) logprobsValid = false;
          else append(logprobs, values);
        }
      }
    } else if (item.type === "function_call") {
      calls.push(toolCall(str(item.call_id) ?? str(item.id), str(item.name), str(item.arguments) ?? jsonText(item.arguments)));
    } else if (item.type === "reasoning") {
      for (const part of [...list(item.summary), ...list(item.content)]) {
        if (isRecord(part) && typeof part.text === "string") reasoning = (reasoning ?? "") + part.text;
      }
    }
  }
  const out: ChatMessage = { role: "assistant", content: text === "" && calls.length > 0 ? null : text };
  if (calls.length > 0) out.tool_calls = calls;
  if (refusal !== undefined) out.refusal = refusal;
  if (reasoning !== undefined) out.reasoning_content = reasoning;
  return { message: out, logprobs: sawLogprobs && logprobsValid ? logprobs : undefined, calls: calls.length };
}

/** The Responses API has no finish reason; derive the chat one from the status. */
function responsesFinishReason(body: Rec, calls: number): string | undefined {
  switch (body.status) {
    case "completed":
      return calls > 0 ? "tool_calls" : "stop";
    case "incomplete": {
      const reason = isRecord(body.incomplete_details) ? str(body.incomplete_details.reason) : undefined;
      return reason === "max_output_tokens" ? "length" : (reason ?? "incomplete");
    }
    case "failed":
      return "error";
    default:
      return str(body.status);
  }
}

/** A Responses API response object. */
export function responsesResponse(body: unknown): LlmResponse {
  return guarded(
    () => {
      if (!isRecord(body)) return { choices: [] };
      const output = responsesOutput(list(body.output));
      return {
        id: str(body.id),
        model: str(body.model),
        choices: [{ message: output.message, finishReason: responsesFinishReason(body, output.calls), logprobs: output.logprobs }],
        inputTokens: inputTokensOf(body),
        outputTokens: outputTokensOf(body),
        promptTokenIds: tokenIds(body.prompt_token_ids),
      };
    },
    () => ({ choices: [] }),
  );
}

/** An Anthropic message. Stop reasons are kept as Anthropic names them (`end_turn`, `tool_use`, …). */
export function anthropicResponse(body: unknown): LlmResponse {
  return guarded(
    () => {
      if (!isRecord(body)) return { choices: [] };
      const blocks: AnthropicBlock[] = [];
      for (const block of list(body.content)) {
        if (!isRecord(block)) continue;
        blocks.push({ type: str(block.type), text: str(block.text) ?? str(block.thinking) ?? "", id: str(block.id), name: str(block.name), input: block.input, json: "" });
      }
      return {
        id: str(body.id),
        model: str(body.model),
        choices: [{ message: anthropicMessage(str(body.role), blocks), finishReason: str(body.stop_reason) }],
        inputTokens: inputTokensOf(body),
        outputTokens: outputTokensOf(body),
      };
    },
    () => ({ choices: [] }),
  );
}

interface AnthropicBlock {
  type: string | undefined;
  text: string;
  id: string | undefined;
  name: string | undefined;
  input: unknown;
  /** Streamed tool input (`input_json_delta` pieces). */
  json: string;
}

function anthropicMessage(role: string | undefined, blocks: AnthropicBlock[]): ChatMessage {
  let text = "";
  let thinking: string | undefined;
  const calls: JsonValue[] = [];
  for (const block of blocks) {
    if (block.type === "text") text += block.text;
    else if (block.type === "thinking") thinking = (thinking ?? "") + block.text;
    else if (block.type === "tool_use") calls.push(toolCall(block.id, block.name, block.json !== "" ? block.json : jsonText(block.input ?? {})));
  }
  const out: ChatMessage = { role: role ?? "assistant", content: text === "" && calls.length > 0 ? null : text };
  if (calls.length > 0) out.tool_calls = calls;
  if (thinking !== undefined) out.reasoning_content = thinking;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/** An error a stream reported in-band (an `error` event or chunk), after which it is over. */
export interface StreamError {
  message: string;
  body: unknown;
}

/**
 * Folds a stream's events, one at a time, into the response they amount to. `add` takes a parsed
 * event (an SDK chunk, or the JSON `data` of an SSE event with its `event` name) and ignores what
 * it does not recognise; `result()` may be called at any point, e.g. with what an interrupted
 * stream delivered so far.
 */
export interface StreamAccumulator {
  add(data: unknown, event?: string): void;
  /** Whether any event was recognised. */
  readonly received: boolean;
  /** Whether the events so far make a finished response (every choice has its finish reason). */
  readonly complete: boolean;
  /** The in-band error the stream reported, if any. */
  readonly error: StreamError | undefined;
  result(): LlmResponse;
}

export function createAccumulator(api: WireApi): StreamAccumulator {
  switch (api) {
    case "chat":
      return new ChatChunkAccumulator();
    case "completions":
      return new CompletionChunkAccumulator();
    case "responses":
      return new ResponsesEventAccumulator();
    case "anthropic":
      return new AnthropicEventAccumulator();
  }
}

function streamError(payload: unknown, fallback: string): StreamError {
  const inner = isRecord(payload) && isRecord(payload.error) ? payload.error : payload;
  const message = isRecord(inner) ? (str(inner.message) ?? fallback) : (str(inner) ?? fallback);
  return { message, body: payload };
}

/** Shared state of the accumulators: header fields, usage, prompt ids, the error, and a guard. */
abstract class BaseAccumulator implements StreamAccumulator {
  received = false;
  error: StreamError | undefined;
  protected id: string | undefined;
  protected model: string | undefined;
  protected inputTokens: number | undefined;
  protected outputTokens: number | undefined;
  protected promptTokenIds: number[] | undefined;

  add(data: unknown, event?: string): void {
    try {
      if (isRecord(data)) this.accept(data, event);
    } catch {
      // a hostile event is skipped; the stream keeps being recorded
    }
  }

  result(): LlmResponse {
    return guarded<LlmResponse>(
      () => ({ id: this.id, model: this.model, choices: this.choices(), inputTokens: this.inputTokens, outputTokens: this.outputTokens, promptTokenIds: this.promptTokenIds }),
      () => ({ id: this.id, model: this.model, choices: [] }),
    );
  }

  protected header(data: Rec): void {
    this.id ??= str(data.id);
    this.model ??= str(data.model);
    this.promptTokenIds ??= tokenIds(data.prompt_token_ids);
    this.inputTokens = inputTokensOf(data) ?? this.inputTokens;
    this.outputTokens = outputTokensOf(data) ?? this.outputTokens;
  }

  abstract get complete(): boolean;
  protected abstract accept(data: Rec, event: string | undefined): void;
  protected abstract choices(): LlmChoice[];
}

/** Token ids and logprobs arrive in pieces; a choice has them when any piece carried them. */
class TokenTrail {
  ids: number[] | undefined;
  logprobs: number[] | undefined;
  private logprobsBroken = false;

  addIds(value: unknown): void {
    const ids = tokenIds(value);
    if (ids !== undefined) append((this.ids ??= []), ids);
  }

  addLogprobs(value: unknown): void {
    if (value === null || value === undefined) return;
    const values = logprobsOf(value);
    if (values === undefined) this.logprobsBroken = true;
    else append((this.logprobs ??= []), values);
  }

  get validLogprobs(): number[] | undefined {
    return this.logprobsBroken ? undefined : this.logprobs;
  }
}

interface ToolCallState {
  id: string | undefined;
  name: string | undefined;
  arguments: string;
}

interface ChatChoiceState {
  role: string | undefined;
  content: string | undefined;
  refusal: string | undefined;
  reasoning: string | undefined;
  toolCalls: Map<number, ToolCallState>;
  finishReason: string | undefined;
  tokens: TokenTrail;
}

function byIndex<T>(map: Map<number, T>): T[] {
  return [...map.entries()].sort((a, b) => a[0] - b[0]).map(([, value]) => value);
}

/**
 * Streams of OpenAI-style chunks with `choices[]` (chat completions, legacy completions): the
 * shared bookkeeping — errors, header fields, one state per choice index, finish reasons, token ids
 * and logprobs arriving in pieces; subclasses say what else a choice delta carries.
 */
abstract class PerChoiceAccumulator<S extends { finishReason: string | undefined; tokens: TokenTrail }> extends BaseAccumulator {
  protected readonly states = new Map<number, S>();

  get complete(): boolean {
    return this.states.size > 0 && [...this.states.values()].every((s) => s.finishReason !== undefined);
  }

  protected accept(data: Rec): void {
    if (data.error !== undefined && data.error !== null) {
      this.error = streamError(data, "stream error");
      return;
    }
    this.received = true;
    this.header(data);
    for (const [position, choice] of list(data.choices).entries()) {
      if (!isRecord(choice)) continue;
      const index = int(choice.index) ?? position;
      let state = this.states.get(index);
      if (!state) this.states.set(index, (state = this.newState()));
      this.promptTokenIds ??= tokenIds(choice.prompt_token_ids);
      this.acceptChoice(state, choice);
      state.finishReason = str(choice.finish_reason) ?? state.finishReason;
      state.tokens.addIds(choice.token_ids);
      state.tokens.addLogprobs(choice.logprobs);
    }
  }

  protected abstract newState(): S;
  /** Folds what this kind of chunk carries for one choice (beyond finish reason and tokens) into its state. */
  protected abstract acceptChoice(state: S, choice: Rec): void;
}

/** Chat completion chunks (`chat.completion.chunk`). */
export class ChatChunkAccumulator extends PerChoiceAccumulator<ChatChoiceState> {
  protected newState(): ChatChoiceState {
    return { role: undefined, content: undefined, refusal: undefined, reasoning: undefined, toolCalls: new Map(), finishReason: undefined, tokens: new TokenTrail() };
  }

  protected acceptChoice(state: ChatChoiceState, choice: Rec): void {
    if (isRecord(choice.delta)) this.acceptDelta(state, choice.delta);
  }

  private acceptDelta(state: ChatChoiceState, delta: Rec): void {
    state.role ??= str(delta.role);
    const content = str(delta.content);
    if (content !== undefined) state.content = (state.content ?? "") + content;
    const refusal = str(delta.refusal);
    if (refusal !== undefined) state.refusal = (state.refusal ?? "") + refusal;
    const reasoning = str(delta.reasoning_content) ?? str(delta.reasoning);
    if (reasoning !== undefined) state.reasoning = (state.reasoning ?? "") + reasoning;
    for (const [position, call] of list(delta.tool_calls).entries()) {
      if (!isRecord(call)) continue;
      const index = int(call.index) ?? position;
      let tool = state.toolCalls.get(index);
      if (!tool) {
        tool = { id: undefined, name: undefined, arguments: "" };
        state.toolCalls.set(index, tool);
      }
      tool.id ??= str(call.id);
      const fn = call.function;
      if (isRecord(fn)) {
        tool.name ??= str(fn.name);
        tool.arguments += str(fn.arguments) ?? "";
      }
    }
  }

  protected choices(): LlmChoice[] {
    return byIndex(this.states).map((state) => {
      const calls = byIndex(state.toolCalls).map((c) => toolCall(c.id, c.name, c.arguments));
      const content = state.content ?? "";
      const out: ChatMessage = { role: state.role ?? "assistant", content: content === "" && calls.length > 0 ? null : content };
      if (calls.length > 0) out.tool_calls = calls;
      if (state.refusal !== undefined) out.refusal = state.refusal;
      if (state.reasoning !== undefined) out.reasoning_content = state.reasoning;
      return { message: out, finishReason: state.finishReason, tokenIds: state.tokens.ids, logprobs: state.tokens.validLogprobs };
    });
  }
}

interface CompletionChoiceState {
  text: string;
  finishReason: string | undefined;
  tokens: TokenTrail;
}

/** Legacy completion chunks (`text_completion`). */
export class CompletionChunkAccumulator extends PerChoiceAccumulator<CompletionChoiceState> {
  protected newState(): CompletionChoiceState {
    return { text: "", finishReason: undefined, tokens: new TokenTrail() };
  }

  protected acceptChoice(state: CompletionChoiceState, choice: Rec): void {
    state.text += str(choice.text) ?? "";
  }

  protected choices(): LlmChoice[] {
    return byIndex(this.states).map((s) => ({
      message: { role: "assistant", content: s.text },
      finishReason: s.finishReason,
      tokenIds: s.tokens.ids,
      logprobs: s.tokens.validLogprobs,
    }));
  }
}

interface ResponsesItemState {
  /** The finished item (`response.output_item.done`), or the item as announced and then built from deltas. */
  item: Rec;
  text: string;
  arguments: string;
  logprobs: unknown[];
  done: boolean;
}

/**
 * Responses API events. The terminal event (`response.completed` / `.incomplete` / `.failed`)
 * carries the whole response; the deltas before it are kept so an interrupted stream still
 * records what arrived.
 */
export class ResponsesEventAccumulator extends BaseAccumulator {
  private readonly items = new Map<number, ResponsesItemState>();
  private final: Rec | undefined;

  get complete(): boolean {
    return this.final !== undefined;
  }

  protected accept(data: Rec, event: string | undefined): void {
    const type = str(data.type) ?? event;
    if (type === undefined) return;
    if (type === "error") {
      this.error = streamError(data, "stream error");
      return;
    }
    this.received = true;
    const response = data.response;
    if (isRecord(response)) {
      this.header(response);
      if (type === "response.completed" || type === "response.incomplete" || type === "response.failed") this.final = response;
      if (type === "response.failed") this.error = streamError(response, "response failed");
      return;
    }
    const index = int(data.output_index);
    if (index === undefined) return;
    let state = this.items.get(index);
    if (type === "response.output_item.added" || type === "response.output_item.done") {
      const item = isRecord(data.item) ? data.item : {};
      if (!state) {
        state = { item, text: "", arguments: "", logprobs: [], done: false };
        this.items.set(index, state);
      }
      state.item = item;
      state.done = type === "response.output_item.done";
      return;
    }
    if (!state) {
      state = { item: {}, text: "", arguments: "", logprobs: [], done: false };
      this.items.set(index, state);
    }
    if (type === "response.output_text.delta" || type === "response.refusal.delta") {
      state.text += str(data.delta) ?? "";
      append(state.logprobs, list(data.logprobs));
    } else if (type === "response.function_call_arguments.delta") {
      state.arguments += str(data.delta) ?? "";
    }
  }

  protected choices(): LlmChoice[] {
    const final = this.final;
    if (final && Array.isArray(final.output) && final.output.length > 0) return responsesResponse(final).choices;
    const items = byIndex(this.items).map((s): Rec => {
      if (s.done) return s.item;
      if (s.item.type === "function_call") return { ...s.item, arguments: s.arguments };
      return { type: "message", role: "assistant", content: [{ type: "output_text", text: s.text, logprobs: s.logprobs }] };
    });
    const output = responsesOutput(items);
    return [{ message: output.message, finishReason: final ? responsesFinishReason(final, output.calls) : undefined, logprobs: output.logprobs }];
  }
}

/** Anthropic message stream events. */
export class AnthropicEventAccumulator extends BaseAccumulator {
  private role: string | undefined;
  private stopReason: string | undefined;
  private readonly blocks = new Map<number, AnthropicBlock>();

  get complete(): boolean {
    return this.stopReason !== undefined;
  }

  protected accept(data: Rec, event: string | undefined): void {
    const type = str(data.type) ?? event;
    switch (type) {
      case "message_start": {
        this.received = true;
        if (!isRecord(data.message)) return;
        this.header(data.message);
        this.role = str(data.message.role);
        return;
      }
      case "content_block_start": {
        this.received = true;
        const index = int(data.index);
        const block = data.content_block;
        if (index === undefined || !isRecord(block)) return;
        this.blocks.set(index, { type: str(block.type), text: str(block.text) ?? str(block.thinking) ?? "", id: str(block.id), name: str(block.name), input: block.input, json: "" });
        return;
      }
      case "content_block_delta": {
        this.received = true;
        const block = this.blocks.get(int(data.index) ?? -1);
        const delta = data.delta;
        if (!block || !isRecord(delta)) return;
        block.text += str(delta.text) ?? str(delta.thinking) ?? "";
        block.json += str(delta.partial_json) ?? "";
        return;
      }
      case "message_delta": {
        this.received = true;
        if (isRecord(data.delta)) this.stopReason = str(data.delta.stop_reason) ?? this.stopReason;
        this.outputTokens = outputTokensOf(data) ?? this.outputTokens;
        this.inputTokens = inputTokensOf(data) ?? this.inputTokens;
        return;
      }
      case "error":
        this.error = streamError(data, "stream error");
        return;
      default:
      // ping, content_block_stop, message_stop: nothing to keep
    }
  }

  protected choices(): LlmChoice[] {
    if (this.blocks.size === 0 && this.stopReason === undefined) return [];
    return [{ message: anthropicMessage(this.role, byIndex(this.blocks)), finishReason: this.stopReason }];
  }
}
