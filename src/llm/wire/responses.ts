/**
 * The OpenAI Responses API (`POST /responses`): the request (`instructions` and `input` items as
 * chat messages), the response object, and the stream of `response.*` events. It has no finish
 * reason (one is derived from the status) and no token-id extension; logprobs come on
 * `output_text` parts (`logprobs[].logprob`).
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import { Operations } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../call.js";
import { BaseAccumulator, streamError } from "./accumulator.js";
import { inputTokensOf, openAiRequest, outputTokensOf, partsAsContent, toolCall } from "./common.js";
import { type Rec, append, asJson, byIndex, guarded, int, isRecord, jsonText, list, numbers, str, tokenIds } from "./values.js";

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

/** A Responses function tool (`{type, name, parameters}`) in the chat shape (`{type, function: {…}}`). */
function responsesToolAsChatTool(tool: unknown): JsonValue {
  if (!isRecord(tool) || tool.type !== "function" || isRecord(tool.function)) return asJson(tool);
  const { type: _type, ...fn } = tool;
  return { type: "function", function: asJson(fn) };
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
