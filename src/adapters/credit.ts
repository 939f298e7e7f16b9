/**
 * Credit assignment: how an attempt's rewards become one reward per selected call. One function
 * per policy, each pure; the chosen policy's name is written into every transition and
 * trajectory, so a dataset always says how its rewards were computed.
 *
 * Every policy works over the attempt's selected calls in call order (all selected agents
 * together: they are one trajectory of the policy being trained), with `i_t` the intermediate
 * reward attached to call `t` (0 when none) and `F` the final reward:
 *
 * | policy            | reward of call t                                   | when nothing applies |
 * |-------------------|----------------------------------------------------|----------------------|
 * | `final`           | `F` for every call (Agent Lightning's only choice) | no reward            |
 * | `lastCall`        | `F` for the last call only                         | others: no reward    |
 * | `discounted(γ)`   | `Σ_{k≥t} γ^(k−t)·i_k + γ^(T−t)·F` (return-to-go)   | no reward at all → none |
 * | `perCall`         | `i_t` (the final reward is not used)               | no reward            |
 */
import { ValidationError } from "../types/index.js";

/** A selected call as a credit policy sees it. */
export interface CreditCall {
  readonly callId: string;
  readonly agentName?: string | undefined;
  /** The intermediate reward(s) attached to the call, summed; undefined when none. */
  readonly intermediateReward?: number | undefined;
}

/** What a policy assigns from. */
export interface CreditInput {
  /** The selected calls, in call order. */
  readonly calls: readonly CreditCall[];
  readonly finalReward: number | undefined;
}

/** A credit-assignment policy. Write your own by implementing this. */
export interface CreditPolicy {
  /** Recorded in the output, e.g. `"discounted(0.9)"`. */
  readonly name: string;
  /** Which rewards the policy reads; a warning is given when rewards it ignores were found. */
  readonly uses: { readonly final: boolean; readonly intermediate: boolean };
  /** One reward per call (aligned with `input.calls`); `undefined` means "no reward". */
  assign(input: CreditInput): Array<number | undefined>;
  /**
   * The reward of a token sample that merged several consecutive calls, from their rewards in
   * order. Default: the last defined one.
   */
  combine?(rewards: ReadonlyArray<number | undefined>): number | undefined;
}

/** Every selected call gets the final reward. */
export const finalCredit: CreditPolicy = {
  name: "final",
  uses: { final: true, intermediate: false },
  assign: ({ calls, finalReward }) => calls.map(() => finalReward),
  combine: (rewards) => rewards.find((r) => r !== undefined),
};

/** Only the last selected call gets the final reward; the others get none. */
export const lastCallCredit: CreditPolicy = {
  name: "lastCall",
  uses: { final: true, intermediate: false },
  assign: ({ calls, finalReward }) => calls.map((_, t) => (t === calls.length - 1 ? finalReward : undefined)),
  combine: (rewards) => rewards.at(-1),
};

/** Each call gets its own intermediate reward; the final reward is not used. */
export const perCallCredit: CreditPolicy = {
  name: "perCall",
  uses: { final: false, intermediate: true },
  assign: ({ calls }) => calls.map((c) => c.intermediateReward),
  combine: (rewards) => {
    let sum: number | undefined;
    for (const r of rewards) if (r !== undefined) sum = (sum ?? 0) + r;
    return sum;
  },
};

/**
 * Return-to-go: each call gets its own intermediate reward plus the discounted rewards of every
 * later call and the final reward (which arrives with the last call). `γ` in [0, 1].
 */
export function discountedCredit(gamma: number): CreditPolicy {
  if (typeof gamma !== "number" || !Number.isFinite(gamma) || gamma < 0 || gamma > 1) {
    throw new ValidationError("credit policy", [{ path: "gamma", message: `expected a number from 0 to 1, got ${String(gamma)}` }]);
  }
  return {
    name: `discounted(${gamma})`,
    uses: { final: true, intermediate: true },
    assign: ({ calls, finalReward }) => {
      const out: Array<number | undefined> = new Array<number | undefined>(calls.length);
      const anyReward = finalReward !== undefined || calls.some((c) => c.intermediateReward !== undefined);
      let future = finalReward ?? 0;
      for (let t = calls.length - 1; t >= 0; t--) {
        future = (calls[t]!.intermediateReward ?? 0) + (t === calls.length - 1 ? future : gamma * future);
        out[t] = anyReward ? future : undefined;
      }
      return out;
    },
    // A sample's first call's return-to-go already counts everything after it.
    combine: (rewards) => rewards[0],
  };
}

/** The built-in policies, by name. */
export const creditPolicies = {
  final: finalCredit,
  lastCall: lastCallCredit,
  perCall: perCallCredit,
  discounted: discountedCredit,
} as const;

/**
 * A policy from its name, as the command line and recorded outputs spell it: `final`,
 * `lastCall`, `perCall`, `discounted(0.9)` or `discounted:0.9` (`last-call` and `per-call` too).
 */
export function creditPolicyFromName(name: string): CreditPolicy {
  const spec = name.trim();
  if (spec === "final") return finalCredit;
  if (spec === "lastCall" || spec === "last-call") return lastCallCredit;
  if (spec === "perCall" || spec === "per-call") return perCallCredit;
  const discounted = /^discounted(?:\((.+)\)|:(.+))$/.exec(spec);
  if (discounted) {
    const text = (discounted[1] ?? discounted[2] ?? "").trim();
    const gamma = text === "" ? Number.NaN : Number(text);
    return discountedCredit(gamma);
  }
  throw new ValidationError("credit policy", [{ path: "credit", message: `unknown policy '${name}': expected final, lastCall, perCall or discounted(γ)` }]);
}

/** The combine step of a policy (its own, or the default: the last defined reward). */
export function combineRewards(policy: CreditPolicy, rewards: ReadonlyArray<number | undefined>): number | undefined {
  if (policy.combine) return policy.combine(rewards);
  for (let i = rewards.length - 1; i >= 0; i--) if (rewards[i] !== undefined) return rewards[i];
  return undefined;
}
