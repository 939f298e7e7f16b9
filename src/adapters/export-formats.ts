/**
 * Export formats: chat JSONL for SFT (OpenAI fine-tuning records, or Hugging Face `messages`:
 * chat-formats.ts), tokenized JSONL for RL (`prompt_ids`, `response_ids`, `response_mask`,
 * `logprobs`, `reward`, `rollout_id`, `group_id`, `policy_version`) and for SFT (`input_ids`,
 * `labels`), and the filters they share: a reward threshold and the top k rollouts of each group.
 * Pure: turning records into lines is here, writing them is the caller's.
 */
import { type ChatRecord, IGNORE_LABEL, type MergedSample, type SftTokenRecord, type TokenRecord } from "../types/index.js";
import type { ChatSample } from "./chat-messages.js";
import { toOpenAiChatRecord } from "./chat-formats.js";

/** The tokenized-JSONL record of a merged sample. */
export function toTokenRecord(sample: MergedSample): TokenRecord {
  return {
    prompt_ids: sample.promptIds,
    response_ids: sample.responseIds,
    response_mask: sample.responseMask,
    logprobs: sample.logprobs ?? null,
    reward: sample.reward ?? null,
    rollout_id: sample.rolloutId,
    group_id: sample.groupId ?? null,
    policy_version: sample.policyVersion ?? null,
  };
}

/**
 * The exact-token SFT record of a merged sample: `input_ids` = prompt + response, `labels` the
 * ids the model wrote (response mask 1) and −100 everywhere else — the prompt and the tokens
 * inserted between calls are context, not targets.
 */
export function toSftTokenRecord(sample: MergedSample): SftTokenRecord {
  return {
    input_ids: [...sample.promptIds, ...sample.responseIds],
    labels: [...sample.promptIds.map(() => IGNORE_LABEL), ...sample.responseIds.map((id, i) => (sample.responseMask[i] === 1 ? id : IGNORE_LABEL))],
    rollout_id: sample.rolloutId,
    group_id: sample.groupId ?? null,
    reward: sample.reward ?? null,
    policy_version: sample.policyVersion ?? null,
  };
}

/** The OpenAI fine-tuning record of a chat sample (tools in the function shape, arguments as JSON text). */
export function toChatRecord(sample: ChatSample): ChatRecord {
  return toOpenAiChatRecord(sample.record);
}

/** What the export filters read from an item (a chat sample or a merged sample). */
export interface ExportItem {
  rolloutId: string;
  groupId?: string | undefined;
  /** The item's own reward (under the credit policy). */
  reward?: number | undefined;
}

/** Export filters. */
export interface ExportFilter {
  /** Keep items whose reward is at least this (items without a reward are dropped). */
  minReward?: number | undefined;
  /**
   * Keep only the items of the `topK` best rollouts of each group, ranked by `rolloutReward`
   * (highest first; ties by rollout id; rollouts without a reward rank last). A rollout without a
   * group is a group of its own.
   */
  topK?: number | undefined;
  /** The outcome reward of each rollout, for `topK` (default: the best item reward of the rollout). */
  rolloutReward?: ((rolloutId: string) => number | undefined) | undefined;
}

/** Applies the filters, keeping the items' order. */
export function filterForExport<T extends ExportItem>(items: readonly T[], filter: ExportFilter): T[] {
  let kept = filter.minReward === undefined ? [...items] : items.filter((i) => i.reward !== undefined && i.reward >= filter.minReward!);
  if (filter.topK !== undefined) kept = topKPerGroup(kept, filter.topK, filter.rolloutReward ?? bestItemReward(items));
  return kept;
}

/** Items of the `k` best rollouts of each group (see {@link ExportFilter.topK}). */
export function topKPerGroup<T extends ExportItem>(items: readonly T[], k: number, rolloutReward: (rolloutId: string) => number | undefined): T[] {
  const groups = new Map<string, Set<string>>();
  for (const item of items) {
    const group = item.groupId === undefined ? `\u0000${item.rolloutId}` : item.groupId;
    let rollouts = groups.get(group);
    if (rollouts === undefined) groups.set(group, (rollouts = new Set()));
    rollouts.add(item.rolloutId);
  }
  const keep = new Set<string>();
  for (const rollouts of groups.values()) {
    const ranked = [...rollouts].sort((a, b) => {
      const ra = rolloutReward(a);
      const rb = rolloutReward(b);
      if (ra === undefined || rb === undefined) return ra === rb ? compareIds(a, b) : ra === undefined ? 1 : -1;
      return rb - ra || compareIds(a, b);
    });
    for (const id of ranked.slice(0, Math.max(0, k))) keep.add(id);
  }
  return items.filter((i) => keep.has(i.rolloutId));
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function bestItemReward(items: readonly ExportItem[]): (rolloutId: string) => number | undefined {
  const best = new Map<string, number>();
  for (const item of items) {
    if (item.reward === undefined) continue;
    const seen = best.get(item.rolloutId);
    if (seen === undefined || item.reward > seen) best.set(item.rolloutId, item.reward);
  }
  return (rolloutId) => best.get(rolloutId);
}

/** One JSONL line (with its newline). */
export function toJsonLine(record: unknown): string {
  return `${JSON.stringify(record)}\n`;
}

/** Records as JSONL text. */
export function toJsonl(records: Iterable<unknown>): string {
  let out = "";
  for (const record of records) out += toJsonLine(record);
  return out;
}
