/**
 * OpenAI legacy completions (`POST /completions`): the request, the whole completion, and the
 * stream of `text_completion` chunks. vLLM puts `prompt_token_ids` on each choice (a batch of
 * prompts has several) and `choices[].token_ids` on each; logprobs come in the legacy shape
 * (`logprobs.token_logprobs`).
 */
import { Operations } from "../../types/index.js";
import type { LlmChoice, LlmRequest, LlmResponse } from "../call.js";
import { PerChoiceAccumulator, TokenTrail } from "./accumulator.js";
import { choicesResponse, openAiRequest } from "./common.js";
import { type Rec, byIndex, guarded, int, isRecord, str } from "./values.js";

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

/** A legacy completion: each choice's text is the assistant's message. */
export function completionResponse(body: unknown): LlmResponse {
  return choicesResponse(body, (choice) => ({ role: "assistant", content: str(choice.text) ?? "" }));
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
