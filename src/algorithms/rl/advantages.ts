/**
 * Rollout-level advantages, GRPO style: every rollout of a task group is compared with the
 * group's mean reward (optionally scaled by the group's standard deviation). The advantage
 * belongs to the rollout and is given unchanged to each of its samples — the Agent Lightning v1.0
 * report found rollout-level credit beat per-call credit — while each trained token's weight
 * (train-samples.ts) keeps a rollout split into many samples from counting more.
 */

export interface AdvantageOptions {
  /** Divide by the group's standard deviation (GRPO's original form; Dr. GRPO leaves it out). Default false. */
  scaleByStd: boolean;
  /** Added to the standard deviation before dividing. Default 1e-6. */
  epsilon: number;
}

export interface GroupedReward {
  rolloutId: string;
  groupId: string;
  reward: number;
}

export interface AdvantageSummary {
  advantages: Map<string, number>;
  groups: number;
  /** Groups whose rollouts all scored the same: no learning signal. */
  zeroAdvantageGroups: number;
  /** The ids of those groups. */
  noSignal: Set<string>;
}

export function groupAdvantages(rewards: readonly GroupedReward[], options: AdvantageOptions): AdvantageSummary {
  const groups = new Map<string, GroupedReward[]>();
  for (const r of rewards) {
    const group = groups.get(r.groupId);
    if (group) group.push(r);
    else groups.set(r.groupId, [r]);
  }
  const advantages = new Map<string, number>();
  const noSignal = new Set<string>();
  for (const [groupId, members] of groups) {
    const mean = members.reduce((sum, m) => sum + m.reward, 0) / members.length;
    const std = Math.sqrt(members.reduce((sum, m) => sum + (m.reward - mean) ** 2, 0) / members.length);
    if (std === 0) noSignal.add(groupId);
    for (const m of members) {
      const centred = m.reward - mean;
      advantages.set(m.rolloutId, options.scaleByStd ? centred / (std + options.epsilon) : centred);
    }
  }
  return { advantages, groups: groups.size, zeroAdvantageGroups: noSignal.size, noSignal };
}
