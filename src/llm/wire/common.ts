/**
 * What more than one wire API shares: the fields of an OpenAI-style request, the whole response of
 * a `choices[]` API, usage counts, logprobs in either OpenAI shape, tool calls and content parts in
 * the chat shape.
 */
import type { ChatMessage, JsonValue } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../call.js";
import { type Rec, asJson, bool, guarded, int, isRecord, list, num, numbers, stopSequences, str, tokenIds } from "./values.js";

/**
 * A request with the fields every OpenAI-style request shares. Built as one literal, not by
 * spreading a partial: on this per-call path a spread costs microseconds.
 */
export function openAiRequest(operation: LlmRequest["operation"], body: Rec, maxTokens: number | undefined, choiceCount: number | undefined): LlmRequest {
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

/** A tool call in the chat shape (`{id?, type: "function", function: {name, arguments}}`). */
export function toolCall(id: string | undefined, name: string | undefined, args: string): JsonValue {
  const fn = { name: name ?? "", arguments: args };
  return id === undefined ? { type: "function", function: fn } : { id, type: "function", function: fn };
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
export function partsAsContent(parts: unknown[]): string | JsonValue[] {
  const converted: JsonValue[] = [];
  for (const part of parts) {
    const chat = chatPart(part);
    if (chat !== undefined) converted.push(chat);
  }
  const only = converted.length === 1 ? converted[0] : undefined;
  if (isRecord(only) && only.type === "text" && typeof only.text === "string") return only.text;
  return converted;
}

export function inputTokensOf(body: Rec): number | undefined {
  const usage = body.usage;
  return isRecord(usage) ? (num(usage.prompt_tokens) ?? num(usage.input_tokens)) : undefined;
}

export function outputTokensOf(body: Rec): number | undefined {
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

/**
 * A whole response of an API with `choices[]` (chat and legacy completions): each choice's message
 * as `message` reads it, with its finish reason, token ids and logprobs.
 */
export function choicesResponse(body: unknown, message: (choice: Rec) => ChatMessage): LlmResponse {
  return guarded(
    () => {
      if (!isRecord(body)) return { choices: [] };
      const choices = sortedChoices(body.choices);
      return {
        id: str(body.id),
        model: str(body.model),
        choices: choices.map((c): LlmChoice => ({ message: message(c), finishReason: str(c.finish_reason), tokenIds: tokenIds(c.token_ids), logprobs: logprobsOf(c.logprobs) })),
        inputTokens: inputTokensOf(body),
        outputTokens: outputTokensOf(body),
        // vLLM puts prompt ids at the top of a chat completion, and on each choice of a legacy one (a batch of prompts has several).
        promptTokenIds: tokenIds(body.prompt_token_ids) ?? tokenIds(choices[0]?.prompt_token_ids),
      };
    },
    () => ({ choices: [] }),
  );
}
