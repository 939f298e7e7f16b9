/** Credit-assignment policies, table-driven: each policy on the same reward situations. */
import { describe, expect, it } from "vitest";
import { type CreditPolicy, combineRewards, creditPolicyFromName, discountedCredit, finalCredit, lastCallCredit, perCallCredit, toTrajectories } from "tracetrain/adapters";
import { ValidationError } from "tracetrain";
import { llm, reward, sid } from "./build.js";

/** Intermediate rewards per call (undefined: none) and the final reward. */
interface Situation {
  name: string;
  intermediate: Array<number | undefined>;
  final: number | undefined;
}

const SITUATIONS: Situation[] = [
  { name: "outcome reward only", intermediate: [undefined, undefined, undefined], final: 1 },
  { name: "intermediate and final", intermediate: [0.5, undefined, 0.25], final: 1 },
  { name: "intermediate only", intermediate: [undefined, 0.5, undefined], final: undefined },
  { name: "no reward at all", intermediate: [undefined, undefined], final: undefined },
  { name: "no calls", intermediate: [], final: 1 },
];

const EXPECTED: Array<[policy: CreditPolicy, perSituation: Array<Array<number | undefined>>]> = [
  [finalCredit, [[1, 1, 1], [1, 1, 1], [undefined, undefined, undefined], [undefined, undefined], []]],
  [lastCallCredit, [[undefined, undefined, 1], [undefined, undefined, 1], [undefined, undefined, undefined], [undefined, undefined], []]],
  [perCallCredit, [[undefined, undefined, undefined], [0.5, undefined, 0.25], [undefined, 0.5, undefined], [undefined, undefined], []]],
  // γ = 0.5: r_t = i_t + 0.5·r_{t+1}, with r_T = i_T + F.
  [discountedCredit(0.5), [[0.25, 0.5, 1], [0.5 + 0.3125, 0.625, 1.25], [0.25, 0.5, 0], [undefined, undefined], []]],
  [discountedCredit(1), [[1, 1, 1], [1.75, 1.25, 1.25], [0.5, 0.5, 0], [undefined, undefined], []]],
  [discountedCredit(0), [[0, 0, 1], [0.5, 0, 1.25], [0, 0.5, 0], [undefined, undefined], []]],
];

describe.each(EXPECTED.map(([policy, perSituation]) => ({ name: policy.name, policy, perSituation })))("the $name policy", ({ policy, perSituation }) => {
  it.each(SITUATIONS.map((s, i) => [s.name, s, perSituation[i]!] as const))("%s", (_name, situation, expected) => {
    const calls = situation.intermediate.map((intermediateReward, i) => ({ callId: `c${i}`, intermediateReward }));
    expect(policy.assign({ calls, finalReward: situation.final })).toEqual(expected);
  });
});

describe("credit policies in the adapter", () => {
  // Three calls; intermediate 0.5 on the first (by call_id) and 0.25 on the last (latest earlier call); final 1.
  const spans = [llm(1, { agent: "a" }), reward(2, 0.5, { callId: sid(1) }), llm(3, { agent: "a" }), llm(4, { agent: "a" }), reward(5, 0.25, { final: false, agent: "a" }), reward(6, 1)];

  it.each([
    [finalCredit, [1, 1, 1]],
    [lastCallCredit, [undefined, undefined, 1]],
    [perCallCredit, [0.5, undefined, 0.25]],
    [discountedCredit(0.5), [0.8125, 0.625, 1.25]],
  ] as const)("records the policy and its rewards (%#)", (credit, rewards) => {
    const [trajectory] = toTrajectories(spans, { credit });
    expect(trajectory!.creditPolicy).toBe(credit.name);
    expect(trajectory!.finalReward).toBe(1);
    expect(trajectory!.transitions.map((t) => [t.reward, t.intermediateReward, t.creditPolicy])).toEqual(
      rewards.map((r, i) => [r, [0.5, undefined, 0.25][i], credit.name]),
    );
  });

  it("applies a policy over the selected calls only", () => {
    const mixed = [llm(1, { agent: "a" }), llm(2, { agent: "b" }), llm(3, { agent: "a" }), reward(4, 1)];
    expect(toTrajectories(mixed, { credit: lastCallCredit, agents: ["a"] })[0]!.transitions.map((t) => [t.callId, t.reward])).toEqual([
      [sid(1), undefined],
      [sid(3), 1],
    ]);
  });

  it("accepts a policy of your own", () => {
    const halves: CreditPolicy = { name: "halves", uses: { final: true, intermediate: false }, assign: ({ calls, finalReward }) => calls.map(() => (finalReward ?? 0) / 2) };
    expect(toTrajectories([llm(1), reward(2, 1)], { credit: halves })[0]!.transitions.map((t) => [t.reward, t.creditPolicy])).toEqual([[0.5, "halves"]]);
  });
});

describe("policy names and merging rewards", () => {
  it.each([
    ["final", "final"],
    ["lastCall", "lastCall"],
    ["last-call", "lastCall"],
    ["perCall", "perCall"],
    ["discounted(0.9)", "discounted(0.9)"],
    ["discounted:0.95", "discounted(0.95)"],
  ])("reads %s", (name, expected) => {
    expect(creditPolicyFromName(name).name).toBe(expected);
  });

  it.each(["best", "discounted(2)", "discounted:", "discounted(x)"])("rejects %s with a ValidationError", (name) => {
    expect(() => creditPolicyFromName(name)).toThrow(ValidationError);
  });

  it.each([
    [finalCredit, [1, 1, 1], 1],
    [lastCallCredit, [undefined, undefined, 1], 1],
    [lastCallCredit, [undefined, undefined], undefined],
    [perCallCredit, [0.5, undefined, 0.25], 0.75],
    [perCallCredit, [undefined], undefined],
    [discountedCredit(0.5), [0.8125, 0.625], 0.8125],
    [{ name: "custom", uses: { final: true, intermediate: true }, assign: () => [] } satisfies CreditPolicy, [1, 2, undefined], 2],
  ] as const)("combines the rewards of a merged sample (%#)", (policy, rewards, expected) => {
    expect(combineRewards(policy, rewards)).toBe(expected);
  });
});
