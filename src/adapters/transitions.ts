/**
 * Spans → transitions: the pipeline every adapter output starts from. Per attempt: spans other
 * instrumentations wrote read as the tracer records them, the span tree, the calls, the rewards,
 * then the credit policy — and a diagnostics report of all of it.
 *
 * A transition carries the exact prompt and response as recorded: messages, and token ids and
 * logprobs when the engine returned them. Without token ids it is marked `textOnly` — usable for
 * prompt optimization and SFT, never re-tokenized for RL.
 */
import type { Trajectory, Transition } from "../types/index.js";
import { type CallSelectionOptions, type ExtractedCall, extractCalls } from "./calls.js";
import { type CreditPolicy, finalCredit } from "./credit.js";
import { type AdapterDiagnostics, DiagnosticsCollector, explainEmpty } from "./diagnostics.js";
import { asRecorded } from "./foreign-spans.js";
import { type RewardAssignment, assignRewards } from "./rewards.js";
import { type AdapterSpan, type AttemptContextSource, type AttemptSpans, contextFor, groupByAttempt } from "./span-input.js";
import { type SpanTree, buildSpanTree } from "./span-tree.js";

/** Options shared by every adapter function. */
export interface AdapterOptions extends CallSelectionOptions {
  /** How rewards become one reward per call. Default {@link finalCredit}. */
  credit?: CreditPolicy | undefined;
  /** What the store knows about each attempt: its final reward and group. */
  context?: AttemptContextSource | undefined;
  /**
   * Called with each attempt's diagnostics as it is adapted — so that `toChatMessages` or
   * `toTransitions` can say what they left out (calls, unreadable messages) without a second pass.
   */
  onDiagnostics?: ((diagnostics: AdapterDiagnostics) => void) | undefined;
}

/** Everything adapting one attempt produced. */
export interface AdaptedAttempt {
  readonly rolloutId: string;
  readonly attemptId: string;
  readonly tree: SpanTree;
  /** Every call found (selected or not), in order. */
  readonly calls: ExtractedCall[];
  readonly rewards: RewardAssignment;
  readonly trajectory: Trajectory;
  readonly diagnostics: AdapterDiagnostics;
}

/** Adapts one attempt's spans. */
export function adaptAttempt(attempt: AttemptSpans, options: AdapterOptions = {}): AdaptedAttempt {
  const collector = new DiagnosticsCollector();
  const context = contextFor(options.context, { rolloutId: attempt.rolloutId, attemptId: attempt.attemptId });
  const credit = options.credit ?? finalCredit;
  const excludeCallsInsideRewards = options.excludeCallsInsideRewards !== false;
  const tree = buildSpanTree(attempt.spans.map(asRecorded), collector);
  const calls = extractCalls(tree, options, collector);
  const rewards = assignRewards(tree, calls, context, { excludeCallsInsideRewards }, collector);
  const selected = calls.filter((c) => c.selected);
  const assigned = credit.assign({
    calls: selected.map((c) => ({ callId: c.callId, agentName: c.agentName, intermediateReward: rewards.intermediate.get(c.callId) })),
    finalReward: rewards.finalReward,
  });

  const transitions: Transition[] = [];
  selected.forEach((call, i) => {
    const reward = assigned[i];
    for (let choice = 0; choice < call.choices.length; choice++) {
      transitions.push(toTransition(attempt, call, choice, typeof reward === "number" && Number.isFinite(reward) ? reward : undefined, rewards, credit.name, context.groupId));
    }
  });

  if (!credit.uses.intermediate && rewards.intermediateAttached > 0) {
    collector.warn(`${rewards.intermediateAttached} intermediate reward(s) were found but the '${credit.name}' policy does not use them`);
  }
  if (!credit.uses.final && rewards.finalReward !== undefined) collector.warn(`the final reward (${rewards.finalReward}) is not used by the '${credit.name}' policy`);

  const diagnostics: AdapterDiagnostics = {
    rolloutId: attempt.rolloutId,
    attemptId: attempt.attemptId,
    spans: attempt.spans.length,
    ordering: tree.ordering,
    virtualParents: tree.virtualParents,
    callsFound: calls.length,
    callsSelected: selected.length,
    callsWithTokenIds: selected.filter((c) => c.promptTokenIds !== undefined && c.choices[0]?.tokenIds !== undefined).length,
    rewardFound: rewards.finalReward !== undefined,
    finalReward: rewards.finalReward ?? null,
    finalRewardSource: rewards.finalRewardSource,
    intermediateRewards: { found: rewards.intermediateFound, attached: rewards.intermediateAttached },
    creditPolicy: credit.name,
    dropped: collector.dropped,
    warnings: collector.warnings,
  };
  const empty = explainEmpty(diagnostics);
  if (empty !== undefined) collector.warn(empty);
  options.onDiagnostics?.(diagnostics);

  const trajectory: Trajectory = {
    rolloutId: attempt.rolloutId,
    attemptId: attempt.attemptId,
    transitions,
    creditPolicy: credit.name,
    ...(rewards.finalReward === undefined ? {} : { finalReward: rewards.finalReward }),
    ...(context.groupId === undefined ? {} : { groupId: context.groupId }),
  };
  return { rolloutId: attempt.rolloutId, attemptId: attempt.attemptId, tree, calls, rewards, trajectory, diagnostics };
}

function toTransition(
  attempt: AttemptSpans,
  call: ExtractedCall,
  choiceIndex: number,
  reward: number | undefined,
  rewards: RewardAssignment,
  creditPolicy: string,
  groupId: string | undefined,
): Transition {
  const choice = call.choices[choiceIndex]!;
  const prompt: Transition["prompt"] = {};
  if (call.promptMessages !== undefined) prompt.messages = call.promptMessages;
  if (call.promptTokenIds !== undefined) prompt.tokenIds = call.promptTokenIds;
  const response: Transition["response"] = {};
  if (choice.message !== undefined) response.message = choice.message;
  if (choice.tokenIds !== undefined) response.tokenIds = choice.tokenIds;
  if (choice.logprobs !== undefined) response.logprobs = choice.logprobs;
  if (choice.finishReason !== undefined) response.finishReason = choice.finishReason;
  const transition: Transition = {
    rolloutId: attempt.rolloutId,
    attemptId: attempt.attemptId,
    callId: call.callId,
    prompt,
    response,
    textOnly: call.promptTokenIds === undefined || choice.tokenIds === undefined,
    creditPolicy,
    position: call.position,
  };
  if (call.agentName !== undefined) transition.agentName = call.agentName;
  if (reward !== undefined) transition.reward = reward;
  const intermediate = rewards.intermediate.get(call.callId);
  if (intermediate !== undefined) transition.intermediateReward = intermediate;
  if (call.policyVersion !== undefined) transition.policyVersion = call.policyVersion;
  if (call.sampling !== undefined) transition.sampling = call.sampling;
  if (groupId !== undefined) transition.groupId = groupId;
  if (call.choices.length > 1) transition.choiceIndex = choiceIndex;
  if (call.tools !== undefined) transition.tools = call.tools;
  return transition;
}

/** Adapts every attempt in `spans` (spans of several attempts are split by attempt). */
export function adaptSpans(spans: readonly AdapterSpan[], options: AdapterOptions = {}): AdaptedAttempt[] {
  return groupByAttempt(spans).map((attempt) => adaptAttempt(attempt, options));
}

/**
 * The transitions of the selected calls: one per call (one per choice when `n` > 1), in call
 * order, attempt by attempt.
 */
export function toTransitions(spans: readonly AdapterSpan[], options: AdapterOptions = {}): Transition[] {
  return adaptSpans(spans, options).flatMap((a) => a.trajectory.transitions);
}

/** One trajectory per attempt: its transitions, final reward, credit policy and group. */
export function toTrajectories(spans: readonly AdapterSpan[], options: AdapterOptions = {}): Trajectory[] {
  return adaptSpans(spans, options).map((a) => a.trajectory);
}

/** The diagnostics of every attempt in `spans`. */
export function diagnose(spans: readonly AdapterSpan[], options: AdapterOptions = {}): AdapterDiagnostics[] {
  return adaptSpans(spans, options).map((a) => a.diagnostics);
}
