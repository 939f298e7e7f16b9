/**
 * `TraceAdapter`: one object holding every adapter option, so a trainer or an algorithm carries a
 * single adapter and every output it makes — transitions, chat records, token samples,
 * diagnostics — is made the same way.
 */
import type { ChatRecord, MergedSample, TokenRecord, Trajectory, Transition } from "../types/index.js";
import type { CallSelectionOptions, ExtractedCall } from "./calls.js";
import { type ChatSample, chatSamplesOf } from "./chat-messages.js";
import { type CreditPolicy, finalCredit } from "./credit.js";
import type { AdapterDiagnostics } from "./diagnostics.js";
import type { RewardFeedback } from "./rewards.js";
import { toTokenRecord } from "./export-formats.js";
import { mergeTransitions } from "./merge.js";
import type { AdapterSpan, AttemptContextSource } from "./span-input.js";
import { type AdaptedAttempt, type AdapterOptions, adaptSpans } from "./transitions.js";

/** Everything a {@link TraceAdapter} can be told. */
export interface TraceAdapterOptions extends CallSelectionOptions {
  /** How rewards become one reward per call. Default {@link finalCredit}. */
  credit?: CreditPolicy | undefined;
  /** Chat records per call or per conversation (default). */
  chat?: "call" | "conversation" | undefined;
  /** Token samples never merge past this many tokens. */
  maxLength?: number | undefined;
  /** Called with each attempt's diagnostics as it is adapted, by every method (see {@link AdapterOptions.onDiagnostics}). */
  onDiagnostics?: AdapterOptions["onDiagnostics"];
}

/** What {@link TraceAdapter.adapt} returns. */
export interface AdaptResult {
  /** One per attempt. */
  trajectories: Trajectory[];
  /** Merged token samples of the calls that have token ids. */
  samples: MergedSample[];
  /** One per attempt, with merge statistics. */
  diagnostics: AdapterDiagnostics[];
  /** Every LLM call found, each once, selected or not (judges included): what token accounting counts. */
  calls: ExtractedCall[];
}

/** Adapter options bundled in one object. All methods are pure and accept spans of any number of attempts. */
export class TraceAdapter {
  readonly options: Readonly<TraceAdapterOptions>;

  constructor(options: TraceAdapterOptions = {}) {
    this.options = Object.freeze({ ...options });
  }

  /** The credit policy's name, as recorded in outputs. */
  get creditPolicy(): string {
    return (this.options.credit ?? finalCredit).name;
  }

  /** A copy with some options changed. */
  with(overrides: TraceAdapterOptions): TraceAdapter {
    return new TraceAdapter({ ...this.options, ...overrides });
  }

  /** Trajectories, token samples and diagnostics, in one pass. */
  adapt(spans: readonly AdapterSpan[], context?: AttemptContextSource): AdaptResult {
    const attempts = this.attempts(spans, context);
    const transitions = attempts.flatMap((a) => a.trajectory.transitions);
    const merged = mergeTransitions(transitions, { maxLength: this.options.maxLength, credit: this.options.credit });
    const stats = new Map(merged.attempts.map((m) => [`${m.rolloutId}\u0000${m.attemptId}`, m]));
    const diagnostics = attempts.map((a) => {
      const m = stats.get(`${a.rolloutId}\u0000${a.attemptId}`);
      if (m === undefined) return a.diagnostics;
      const { rolloutId: _r, attemptId: _a, ...merge } = m;
      return { ...a.diagnostics, merge };
    });
    return { trajectories: attempts.map((a) => a.trajectory), samples: merged.samples, diagnostics, calls: attempts.flatMap((a) => a.calls) };
  }

  /** The selected calls' transitions, attempt by attempt (see {@link toTransitions}). */
  toTransitions(spans: readonly AdapterSpan[], context?: AttemptContextSource): Transition[] {
    return this.attempts(spans, context).flatMap((a) => a.trajectory.transitions);
  }

  /** One trajectory per attempt. */
  toTrajectories(spans: readonly AdapterSpan[], context?: AttemptContextSource): Trajectory[] {
    return this.attempts(spans, context).map((a) => a.trajectory);
  }

  /** OpenAI fine-tuning records (see {@link toChatMessages}), per the `chat` option. */
  toChatMessages(spans: readonly AdapterSpan[], context?: AttemptContextSource): ChatRecord[] {
    return this.toChatSamples(spans, context).map((s) => s.record);
  }

  /** Chat records with their origin and reward (for export filters). */
  toChatSamples(spans: readonly AdapterSpan[], context?: AttemptContextSource): ChatSample[] {
    return this.attempts(spans, context).flatMap((a) => chatSamplesOf(a, this.options.chat ?? "conversation"));
  }

  /** Merged token samples of the calls with token ids (see {@link mergeTransitions}). */
  toMergedSamples(spans: readonly AdapterSpan[], context?: AttemptContextSource): MergedSample[] {
    return this.adapt(spans, context).samples;
  }

  /** Tokenized-JSONL records. */
  toTokenRecords(spans: readonly AdapterSpan[], context?: AttemptContextSource): TokenRecord[] {
    return this.toMergedSamples(spans, context).map(toTokenRecord);
  }

  /** Per-attempt diagnostics, merge statistics included. */
  diagnose(spans: readonly AdapterSpan[], context?: AttemptContextSource): AdapterDiagnostics[] {
    return this.adapt(spans, context).diagnostics;
  }

  /**
   * The rewards that came with the evaluator's feedback text (`emitReward(v, { feedback })`,
   * `withReward`), attempt by attempt in span order — what an optimizer reads to learn why a run
   * scored as it did.
   */
  feedback(spans: readonly AdapterSpan[], context?: AttemptContextSource): RewardFeedback[] {
    return this.attempts(spans, context).flatMap((a) => a.rewards.feedback);
  }

  /** The full per-attempt results (tree, calls, rewards) behind every output. */
  attempts(spans: readonly AdapterSpan[], context?: AttemptContextSource): AdaptedAttempt[] {
    const { agents, excludeCallsInsideRewards, credit, onDiagnostics } = this.options;
    const options: AdapterOptions = { agents, excludeCallsInsideRewards, credit, context, onDiagnostics };
    return adaptSpans(spans, options);
  }
}
