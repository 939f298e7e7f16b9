/**
 * Trajectory merging for RL: consecutive calls of one agent become one token sequence only when
 * the next call's prompt token ids start exactly with the sequence so far (the previous prompt
 * and response). The tokens in between — tool output, chat-template tokens — get loss mask 0; the
 * model's own response tokens mask 1. Anything else starts a new sample: drift in the chat
 * template or tokenization only lowers the merge ratio, it never produces a sequence the model
 * did not see. Samples carry rollout and group ids, so backends can compute advantages per
 * rollout however many samples a rollout split into.
 *
 * "Consecutive calls of one agent": each agent has at most one open sample, which its next call
 * (with token ids) either extends or closes — calls of other agents in between do not break it.
 * Only calls with exact token ids take part (text-only calls are noted and never re-tokenized).
 * A call with several choices (`n` > 1) gives one sample per choice and closes its agent's sample.
 */
import type { MergedSample, SamplingSettings, Transition } from "../types/index.js";
import { type CreditPolicy, combineRewards, creditPolicyFromName } from "./credit.js";
import type { MergeNote, MergeStats } from "./diagnostics.js";
import type { AdapterSpan } from "./span-input.js";
import { type AdapterOptions, adaptSpans } from "./transitions.js";

/** Options of {@link mergeTransitions}. */
export interface MergeOptions {
  /** Never merge past this many tokens (prompt + response); a new sample starts instead. */
  maxLength?: number | undefined;
  /**
   * How a merged sample's reward comes from its calls' rewards ({@link CreditPolicy.combine}).
   * Default: the built-in policy named by the transitions' `creditPolicy`, else the last call's.
   */
  credit?: CreditPolicy | undefined;
}

/** Merge statistics of one attempt. */
export interface AttemptMerge extends MergeStats {
  rolloutId: string;
  attemptId: string;
}

/** What merging produced: samples in order (attempt by attempt, by first call), and per-attempt stats. */
export interface MergeResult {
  samples: MergedSample[];
  attempts: AttemptMerge[];
}

/** A sample being built. */
interface Builder {
  sample: MergedSample;
  /** Its place among the attempt's samples (the order of first calls). */
  slot: number;
  rewards: Array<number | undefined>;
  /** Logprobs so far, or undefined while no merged call had any. */
  logprobs: Array<number | null> | undefined;
  /** Prompt + response tokens so far. */
  length: number;
}

/** Merges transitions — in call order, as {@link toTransitions} returns them — into token samples. */
export function mergeTransitions(transitions: readonly Transition[], options: MergeOptions = {}): MergeResult {
  const merger = new Merger(options);
  for (const t of transitions) merger.add(t);
  return merger.result();
}

class Merger {
  private readonly samples: MergedSample[] = [];
  private readonly attempts: AttemptMerge[] = [];
  private readonly policies = new Map<string, CreditPolicy | null>();
  private current: AttemptMerge | undefined;
  private open = new Map<string | undefined, Builder>();
  private slots: Array<MergedSample | undefined> = [];

  constructor(private readonly options: MergeOptions) {}

  add(t: Transition): void {
    let stats = this.current;
    if (stats === undefined || stats.rolloutId !== t.rolloutId || stats.attemptId !== t.attemptId) stats = this.startAttempt(t);
    const promptIds = t.prompt.tokenIds;
    const responseIds = t.response.tokenIds;
    if (t.textOnly || promptIds === undefined || responseIds === undefined) {
      stats.notes.push(note(t.callId, "text_only", "no exact token ids for this call: it is never re-tokenized, so it is no token sample"));
      return;
    }
    const agent = t.agentName;
    const builder = this.open.get(agent);
    if (t.choiceIndex !== undefined) {
      // Several choices of one prompt: each its own sample; the agent's sequence ends here.
      if (builder !== undefined) this.close(agent, builder);
      this.finish(this.start(t, promptIds, responseIds));
      return;
    }
    if (builder !== undefined) {
      stats.candidates++;
      const { sample } = builder;
      const extendsSequence = startsWithSequence(promptIds, sample.promptIds, sample.responseIds);
      const fits = this.options.maxLength === undefined || promptIds.length + responseIds.length <= this.options.maxLength;
      const sameSampling = sameSamplingSettings(sample.sampling, t.sampling);
      if (extendsSequence && fits && sameSampling) {
        stats.merges++;
        appendCall(builder, t, promptIds, responseIds);
        return;
      }
      if (extendsSequence && !sameSampling) {
        // One sample carries one set of sampling settings: a backend computes its tokens' probabilities with them.
        stats.notes.push(note(t.callId, "sampling_change", "sampled with other settings (temperature, top-p or top-k) than the sequence so far; a new sample starts"));
      } else if (extendsSequence) {
        stats.lengthSplits++;
        stats.notes.push(note(t.callId, "length_split", `merging would exceed maxLength ${this.options.maxLength}; a new sample starts`));
      } else {
        stats.mismatches++;
        const at = firstDifference(promptIds, sample.promptIds, sample.responseIds);
        stats.notes.push(note(t.callId, "mismatch", `its prompt does not extend the previous sequence: first difference at token ${at} (sequence ${builder.length} tokens, prompt ${promptIds.length}); a new sample starts`));
      }
      this.close(agent, builder);
    }
    this.open.set(agent, this.start(t, promptIds, responseIds));
  }

  result(): MergeResult {
    this.endAttempt();
    return { samples: this.samples, attempts: this.attempts };
  }

  private startAttempt(t: Transition): AttemptMerge {
    this.endAttempt();
    const stats: AttemptMerge = { rolloutId: t.rolloutId, attemptId: t.attemptId, samples: 0, candidates: 0, merges: 0, mismatches: 0, lengthSplits: 0, mergeRatio: null, notes: [] };
    this.current = stats;
    this.attempts.push(stats);
    return stats;
  }

  private endAttempt(): void {
    const stats = this.current;
    if (stats === undefined) return;
    for (const [agent, builder] of this.open) this.close(agent, builder);
    for (const sample of this.slots) if (sample !== undefined) this.samples.push(sample);
    stats.samples = this.slots.length;
    stats.mergeRatio = stats.candidates > 0 ? stats.merges / stats.candidates : null;
    this.slots = [];
    this.current = undefined;
  }

  private start(t: Transition, promptIds: number[], responseIds: number[]): Builder {
    const sample: MergedSample = {
      rolloutId: t.rolloutId,
      attemptId: t.attemptId,
      callIds: [t.callId],
      promptIds,
      responseIds: responseIds.slice(),
      responseMask: new Array<0 | 1>(responseIds.length).fill(1),
    };
    if (t.groupId !== undefined) sample.groupId = t.groupId;
    if (t.agentName !== undefined) sample.agentName = t.agentName;
    if (t.policyVersion !== undefined) sample.policyVersion = t.policyVersion;
    if (t.sampling !== undefined) sample.sampling = t.sampling;
    if (t.creditPolicy !== undefined) sample.creditPolicy = t.creditPolicy;
    const logprobs = t.response.logprobs;
    this.slots.push(undefined);
    return { sample, slot: this.slots.length - 1, rewards: [t.reward], logprobs: logprobs?.slice(), length: promptIds.length + responseIds.length };
  }

  private close(agent: string | undefined, builder: Builder): void {
    if (this.open.get(agent) === builder) this.open.delete(agent);
    this.finish(builder);
  }

  private finish(builder: Builder): void {
    const { sample } = builder;
    const reward = this.combine(sample.creditPolicy, builder.rewards);
    if (reward !== undefined) sample.reward = reward;
    if (builder.logprobs !== undefined) sample.logprobs = builder.logprobs;
    this.slots[builder.slot] = sample;
  }

  private combine(policyName: string | undefined, rewards: ReadonlyArray<number | undefined>): number | undefined {
    const policy = this.options.credit ?? this.policyNamed(policyName);
    if (policy !== undefined) return combineRewards(policy, rewards);
    for (let i = rewards.length - 1; i >= 0; i--) if (rewards[i] !== undefined) return rewards[i];
    return undefined;
  }

  private policyNamed(name: string | undefined): CreditPolicy | undefined {
    if (name === undefined) return undefined;
    if (!this.policies.has(name)) {
      try {
        this.policies.set(name, creditPolicyFromName(name));
      } catch {
        this.policies.set(name, null); // a custom policy's name: the default combine applies
      }
    }
    return this.policies.get(name) ?? undefined;
  }
}

function note(callId: string, kind: MergeNote["kind"], detail: string): MergeNote {
  return { callId, kind, detail };
}

function appendCall(builder: Builder, t: Transition, promptIds: number[], responseIds: number[]): void {
  const { sample } = builder;
  const before = sample.responseIds.length;
  // The inserted tokens: everything in the new prompt past the sequence so far.
  for (let i = builder.length; i < promptIds.length; i++) {
    sample.responseIds.push(promptIds[i]!);
    sample.responseMask.push(0);
  }
  const inserted = sample.responseIds.length - before;
  for (let i = 0; i < responseIds.length; i++) {
    sample.responseIds.push(responseIds[i]!);
    sample.responseMask.push(1);
  }
  const logprobs = t.response.logprobs;
  // The first call with logprobs: what came before it has none.
  if (logprobs !== undefined && builder.logprobs === undefined) builder.logprobs = new Array<number | null>(before).fill(null);
  if (builder.logprobs !== undefined) {
    for (let i = 0; i < inserted; i++) builder.logprobs.push(null);
    if (logprobs !== undefined) for (let i = 0; i < logprobs.length; i++) builder.logprobs.push(logprobs[i]!);
    else for (let i = 0; i < responseIds.length; i++) builder.logprobs.push(null);
  }
  sample.callIds.push(t.callId);
  builder.rewards.push(t.reward);
  builder.length = promptIds.length + responseIds.length;
  if (sample.policyVersion === undefined && t.policyVersion !== undefined) sample.policyVersion = t.policyVersion;
}

/** Whether two calls were sampled alike (absent settings read as the API's defaults: temperature 1, top-p 1, no top-k). */
export function sameSamplingSettings(a: SamplingSettings | undefined, b: SamplingSettings | undefined): boolean {
  const topK = (k: number | undefined) => (k === undefined || k <= 0 ? 0 : k);
  return (a?.temperature ?? 1) === (b?.temperature ?? 1) && (a?.topP ?? 1) === (b?.topP ?? 1) && topK(a?.topK) === topK(b?.topK);
}

/** Whether `ids` starts with `prefixA` followed by `prefixB` (compared in place, nothing copied). */
export function startsWithSequence(ids: readonly number[], prefixA: readonly number[], prefixB: readonly number[]): boolean {
  if (ids.length < prefixA.length + prefixB.length) return false;
  for (let i = 0; i < prefixA.length; i++) if (ids[i] !== prefixA[i]) return false;
  const offset = prefixA.length;
  for (let i = 0; i < prefixB.length; i++) if (ids[offset + i] !== prefixB[i]) return false;
  return true;
}

/** Index of the first token where `ids` and `prefixA + prefixB` differ. */
function firstDifference(ids: readonly number[], prefixA: readonly number[], prefixB: readonly number[]): number {
  const total = prefixA.length + prefixB.length;
  for (let i = 0; i < total; i++) {
    const expected = i < prefixA.length ? prefixA[i] : prefixB[i - prefixA.length];
    if (ids[i] !== expected) return i;
  }
  return total;
}

/** Options of {@link toMergedSamples}. */
export interface MergedSamplesOptions extends AdapterOptions {
  /** Never merge past this many tokens. */
  maxLength?: number | undefined;
}

/** Spans → merged token samples in one step (transitions, then {@link mergeTransitions}). */
export function toMergedSamples(spans: readonly AdapterSpan[], options: MergedSamplesOptions = {}): MergedSample[] {
  const transitions = adaptSpans(spans, options).flatMap((a) => a.trajectory.transitions);
  return mergeTransitions(transitions, { maxLength: options.maxLength, credit: options.credit }).samples;
}
