/**
 * Folding a stream into the response it amounts to: the contract every API's accumulator meets,
 * and the bookkeeping they share — header fields, usage, prompt ids, the in-band error, token ids
 * and logprobs arriving in pieces, one state per choice for `choices[]` streams.
 */
import type { LlmChoice, LlmResponse } from "../call.js";
import { inputTokensOf, logprobsOf, outputTokensOf } from "./common.js";
import { type Rec, append, guarded, int, isRecord, list, str, tokenIds } from "./values.js";

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

export function streamError(payload: unknown, fallback: string): StreamError {
  const inner = isRecord(payload) && isRecord(payload.error) ? payload.error : payload;
  const message = isRecord(inner) ? (str(inner.message) ?? fallback) : (str(inner) ?? fallback);
  return { message, body: payload };
}

/** Shared state of the accumulators: header fields, usage, prompt ids, the error, and a guard. */
export abstract class BaseAccumulator implements StreamAccumulator {
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
export class TokenTrail {
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

/**
 * Streams of OpenAI-style chunks with `choices[]` (chat completions, legacy completions): the
 * shared bookkeeping — errors, header fields, one state per choice index, finish reasons, token ids
 * and logprobs arriving in pieces; subclasses say what else a choice delta carries.
 */
export abstract class PerChoiceAccumulator<S extends { finishReason: string | undefined; tokens: TokenTrail }> extends BaseAccumulator {
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
