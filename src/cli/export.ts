/**
 * `tracetrain export`: reads ended rollouts and their trajectories (latest attempt's spans) from a
 * store, page by page, turns them into training records with the adapters, and writes JSONL.
 * The store reading and the writing live here; what the records are is the adapters' business.
 */
import { type ChatSample, chatSamplesOf } from "../adapters/index.js";
import type { CreditPolicy } from "../adapters/index.js";
import { type AdapterDiagnostics, type DiagnosticsSummary, summarizeDiagnostics } from "../adapters/index.js";
import { type ExportItem, filterForExport, hasUntrainedTurns, toHfChatRecord, toOpenAiChatRecord, toSftTokenRecord, toTokenRecord } from "../adapters/index.js";
import { type JsonlSink, writeJsonl } from "../adapters/index.js";
import { mergeTransitions } from "../adapters/index.js";
import { contextFromRollout } from "../adapters/index.js";
import { TraceAdapter } from "../adapters/index.js";
import { DEFAULT_PRICES, sumFigures, tokenFigures, tokensPerReward } from "../adapters/index.js";
import { type Store, spansOf } from "../store/index.js";
import type { MergedSample, Rollout, RolloutMode, TokenFigures } from "../types/index.js";

/**
 * The record formats: `chat`, OpenAI fine-tuning records; `hf`, Hugging Face `messages` (TRL's
 * conversational format); `tokens`, token samples for RL; `sft-tokens`, `input_ids` + `labels` for
 * SFT. The first two are built from chat samples, the last two from merged token samples.
 */
export const EXPORT_FORMATS = ["chat", "hf", "tokens", "sft-tokens"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const isChatFormat = (format: ExportFormat): format is "chat" | "hf" => format === "chat" || format === "hf";

/** What to export. */
export interface ExportOptions {
  format: ExportFormat;
  /** Rollout modes to read (default: all). */
  modes?: RolloutMode[] | undefined;
  /** Only these agents' calls. */
  agents?: string[] | undefined;
  /** Keep records whose reward is at least this. */
  minReward?: number | undefined;
  /** Keep the records of the k best rollouts (by final reward) of each task group. */
  topK?: number | undefined;
  credit?: CreditPolicy | undefined;
  /** Chat records per call or per conversation (default). */
  per?: "call" | "conversation" | undefined;
  maxLength?: number | undefined;
}

/** What an export did. */
export interface ExportSummary {
  rollouts: number;
  records: number;
  /** `hf` records holding assistant turns that are not trained on (`weight: 0` in OpenAI's format), which the Hugging Face format cannot mark. */
  untrainedTurnRecords: number;
  diagnostics: DiagnosticsSummary;
  /** What the LLM calls of the rollouts read spent (judges apart), from usage or counted. */
  tokens: TokenFigures;
  /** `tokens.total / records`: what one exported record cost to collect; null without records. */
  tokensPerRecord: number | null;
  /** Σ tokens / Σ final reward of the rollouts read; null when the rewards sum to ≤ 0. */
  tokensPerReward: number | null;
}

const ROLLOUT_PAGE = 100;

type Item = ExportItem & { record: unknown };

/**
 * Exports the store's succeeded rollouts (failed and cancelled ones are not training data) as
 * JSONL records to `out`. Without `topK` records stream out as rollouts are read; with it, they
 * are held until every rollout of every group has been ranked.
 */
export async function exportFromStore(store: Store, options: ExportOptions, out: JsonlSink): Promise<ExportSummary> {
  const adapter = new TraceAdapter({ agents: options.agents, credit: options.credit, chat: options.per, maxLength: options.maxLength });
  const diagnostics: AdapterDiagnostics[] = [];
  const rolloutRewards = new Map<string, number>();
  const held: Item[] = [];
  let rollouts = 0;
  let records = 0;
  const spent: TokenFigures[] = [];
  let rewardSum = 0;
  let untrainedTurnRecords = 0;

  for await (const rollout of succeededRollouts(store, options.modes)) {
    rollouts++;
    const context = contextFromRollout(rollout);
    if (context.finalReward !== undefined && context.finalReward !== null) rolloutRewards.set(rollout.rolloutId, context.finalReward);
    const [attempt] = adapter.attempts(await spansOf(store, rollout.rolloutId, "latest"), context);
    if (attempt === undefined) continue; // a rollout that recorded no span at all
    spent.push(tokenFigures(attempt.calls, DEFAULT_PRICES));
    rewardSum += context.finalReward ?? 0;
    let items: Item[];
    if (isChatFormat(options.format)) {
      diagnostics.push(attempt.diagnostics);
      const hf = options.format === "hf";
      items = chatSamplesOf(attempt, options.per ?? "conversation").map((s: ChatSample) => {
        if (hf && hasUntrainedTurns(s.record)) untrainedTurnRecords++;
        return { rolloutId: s.rolloutId, groupId: s.groupId, reward: s.reward, record: hf ? toHfChatRecord(s.record) : toOpenAiChatRecord(s.record) };
      });
    } else {
      const merged = mergeTransitions(attempt.trajectory.transitions, { maxLength: options.maxLength, credit: options.credit });
      const stats = merged.attempts[0];
      diagnostics.push(stats === undefined ? attempt.diagnostics : { ...attempt.diagnostics, merge: { ...stats } });
      items = merged.samples.map((s: MergedSample) => ({ rolloutId: s.rolloutId, groupId: s.groupId, reward: s.reward, record: options.format === "tokens" ? toTokenRecord(s) : toSftTokenRecord(s) }));
    }
    if (options.topK === undefined) {
      records += await writeJsonl(filterForExport(items, { minReward: options.minReward }).map((i) => i.record), out);
    } else {
      held.push(...items);
    }
  }
  if (options.topK !== undefined) {
    const kept = filterForExport(held, { minReward: options.minReward, topK: options.topK, rolloutReward: (id) => rolloutRewards.get(id) });
    records += await writeJsonl(kept.map((i) => i.record), out);
  }
  const tokens = sumFigures(spent);
  return { rollouts, records, untrainedTurnRecords, diagnostics: summarizeDiagnostics(diagnostics), tokens, tokensPerRecord: records === 0 ? null : tokens.total / records, tokensPerReward: tokensPerReward(tokens.total, rewardSum) };
}

/** Succeeded rollouts, oldest first, following the store's cursor. */
async function* succeededRollouts(store: Store, modes: RolloutMode[] | undefined): AsyncGenerator<Rollout> {
  let cursor: string | undefined;
  do {
    const page = await store.queryRollouts({ status: ["succeeded"], limit: ROLLOUT_PAGE, ...(modes && modes.length > 0 ? { mode: modes } : {}), ...(cursor ? { cursor } : {}) });
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/** One line for a person: what was exported and what was left out. */
export function describeExport(summary: ExportSummary, format: ExportOptions["format"]): string {
  const d = summary.diagnostics;
  // Second records of one call are not losses: the call is counted once. Say so apart.
  const counted = (["duplicate_call", "wrapper_call"] as const).reduce((n, reason) => n + (d.dropped[reason] ?? 0), 0);
  const dropped = Object.entries(d.dropped)
    .filter(([reason]) => reason !== "duplicate_call" && reason !== "wrapper_call")
    .map(([reason, n]) => `${reason.replaceAll("_", " ")} ${n}`)
    .join(", ");
  const merge = !isChatFormat(format) && d.mergeRatio !== null ? `; merge ratio ${d.mergeRatio.toFixed(2)} (${d.mismatches} mismatches)` : "";
  return (
    `exported ${summary.records} ${format} record(s) from ${summary.rollouts} rollout(s): ` +
    `${d.callsFound} LLM calls found${counted > 0 ? ` (${counted} more records of them counted once)` : ""}, ${d.callsSelected} selected, ${d.callsWithTokenIds} with token ids` +
    `${d.emptyAttempts > 0 ? `, ${d.emptyAttempts} rollout(s) gave nothing` : ""}${d.attemptsWithoutReward > 0 ? `, ${d.attemptsWithoutReward} without reward` : ""}${merge}` +
    `${dropped ? `; left out: ${dropped}` : ""}` +
    (summary.untrainedTurnRecords > 0
      ? `; ${summary.untrainedTurnRecords} hf record(s) hold assistant turns that are context, not targets (weight 0 in the chat format), which Hugging Face messages cannot mark: train on assistant turns with care, or use --format chat`
      : "") +
    `; ${describeTokens(summary)}`
  );
}

/** The export's token figures in words: totals, where they came from, cost, per record and per unit reward. */
function describeTokens(summary: ExportSummary): string {
  const t = summary.tokens;
  const sources = t.source === "mixed" ? `mixed: ${t.callsBySource.usage} calls with usage, ${t.callsBySource.counted} counted` : t.source;
  const cost = t.costUsd === null ? `cost unknown (no price for ${t.unpricedModels.join(", ")})` : `$${t.costUsd.toFixed(4)}`;
  const per = (x: number | null) => (x === null ? "n/a" : x.toFixed(1));
  return `tokens ${t.total} (${t.input} in, ${t.output} out; ${sources}), ${cost}, ${per(summary.tokensPerRecord)} per record, ${per(summary.tokensPerReward)} per unit reward${t.judge.calls > 0 ? `; judges ${t.judge.total} apart` : ""}`;
}
