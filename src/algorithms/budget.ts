/**
 * What an optimizer run (APO, GEPA) may spend, and what it has spent: rollouts, optimizer tokens (counted with the
 * o200k tokenizer, whatever the server reports), and dollars — the optimizer's calls and the
 * agent's own LLM calls (from the token usage its spans recorded), priced per model. A run asks
 * before each step whether it still fits, so it stops at a limit rather than past it.
 */
import { type Price, costOf, priceOf } from "../adapters/index.js";
import { o200k } from "../util/index.js";

export { DEFAULT_PRICES, type Price } from "../adapters/index.js";

export interface BudgetLimits {
  maxRollouts?: number;
  maxOptimizerTokens?: number;
  maxUsd?: number;
}

export type BudgetLimit = "maxRollouts" | "maxOptimizerTokens" | "maxUsd";

export interface Spend {
  rollouts: number;
  optimizerTokens: { input: number; output: number };
  usd: { optimizer: number; rollouts: number; total: number };
  /** Models whose calls were priced at 0 because the price table does not know them. */
  unpricedModels: string[];
}

/** Tokens in `text` by the o200k tokenizer (GPT-4o and later). Loaded once, from the package, never the network. */
export function countTokens(text: string): number {
  return o200k().encode_ordinary(text).length;
}

export class Budget {
  private rollouts = 0;
  /** Rollouts set aside (for the final check) that the search may not spend. */
  private reserved = 0;
  private pricedRollouts = 0;
  /** Worst-case tokens and dollars of optimizer calls under way. */
  private inFlightTokens = 0;
  private inFlightUsd = 0;
  private inputTokens = 0;
  private outputTokens = 0;
  private optimizerUsd = 0;
  private rolloutUsd = 0;
  private readonly unpriced = new Set<string>();

  constructor(
    private readonly limits: BudgetLimits,
    private readonly prices: Readonly<Record<string, Price>>,
  ) {}

  /**
   * Sets `rollouts` aside for later (the final check): until {@link release}, the other checks
   * treat them — and what they will likely cost, at the mean price of the rollouts so far — as spent.
   */
  reserve(rollouts: number): void {
    this.reserved = rollouts;
  }

  release(): void {
    this.reserved = 0;
  }

  /** The first limit that `rollouts` more rollouts would pass, if any. */
  wouldExceedRollouts(rollouts: number): BudgetLimit | undefined {
    if (this.limits.maxRollouts !== undefined && this.rollouts + this.reserved + rollouts > this.limits.maxRollouts) return "maxRollouts";
    if (this.limits.maxUsd !== undefined && this.totalUsd() + this.meanRolloutUsd() * (this.reserved + rollouts) > this.limits.maxUsd) return "maxUsd";
    return undefined;
  }

  /**
   * Starts an optimizer call of this size (its prompt, and at most `maxOutput` tokens back), or
   * names the limit it would pass. Until {@link endOptimizerCall}, its worst case counts as spent,
   * so calls made at the same time cannot together pass a limit.
   */
  beginOptimizerCall(model: string, inputTokens: number, maxOutput: number): BudgetLimit | undefined {
    const tokens = inputTokens + maxOutput;
    if (this.limits.maxOptimizerTokens !== undefined && this.inputTokens + this.outputTokens + this.inFlightTokens + tokens > this.limits.maxOptimizerTokens) {
      return "maxOptimizerTokens";
    }
    const usd = this.cost(model, inputTokens, maxOutput);
    const reservedUsd = this.meanRolloutUsd() * this.reserved + this.inFlightUsd;
    if (this.limits.maxUsd !== undefined && this.totalUsd() + reservedUsd + usd > this.limits.maxUsd) return "maxUsd";
    this.inFlightTokens += tokens;
    this.inFlightUsd += usd;
    return undefined;
  }

  /** Ends a call {@link beginOptimizerCall} started; `call` is what it really spent (absent if it failed before an answer). */
  endOptimizerCall(started: { model: string; inputTokens: number; maxOutput: number }, call: { model: string; inputTokens: number; outputTokens: number } | undefined): void {
    this.inFlightTokens -= started.inputTokens + started.maxOutput;
    this.inFlightUsd -= this.cost(started.model, started.inputTokens, started.maxOutput);
    if (call) this.addOptimizerCall(call);
  }

  private meanRolloutUsd(): number {
    return this.pricedRollouts === 0 ? 0 : this.rolloutUsd / this.pricedRollouts;
  }

  addRollouts(count: number): void {
    this.rollouts += count;
  }

  /** The agent's LLM calls of one finished rollout, by the usage its spans recorded. */
  addRolloutUsage(calls: ReadonlyArray<{ model: string; inputTokens: number; outputTokens: number }>): void {
    this.pricedRollouts++;
    for (const call of calls) this.rolloutUsd += this.cost(call.model, call.inputTokens, call.outputTokens);
  }

  /** An optimizer call made — or, when a resumed run reuses a candidate, the calls that made it. */
  addOptimizerCall(call: { model: string; inputTokens: number; outputTokens: number }): void {
    this.inputTokens += call.inputTokens;
    this.outputTokens += call.outputTokens;
    this.optimizerUsd += this.cost(call.model, call.inputTokens, call.outputTokens);
  }

  private cost(model: string, inputTokens: number, outputTokens: number): number {
    const price = priceOf(this.prices, model);
    if (!price) {
      this.unpriced.add(model);
      return 0;
    }
    return costOf(price, inputTokens, outputTokens);
  }

  private totalUsd(): number {
    return this.optimizerUsd + this.rolloutUsd;
  }

  spend(): Spend {
    return {
      rollouts: this.rollouts,
      optimizerTokens: { input: this.inputTokens, output: this.outputTokens },
      usd: { optimizer: this.optimizerUsd, rollouts: this.rolloutUsd, total: this.totalUsd() },
      unpricedModels: [...this.unpriced],
    };
  }
}
