/**
 * Reward assignment — explicit, and the same for every credit policy:
 *
 * - **Final reward**: the attempt's outcome reward as the store recorded it (`completeAttempt`'s
 *   `finalReward`, given in the attempt context) when it is a number; otherwise the last reward
 *   span marked final (`tracetrain.reward.final`, which the emitter sets — true unless the reward
 *   names a `call_id`). A number the agent returned became such a span, so all three sources agree
 *   in practice; when the attempt and the spans disagree, the attempt wins and a warning says so.
 * - **Intermediate rewards** (reward spans with `final: false`) are attached to the call their
 *   `tracetrain.reward.call_id` names — a call's span id, the span id of another record of it, or
 *   its response id — else to the latest earlier call of the same agent (the reward span's
 *   `tracetrain.agent.name`; any agent if it has none). "Earlier" is the attempt's span order; a
 *   reward never goes to a call made inside that reward span (its judge), nor to one made inside any
 *   reward when such calls are excluded. Several rewards on one call add up. A reward whose call is
 *   not selected is dropped, with the reason.
 * - **Feedback**: the evaluator's text on a reward (`tracetrain.reward.feedback`, which
 *   `emitReward(v, { feedback })` and `withReward` write) is kept with its reward, final or not,
 *   whichever call it attaches to: it explains the run to an optimizer, it is not training data.
 *   (A foreign span's `gen_ai.evaluation.result` event is not read as a reward, so neither is its
 *   `gen_ai.evaluation.explanation`.)
 */
import { Attr, SpanNames, SpanTypes } from "../types/index.js";
import { AttributeReader } from "./attributes.js";
import type { ExtractedCall } from "./calls.js";
import type { DiagnosticsCollector, FinalRewardSource } from "./diagnostics.js";
import type { AttemptContext } from "./span-input.js";
import { type SpanNode, type SpanTree, isDescendant } from "./span-tree.js";

/** The rewards of one attempt, before any credit policy. */
export interface RewardAssignment {
  finalReward: number | undefined;
  finalRewardSource: FinalRewardSource;
  /** Summed intermediate reward per call, by call id (selected calls only). */
  intermediate: Map<string, number>;
  /** Intermediate reward spans found (with a value). */
  intermediateFound: number;
  /** Of those, attached to a selected call. */
  intermediateAttached: number;
  /** The rewards that came with feedback text, final or not, in span order. */
  feedback: RewardFeedback[];
}

/** A reward with the evaluator's feedback on it: what an optimizer reads to learn why a run scored as it did. */
export interface RewardFeedback {
  /** The reward span's id. */
  spanId: string;
  /** The reward's name (`"reward"` unless named), as recorded. */
  name: string | undefined;
  value: number;
  final: boolean;
  feedback: string;
  /** The agent the reward span ran under, when it ran under one. */
  agentName: string | undefined;
}

/** A reward span read. */
interface RewardSpan {
  node: SpanNode;
  value: number;
  final: boolean;
  callId: string | undefined;
  agentName: string | undefined;
  name: string | undefined;
  feedback: string | undefined;
}

/** Assigns the rewards of one attempt to its calls. */
export function assignRewards(
  tree: SpanTree,
  calls: readonly ExtractedCall[],
  context: AttemptContext,
  options: { excludeCallsInsideRewards: boolean },
  diagnostics: DiagnosticsCollector,
): RewardAssignment {
  const rewards = readRewards(tree, diagnostics);
  const finals = rewards.filter((r) => r.final);
  const lastFinal = finals.at(-1);
  if (finals.length > 1) diagnostics.warn(`${finals.length} final rewards were emitted; the last one (${lastFinal!.value}) counts`);

  let finalReward: number | undefined;
  let finalRewardSource: FinalRewardSource = "none";
  const fromAttempt = context.finalReward;
  if (typeof fromAttempt === "number" && Number.isFinite(fromAttempt)) {
    finalReward = fromAttempt;
    finalRewardSource = "attempt";
    if (lastFinal !== undefined && lastFinal.value !== fromAttempt) {
      diagnostics.warn(`the attempt's final reward (${fromAttempt}) differs from the last final reward span (${lastFinal.value}); the attempt's counts`);
    }
  } else if (lastFinal !== undefined) {
    finalReward = lastFinal.value;
    finalRewardSource = "span";
  }

  const byId = new Map<string, ExtractedCall>();
  for (const call of calls) {
    for (const id of call.aliases) byId.set(id, call);
    if (call.responseId !== undefined && !byId.has(call.responseId)) byId.set(call.responseId, call);
  }
  // Own span ids last: they win over anything else that happens to share the string.
  for (const call of calls) byId.set(call.callId, call);

  const intermediate = new Map<string, number>();
  let found = 0;
  let attached = 0;
  for (const reward of rewards) {
    if (reward.final) continue;
    found++;
    let target: ExtractedCall | undefined;
    if (reward.callId !== undefined) {
      target = byId.get(reward.callId);
      if (target === undefined) {
        diagnostics.drop(reward.node.spanId, "reward_unknown_call", `call_id '${reward.callId}' names no LLM call of this attempt`);
        continue;
      }
    } else {
      target = latestEarlierCall(calls, reward, options.excludeCallsInsideRewards);
      if (target === undefined) {
        diagnostics.drop(reward.node.spanId, "reward_no_earlier_call", `no earlier LLM call${reward.agentName === undefined ? "" : ` of agent '${reward.agentName}'`} to attach it to`);
        continue;
      }
    }
    if (!target.selected) {
      diagnostics.drop(reward.node.spanId, "reward_call_not_selected", `its call ${target.callId} is not selected (${target.exclusion?.replaceAll("_", " ") ?? "excluded"})`);
      continue;
    }
    intermediate.set(target.callId, (intermediate.get(target.callId) ?? 0) + reward.value);
    attached++;
  }
  const feedback = rewards.flatMap(({ node, name, value, final, feedback: text, agentName }) => (text === undefined || text.trim() === "" ? [] : [{ spanId: node.spanId, name, value, final, feedback: text, agentName }]));
  return { finalReward, finalRewardSource, intermediate, intermediateFound: found, intermediateAttached: attached, feedback };
}

function readRewards(tree: SpanTree, diagnostics: DiagnosticsCollector): RewardSpan[] {
  const out: RewardSpan[] = [];
  for (const node of tree.nodes) {
    if (!(node.type === SpanTypes.reward || (node.type === undefined && node.span?.name === SpanNames.reward))) continue;
    const r = new AttributeReader(node.span!.attributes, node.spanId, diagnostics);
    const value = r.finiteNumber(Attr.rewardValue);
    if (value === undefined) {
      diagnostics.drop(node.spanId, "reward_no_value", "the reward span has no numeric value (did the reward function throw?)");
      continue;
    }
    const callId = r.string(Attr.rewardCallId);
    // The emitter's default: a reward is final unless it names the call it is for.
    const final = r.boolean(Attr.rewardFinal) ?? callId === undefined;
    out.push({ node, value, final, callId, agentName: r.string(Attr.agentName), name: r.string(Attr.rewardName), feedback: r.string(Attr.rewardFeedback) });
  }
  return out;
}

function latestEarlierCall(calls: readonly ExtractedCall[], reward: RewardSpan, excludeInsideRewards: boolean): ExtractedCall | undefined {
  for (let i = calls.length - 1; i >= 0; i--) {
    const call = calls[i]!;
    if (call.node.order >= reward.node.order) continue;
    if (isDescendant(call.node, reward.node)) continue;
    if (call.insideReward && excludeInsideRewards) continue;
    if (reward.agentName !== undefined && call.agentName !== reward.agentName) continue;
    return call;
  }
  return undefined;
}
