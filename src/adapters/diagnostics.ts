/**
 * What an adapter did with one attempt's spans, and why. Every span, call or reward an adapter
 * leaves out is listed with a reason, so an empty trajectory always comes with its explanation
 * (Agent Lightning's users got zero-length trajectories and no word why).
 */

/** Why something was left out. */
export type DropReason =
  /** A second span with an id already seen in the attempt (the first one is kept). */
  | "duplicate_span_id"
  /** A span whose parent chain loops back to itself; it is treated as a root. */
  | "parent_cycle"
  /** A second record of one LLM call (same response id), e.g. by two instrumentation layers. */
  | "duplicate_call"
  /** A framework's wrapper of a call that a lower layer recorded in full (`llm_run`, or an LLM span around one). */
  | "wrapper_call"
  /** The call failed (error status). */
  | "failed_call"
  /** The call recorded neither an output message nor response token ids. */
  | "no_response"
  /** The call's agent is not among the selected agents. */
  | "agent_not_selected"
  /** Agents were selected, and this call has no agent name at all. */
  | "no_agent_name"
  /** The call ran inside a reward function (an LLM judge is not the policy). */
  | "inside_reward"
  /**
   * The call's messages could not all be read — a message with nothing in it, or content in a form
   * chat messages cannot hold (named in the detail, with the attribute it came from) — so its text
   * is not training data. (With exact token ids it stays a token sample: a warning says so.)
   */
  | "unreadable_message"
  /** A reward span without a usable value. */
  | "reward_no_value"
  /** An intermediate reward whose `call_id` names no LLM call of the attempt. */
  | "reward_unknown_call"
  /** An intermediate reward for a call that is not selected. */
  | "reward_call_not_selected"
  /** An intermediate reward with no `call_id` and no earlier call of its agent to attach to. */
  | "reward_no_earlier_call"
  /** An attribute with a value of the wrong shape; the attribute is ignored. */
  | "malformed_attribute"
  /** A call without prompt and response token ids cannot become a token sample (it is never re-tokenized). */
  | "text_only";

/** One thing left out: which span, why, and the details a person needs to fix it. */
export interface DroppedItem {
  spanId: string;
  reason: DropReason;
  detail: string;
}

/** Why a call did not simply extend its agent's token sample. */
export interface MergeNote {
  callId: string;
  /** `text_only`: no exact token ids, left out; `mismatch`: its prompt diverged, a new sample started; `length_split`: `maxLength` reached; `sampling_change`: sampled with other settings than the sequence so far, a new sample started. */
  kind: "text_only" | "mismatch" | "length_split" | "sampling_change";
  detail: string;
}

/** How token-level merging went for one attempt. */
export interface MergeStats {
  /** Token samples produced. */
  samples: number;
  /** Calls that had an earlier token sample of the same agent to try to extend. */
  candidates: number;
  /** Candidates whose prompt token ids started exactly with that sample: merged. */
  merges: number;
  /** Candidates whose prompt diverged (template or tokenization drift): a new sample started. */
  mismatches: number;
  /** Candidates not merged only because the sample would exceed `maxLength`. */
  lengthSplits: number;
  /** `merges / candidates`, or `null` when there were no candidates. */
  mergeRatio: number | null;
  notes: MergeNote[];
}

/** Where the attempt's final reward came from. */
export type FinalRewardSource = "attempt" | "span" | "none";

/** Everything an adapter reports about one attempt. */
export interface AdapterDiagnostics {
  rolloutId: string;
  attemptId: string;
  /** Spans read. */
  spans: number;
  /** `sequence` when every span had the store's sequence number, otherwise `time` (end, then start time). */
  ordering: "sequence" | "time";
  /** Parents referenced but missing from the set, stood in for by virtual nodes. */
  virtualParents: number;
  /** Distinct LLM calls that produced a response (duplicates and wrappers removed). */
  callsFound: number;
  /** Calls selected as training data. */
  callsSelected: number;
  /** Selected calls with both prompt and response token ids. */
  callsWithTokenIds: number;
  /** Whether the attempt has a final reward. */
  rewardFound: boolean;
  finalReward: number | null;
  finalRewardSource: FinalRewardSource;
  /** Intermediate (non-final) reward spans found, and how many were attached to a selected call. */
  intermediateRewards: { found: number; attached: number };
  /** The credit-assignment policy applied. */
  creditPolicy: string;
  /** Set when token samples were built. */
  merge?: MergeStats;
  dropped: DroppedItem[];
  /** Things that are not drops but deserve a look (several final rewards, rewards a policy ignores, …). */
  warnings: string[];
}

/** Collects diagnostics while an attempt is adapted. */
export class DiagnosticsCollector {
  readonly dropped: DroppedItem[] = [];
  readonly warnings: string[] = [];

  /** Records that a span, call or reward was left out, and why. */
  drop(spanId: string, reason: DropReason, detail: string): void {
    this.dropped.push({ spanId, reason, detail });
  }

  /** Records an attribute whose value has the wrong shape (and is therefore ignored). */
  malformed(spanId: string, key: string, problem: string): void {
    this.dropped.push({ spanId, reason: "malformed_attribute", detail: `${key}: ${problem}; ignored` });
  }

  /** Records something that deserves a look without being a drop. */
  warn(message: string): void {
    this.warnings.push(message);
  }
}

/** Totals over many attempts' diagnostics, e.g. for a one-line summary after an export. */
export interface DiagnosticsSummary {
  attempts: number;
  callsFound: number;
  callsSelected: number;
  callsWithTokenIds: number;
  attemptsWithoutReward: number;
  /** Attempts that produced no selected call. */
  emptyAttempts: number;
  /** How often each drop reason occurred. */
  dropped: Partial<Record<DropReason, number>>;
  /** Over attempts with merge stats: total merges / total candidates (`null` when none). */
  mergeRatio: number | null;
  mismatches: number;
}

/** Adds up per-attempt diagnostics. */
export function summarizeDiagnostics(all: readonly AdapterDiagnostics[]): DiagnosticsSummary {
  const dropped: Partial<Record<DropReason, number>> = {};
  let callsFound = 0;
  let callsSelected = 0;
  let callsWithTokenIds = 0;
  let attemptsWithoutReward = 0;
  let emptyAttempts = 0;
  let candidates = 0;
  let merges = 0;
  let mismatches = 0;
  for (const d of all) {
    callsFound += d.callsFound;
    callsSelected += d.callsSelected;
    callsWithTokenIds += d.callsWithTokenIds;
    if (!d.rewardFound) attemptsWithoutReward++;
    if (d.callsSelected === 0) emptyAttempts++;
    if (d.merge) {
      candidates += d.merge.candidates;
      merges += d.merge.merges;
      mismatches += d.merge.mismatches;
    }
    for (const item of d.dropped) dropped[item.reason] = (dropped[item.reason] ?? 0) + 1;
  }
  return {
    attempts: all.length,
    callsFound,
    callsSelected,
    callsWithTokenIds,
    attemptsWithoutReward,
    emptyAttempts,
    dropped,
    mergeRatio: candidates > 0 ? merges / candidates : null,
    mismatches,
  };
}

/**
 * Why an attempt produced no training data, in one sentence — or `undefined` when it did. Written
 * into `warnings` so an empty trajectory never goes unexplained.
 */
export function explainEmpty(d: Pick<AdapterDiagnostics, "callsFound" | "callsSelected" | "dropped">): string | undefined {
  if (d.callsSelected > 0) return undefined;
  if (d.callsFound === 0) {
    const failed = d.dropped.filter((x) => x.reason === "failed_call" || x.reason === "no_response").length;
    return failed > 0 ? `no usable LLM call: ${failed} call(s) failed or returned nothing` : "no LLM call was recorded in this attempt";
  }
  const counts = new Map<DropReason, number>();
  for (const x of d.dropped) {
    if (x.reason === "agent_not_selected" || x.reason === "no_agent_name" || x.reason === "inside_reward" || x.reason === "unreadable_message") counts.set(x.reason, (counts.get(x.reason) ?? 0) + 1);
  }
  const parts = [...counts].map(([reason, n]) => `${n} ${reason.replaceAll("_", " ")}`);
  return `none of the ${d.callsFound} LLM call(s) was selected (${parts.join(", ") || "no reason recorded"})`;
}
