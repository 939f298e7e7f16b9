/**
 * OpenAI chat completions (`POST /chat/completions`): the request, the whole completion, and the
 * stream of `chat.completion.chunk`s. vLLM extensions: `prompt_token_ids` (top level of a
 * completion, or on the first chunk of a stream) and `choices[].token_ids` (whole, or one piece per
 * chunk); logprobs come as `logprobs.content[].logprob`.
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import { Operations } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../call.js";
import { PerChoiceAccumulator, TokenTrail } from "./accumulator.js";
import { choicesResponse, openAiRequest, toolCall } from "./common.js";
import { type Rec, asJson, byIndex, guarded, int, isRecord, list, str } from "./values.js";

/** A message object with its role filled in, as chat expects (a hand-written request may leave it out). */
function message(fields: Rec & { role: string }): ChatMessage {
  return fields as ChatMessage;
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
  return choicesResponse(body, (choice) => assistantMessage(choice.message));
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
