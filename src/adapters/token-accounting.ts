/**
 * Token accounting: what the LLM calls of an attempt spent — input, output and total tokens, per
 * model, in USD — and whether the counts are the server's or ours.
 *
 * - A call's tokens are its server-reported usage (`gen_ai.usage.*`) when the span has it. Else
 *   they are counted: from the recorded token ids when the call has them (exact), else with the
 *   o200k tokenizer over the messages (an estimate: each message's text, tool calls and name, plus
 *   OpenAI's documented framing of {@link TOKENS_PER_MESSAGE} per message and
 *   {@link REPLY_PRIMING_TOKENS} for the reply). The figures say which (`source`, `callsBySource`).
 * - Each call counts once: calls are {@link ExtractedCall}s, already deduplicated across layers.
 * - Calls inside a reward span (an LLM judge) are not the policy's cost: they go to `judge`.
 * - A model the price table does not know makes the cost `null` and is named, never priced at 0.
 */
import type { ChatMessage, TokenCounts, TokenFigures, TokenSource } from "../types/index.js";
import { o200k } from "../util/index.js";
import type { ExtractedCall } from "./calls.js";
import { type Price, costOf, priceOf } from "./prices.js";

/** Framing tokens per chat message (role markers), as OpenAI documents for its chat models. */
export const TOKENS_PER_MESSAGE = 3;
/** Tokens that prime the assistant's reply in every chat request. */
export const REPLY_PRIMING_TOKENS = 3;

/** The model name used for a call that recorded none. */
export const UNKNOWN_MODEL = "unknown";

/** One call's tokens, and how they were obtained. */
export interface CallTokens {
  model: string;
  input: number;
  output: number;
  source: "usage" | "counted";
  /** Whether the call ran inside a reward span (a judge). */
  judge: boolean;
}

/** The tokens of one call: its reported usage, else counted (see the module note). */
export function callTokens(call: ExtractedCall): CallTokens {
  const model = call.model ?? UNKNOWN_MODEL;
  if (call.usage !== undefined) return { model, input: call.usage.inputTokens, output: call.usage.outputTokens, source: "usage", judge: call.insideReward };
  // A call whose prompt was not recorded at all has no input to count (not even the reply's priming).
  const input = call.promptTokenIds?.length ?? (call.promptMessages === undefined ? 0 : countMessageTokens(call.promptMessages) + REPLY_PRIMING_TOKENS);
  let output = 0;
  for (const choice of call.choices) {
    output += choice.tokenIds?.length ?? (choice.message === undefined ? 0 : countTextTokens(messageText(choice.message)));
  }
  return { model, input, output, source: "counted", judge: call.insideReward };
}

/** The o200k tokens of a prompt's messages, with the per-message framing. */
export function countMessageTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + TOKENS_PER_MESSAGE + countTextTokens(m.role) + countTextTokens(messageText(m)), 0);
}

/** Tokens in `text` by the o200k tokenizer. */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : o200k().encode_ordinary(text).length;
}

/** The text a model reads or writes for one message: its content's text parts, name, tool calls. */
function messageText(message: ChatMessage): string {
  const parts: string[] = [];
  if (typeof message.content === "string") parts.push(message.content);
  else if (Array.isArray(message.content)) {
    for (const part of message.content) {
      if (typeof part === "string") parts.push(part);
      else if (isRecord(part) && typeof part.text === "string") parts.push(part.text);
    }
  }
  if (message.name !== undefined) parts.push(message.name);
  for (const toolCall of message.tool_calls ?? []) {
    const fn = isRecord(toolCall) && isRecord(toolCall.function) ? toolCall.function : undefined;
    if (typeof fn?.name === "string") parts.push(fn.name);
    if (typeof fn?.arguments === "string") parts.push(fn.arguments);
  }
  return parts.join("\n");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The figures of one attempt's calls (judge calls apart), priced with `prices`. */
export function tokenFigures(calls: readonly ExtractedCall[], prices: Readonly<Record<string, Price>>): TokenFigures {
  return figuresOf(calls.map(callTokens), prices);
}

/** Figures of calls already counted. */
export function figuresOf(calls: readonly CallTokens[], prices: Readonly<Record<string, Price>>): TokenFigures {
  const policy = calls.filter((c) => !c.judge);
  const byModel: Record<string, TokenCounts> = {};
  const unpriced = new Set<string>();
  for (const model of new Set(policy.map((c) => c.model))) {
    byModel[model] = countsOf(policy.filter((c) => c.model === model), prices, unpriced);
  }
  const callsBySource = { usage: policy.filter((c) => c.source === "usage").length, counted: policy.filter((c) => c.source === "counted").length };
  const total = countsOf(policy, prices, unpriced);
  return { ...total, source: sourceOf(callsBySource), callsBySource, byModel, unpricedModels: [...unpriced].sort(), judge: countsOf(calls.filter((c) => c.judge), prices, new Set()) };
}

function countsOf(calls: readonly CallTokens[], prices: Readonly<Record<string, Price>>, unpriced: Set<string>): TokenCounts {
  let input = 0;
  let output = 0;
  let costUsd: number | null = 0;
  for (const call of calls) {
    input += call.input;
    output += call.output;
    const price = priceOf(prices, call.model);
    if (price === undefined) unpriced.add(call.model);
    costUsd = price === undefined || costUsd === null ? null : costUsd + costOf(price, call.input, call.output);
  }
  return { input, output, total: input + output, calls: calls.length, costUsd };
}

function sourceOf(calls: { usage: number; counted: number }): TokenSource {
  if (calls.usage + calls.counted === 0) return "none";
  if (calls.counted === 0) return "usage";
  return calls.usage === 0 ? "counted" : "mixed";
}

/** Figures with nothing in them: the start of a sum. */
export function emptyFigures(): TokenFigures {
  const zero = { input: 0, output: 0, total: 0, calls: 0, costUsd: 0 };
  return { ...zero, source: "none", callsBySource: { usage: 0, counted: 0 }, byModel: {}, unpricedModels: [], judge: { ...zero } };
}

/** The sum of several rollouts' figures (a step's, a run's): tokens add, a cost stays unknown once any part is. */
export function sumFigures(parts: readonly TokenFigures[]): TokenFigures {
  const sum = emptyFigures();
  const unpriced = new Set<string>();
  for (const part of parts) {
    addCounts(sum, part);
    addCounts(sum.judge, part.judge);
    sum.callsBySource.usage += part.callsBySource.usage;
    sum.callsBySource.counted += part.callsBySource.counted;
    for (const [model, counts] of Object.entries(part.byModel)) addCounts((sum.byModel[model] ??= { input: 0, output: 0, total: 0, calls: 0, costUsd: 0 }), counts);
    for (const model of part.unpricedModels) unpriced.add(model);
  }
  sum.source = sourceOf(sum.callsBySource);
  sum.unpricedModels = [...unpriced].sort();
  return sum;
}

function addCounts(into: TokenCounts, part: TokenCounts): void {
  into.input += part.input;
  into.output += part.output;
  into.total += part.total;
  into.calls += part.calls;
  into.costUsd = into.costUsd === null || part.costUsd === null ? null : into.costUsd + part.costUsd;
}

/**
 * Tokens per unit of reward: `tokens / reward`. Null when the reward is null or not positive — a
 * rollout that earned nothing has no finite price per unit, and a negative ratio would read as a
 * bargain. For a step or a run pass the sums (Σ tokens / Σ reward), not a mean of ratios.
 */
export function tokensPerReward(tokens: number, reward: number | null | undefined): number | null {
  return reward === null || reward === undefined || !(reward > 0) ? null : tokens / reward;
}
