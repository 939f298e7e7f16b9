/**
 * Anthropic messages (`POST /messages`): the request (system prompt, `tool_use` and `tool_result`
 * blocks as chat messages), the whole message, and the stream of message events. Stop reasons are
 * kept as Anthropic names them (`end_turn`, `tool_use`, …).
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import { Operations } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../call.js";
import { BaseAccumulator, streamError } from "./accumulator.js";
import { inputTokensOf, outputTokensOf, partsAsContent, toolCall } from "./common.js";
import { type Rec, asJson, bool, byIndex, guarded, int, isRecord, jsonText, list, num, stopSequences, str } from "./values.js";

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
