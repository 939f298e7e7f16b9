/**
 * Calls to the optimizer model (APO's critiques and edits, GEPA's reflections), metered: each call is counted with the
 * tokenizer and priced before it is made, and refused — not made — when it would pass a budget.
 */
import type { Logger } from "../types/index.js";
import { randomFor } from "../util/index.js";
import { type Budget, type BudgetLimit, countTokens } from "./budget.js";

/**
 * What APO needs of an LLM client: the openai SDK's `chat.completions.create`, non-streaming. Any
 * OpenAI-compatible client object with that method works.
 */
export interface OptimizerClient {
  chat: {
    completions: {
      create(
        body: { model: string; messages: Array<{ role: "system" | "user"; content: string }>; temperature?: number; max_completion_tokens?: number; seed?: number },
        options?: { signal?: AbortSignal },
      ): PromiseLike<{ choices: Array<{ message: { content: string | null } }> }>;
    };
  };
}

/** One optimizer call as metered: what it cost. */
export interface MeteredCall {
  model: string;
  inputTokens: number;
  outputTokens: number;
}

export type OptimizerReply = { ok: true; text: string; call: MeteredCall } | { ok: false; stoppedBy: BudgetLimit };

/** Tokens a chat request spends beyond its text (role markers and framing), as OpenAI documents it. */
const MESSAGE_OVERHEAD_TOKENS = 7;

export class Optimizer {
  constructor(
    private readonly client: OptimizerClient,
    private readonly options: { temperature: number | undefined; maxOutputTokens: number },
    private readonly budget: Budget,
    private readonly logger: Logger,
  ) {}

  /** `seed` goes to the API (OpenAI's best-effort determinism): each child asks with its own, so a rerun asks alike. */
  async complete(model: string, prompt: string, signal: AbortSignal, seed: number): Promise<OptimizerReply> {
    const input = countTokens(prompt) + MESSAGE_OVERHEAD_TOKENS;
    const started = { model, inputTokens: input, maxOutput: this.options.maxOutputTokens };
    const limit = this.budget.beginOptimizerCall(model, input, this.options.maxOutputTokens);
    if (limit) return { ok: false, stoppedBy: limit };
    let call: MeteredCall | undefined;
    let text: string;
    try {
      const answer = await this.client.chat.completions.create(
        {
          model,
          messages: [{ role: "user", content: prompt }],
          ...(this.options.temperature === undefined ? {} : { temperature: this.options.temperature }),
          max_completion_tokens: this.options.maxOutputTokens,
          seed,
        },
        { signal },
      );
      text = answer.choices[0]?.message.content ?? "";
      call = { model, inputTokens: input, outputTokens: countTokens(text) };
    } finally {
      // A failed call may still have been billed; without an answer there is no count to charge, so it is not.
      this.budget.endOptimizerCall(started, call);
    }
    if (text.trim() === "") this.logger.warn(`the optimizer model '${model}' returned an empty answer`);
    return { ok: true, text, call: call! };
  }
}

/** The sampling seed of one optimizer call: fixed by the run's seed and the call's place in the run. */
export function callSeed(seed: number, label: string): number {
  return randomFor(seed, label).below(2 ** 31);
}
