/**
 * The one shape every layer describes an LLM call in: instrumentations and the gateway convert
 * what they see (an SDK call, raw HTTP, a framework run) to these, and the tracer records them, so
 * an LLM-call span looks the same whichever layer wrote it.
 *
 * Messages are OpenAI chat messages (`{role, content, tool_calls?, tool_call_id?, name?}`).
 */
import type { ChatMessage, JsonValue } from "../types/index.js";
import type { Operations } from "../types/index.js";

export interface LlmRequest {
  /** `chat` for chat-style APIs (chat completions, responses, messages), `text_completion` for legacy completions. */
  operation: typeof Operations.chat | typeof Operations.textCompletion;
  /** `openai`, `anthropic`, … (OTel `gen_ai.provider.name`). */
  provider?: string;
  model?: string;
  /** Chat messages sent (the system prompt included, as a `system` message). */
  messages?: ChatMessage[];
  /** For text completions: the prompt. */
  prompt?: string | string[];
  /** Tool definitions as sent (OpenAI function-tool shape where possible). */
  tools?: JsonValue[];
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  /** `n`: how many choices were asked for. */
  choiceCount?: number;
  stream?: boolean;
  seed?: number;
  stop?: string[];
  /** Where the request went, e.g. `/v1/chat/completions`, and the server. */
  endpoint?: string;
  serverAddress?: string;
  serverPort?: number;
}

export interface LlmChoice {
  message: ChatMessage;
  finishReason?: string;
  /** Exact token ids of this choice, when the engine returned them (vLLM `return_token_ids`). */
  tokenIds?: number[];
  /** Logprob of each generated token, aligned with the tokens. */
  logprobs?: number[];
}

export interface LlmResponse {
  id?: string;
  model?: string;
  choices: LlmChoice[];
  inputTokens?: number;
  outputTokens?: number;
  /** Exact prompt token ids, when the engine returned them. */
  promptTokenIds?: number[];
}
