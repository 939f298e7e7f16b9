/** Trajectory merging, table-driven: exact prefix matches, template mismatches, tool tokens. */
import { describe, expect, it } from "vitest";
import { MergedSampleSchema } from "tracetrain/schemas";
import { type Transition } from "tracetrain";
import { mergeTransitions, startsWithSequence } from "tracetrain/adapters";

let calls = 0;
/** A transition with token ids (`prompt`, `response`), or a text-only one when `response` is undefined. */
function call(agent: string | undefined, prompt: number[] | undefined, response: number[] | undefined, extra: Partial<Transition> = {}): Transition {
  const id = `c${++calls}`;
  return {
    rolloutId: "ro-1",
    attemptId: "at-1",
    callId: id,
    ...(agent === undefined ? {} : { agentName: agent }),
    prompt: prompt === undefined ? {} : { tokenIds: prompt },
    response: response === undefined ? {} : { tokenIds: response },
    textOnly: prompt === undefined || response === undefined,
    creditPolicy: "final",
    reward: 1,
    ...extra,
  };
}

interface Case {
  name: string;
  transitions: () => Transition[];
  /** Per sample: [callIds count, promptIds, responseIds, responseMask]. */
  samples: Array<[calls: number, promptIds: number[], responseIds: number[], mask: number[]]>;
  stats: { candidates: number; merges: number; mismatches: number; lengthSplits?: number };
  notes?: string[];
  maxLength?: number;
}

const CASES: Case[] = [
  {
    name: "exact continuation, nothing in between",
    transitions: () => [call("a", [1, 2], [3]), call("a", [1, 2, 3], [4, 5])],
    samples: [[2, [1, 2], [3, 4, 5], [1, 1, 1]]],
    stats: { candidates: 1, merges: 1, mismatches: 0 },
  },
  {
    name: "tool tokens between calls get mask 0",
    transitions: () => [call("a", [1, 2], [3, 4]), call("a", [1, 2, 3, 4, 90, 91], [5]), call("a", [1, 2, 3, 4, 90, 91, 5, 92], [6, 7])],
    samples: [[3, [1, 2], [3, 4, 90, 91, 5, 92, 6, 7], [1, 1, 0, 0, 1, 0, 1, 1]]],
    stats: { candidates: 2, merges: 2, mismatches: 0 },
  },
  {
    name: "template mismatch (an earlier turn re-rendered) starts a new sample",
    transitions: () => [call("a", [1, 2], [3, 4]), call("a", [1, 2, 9, 4, 90], [5])],
    samples: [
      [1, [1, 2], [3, 4], [1, 1]],
      [1, [1, 2, 9, 4, 90], [5], [1]],
    ],
    stats: { candidates: 1, merges: 0, mismatches: 1 },
    notes: ["mismatch: its prompt does not extend the previous sequence: first difference at token 2 (sequence 4 tokens, prompt 5); a new sample starts"],
  },
  {
    name: "a prompt shorter than the sequence is a mismatch",
    transitions: () => [call("a", [1, 2], [3, 4]), call("a", [1, 2, 3], [5])],
    samples: [
      [1, [1, 2], [3, 4], [1, 1]],
      [1, [1, 2, 3], [5], [1]],
    ],
    stats: { candidates: 1, merges: 0, mismatches: 1 },
    notes: ["mismatch: its prompt does not extend the previous sequence: first difference at token 3 (sequence 4 tokens, prompt 3); a new sample starts"],
  },
  {
    name: "after a mismatch, the next call extends the new sample",
    transitions: () => [call("a", [1], [2]), call("a", [7], [8]), call("a", [7, 8, 0], [9])],
    samples: [
      [1, [1], [2], [1]],
      [2, [7], [8, 0, 9], [1, 0, 1]],
    ],
    stats: { candidates: 2, merges: 1, mismatches: 1 },
    notes: ["mismatch: its prompt does not extend the previous sequence: first difference at token 0 (sequence 2 tokens, prompt 1); a new sample starts"],
  },
  {
    name: "other agents in between do not break an agent's sequence",
    transitions: () => [call("a", [1], [2]), call("b", [50], [51]), call("a", [1, 2, 3], [4])],
    samples: [
      [2, [1], [2, 3, 4], [1, 0, 1]],
      [1, [50], [51], [1]],
    ],
    stats: { candidates: 1, merges: 1, mismatches: 0 },
  },
  {
    name: "calls of different agents never merge, even on a matching prefix",
    transitions: () => [call("a", [1], [2]), call("b", [1, 2], [3])],
    samples: [
      [1, [1], [2], [1]],
      [1, [1, 2], [3], [1]],
    ],
    stats: { candidates: 0, merges: 0, mismatches: 0 },
  },
  {
    name: "text-only calls are left out and noted",
    transitions: () => [call("a", [1], [2]), call("a", undefined, undefined), call("a", [1, 2, 3], [4])],
    samples: [[2, [1], [2, 3, 4], [1, 0, 1]]],
    stats: { candidates: 1, merges: 1, mismatches: 0 },
    notes: ["text_only: no exact token ids for this call: it is never re-tokenized, so it is no token sample"],
  },
  {
    name: "each choice of an n > 1 call is its own sample, and ends the agent's sequence",
    transitions: () => [call("a", [1], [2]), call("a", [1, 2], [3], { choiceIndex: 0 }), call("a", [1, 2], [4], { choiceIndex: 1 }), call("a", [1, 2, 3, 5], [6])],
    samples: [
      [1, [1], [2], [1]],
      [1, [1, 2], [3], [1]],
      [1, [1, 2], [4], [1]],
      [1, [1, 2, 3, 5], [6], [1]],
    ],
    stats: { candidates: 0, merges: 0, mismatches: 0 },
  },
  {
    name: "maxLength starts a new sample instead of growing past it",
    transitions: () => [call("a", [1], [2]), call("a", [1, 2, 3], [4]), call("a", [1, 2, 3, 4, 5], [6])],
    maxLength: 5,
    samples: [
      [2, [1], [2, 3, 4], [1, 0, 1]],
      [1, [1, 2, 3, 4, 5], [6], [1]],
    ],
    stats: { candidates: 2, merges: 1, mismatches: 0, lengthSplits: 1 },
    notes: ["length_split: merging would exceed maxLength 5; a new sample starts"],
  },
  {
    name: "calls of different attempts never merge",
    transitions: () => [call("a", [1], [2]), call("a", [1, 2], [3], { attemptId: "at-2" })],
    samples: [
      [1, [1], [2], [1]],
      [1, [1, 2], [3], [1]],
    ],
    stats: { candidates: 0, merges: 0, mismatches: 0 },
  },
];

describe("merging", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const result = mergeTransitions(c.transitions(), c.maxLength === undefined ? {} : { maxLength: c.maxLength });
    expect(result.samples.map((s) => [s.callIds.length, s.promptIds, s.responseIds, s.responseMask])).toEqual(c.samples);
    for (const sample of result.samples) expect(MergedSampleSchema.safeParse(sample).success).toBe(true);
    const totals = result.attempts.reduce(
      (t, a) => ({ candidates: t.candidates + a.candidates, merges: t.merges + a.merges, mismatches: t.mismatches + a.mismatches, lengthSplits: t.lengthSplits + a.lengthSplits }),
      { candidates: 0, merges: 0, mismatches: 0, lengthSplits: 0 },
    );
    expect(totals).toEqual({ lengthSplits: 0, ...c.stats });
    expect(result.attempts.flatMap((a) => a.notes.map((n) => `${n.kind}: ${n.detail}`))).toEqual(c.notes ?? []);
    expect(result.attempts.reduce((n, a) => n + a.samples, 0)).toBe(c.samples.length);
  });

  it("reports the merge ratio per attempt", () => {
    const { attempts } = mergeTransitions([call("a", [1], [2]), call("a", [1, 2], [3]), call("a", [9], [4]), call("b", [5], [6])]);
    expect(attempts).toEqual([{ rolloutId: "ro-1", attemptId: "at-1", samples: 3, candidates: 2, merges: 1, mismatches: 1, lengthSplits: 0, mergeRatio: 0.5, notes: [expect.objectContaining({ kind: "mismatch" })] }]);
    expect(mergeTransitions([call("a", [1], [2])]).attempts[0]!.mergeRatio).toBeNull();
  });

  it("aligns logprobs with the response tokens: null for inserted tokens and for calls without logprobs", () => {
    const [sample] = mergeTransitions([
      call("a", [1], [2, 3]),
      { ...call("a", [1, 2, 3, 90], [4]), response: { tokenIds: [4], logprobs: [-0.4] } },
      call("a", [1, 2, 3, 90, 4], [5]),
    ]).samples;
    expect(sample!.responseIds).toEqual([2, 3, 90, 4, 5]);
    expect(sample!.logprobs).toEqual([null, null, null, -0.4, null]);
    const [none] = mergeTransitions([call("a", [1], [2]), call("a", [1, 2], [3])]).samples;
    expect(none).not.toHaveProperty("logprobs");
  });

  it("carries rollout, group, agent, policy version and credit policy, and combines rewards by the policy", () => {
    const t = (prompt: number[], response: number[], reward: number | undefined, creditPolicy: string) =>
      call("a", prompt, response, { groupId: "g1", policyVersion: 3, creditPolicy, ...(reward === undefined ? { reward: undefined } : { reward }) });
    const merged = (creditPolicy: string, rewards: Array<number | undefined>) =>
      mergeTransitions([t([1], [2], rewards[0], creditPolicy), t([1, 2], [3], rewards[1], creditPolicy)]).samples[0]!;
    expect(merged("discounted(0.5)", [0.75, 0.5])).toMatchObject({ rolloutId: "ro-1", groupId: "g1", agentName: "a", policyVersion: 3, creditPolicy: "discounted(0.5)", reward: 0.75 });
    expect(merged("lastCall", [undefined, 1]).reward).toBe(1);
    expect(merged("perCall", [0.5, 0.25]).reward).toBe(0.75);
    expect(merged("final", [1, 1]).reward).toBe(1);
    expect(merged("mine", [0.1, 0.2]).reward).toBe(0.2);
    expect(merged("perCall", [undefined, undefined])).not.toHaveProperty("reward");
  });

  it("never changes the transitions' token arrays", () => {
    const first = call("a", [1], [2]);
    const second = call("a", [1, 2, 3], [4]);
    mergeTransitions([first, second]);
    expect([first.prompt.tokenIds, first.response.tokenIds, second.prompt.tokenIds]).toEqual([[1], [2], [1, 2, 3]]);
  });

  it.each([
    [[1, 2, 3], [1], [2], true],
    [[1, 2], [1], [2], true],
    [[1], [1], [2], false],
    [[1, 3, 2], [1], [2], false],
    [[5], [], [], true],
  ])("startsWithSequence(%j, %j, %j) is %s", (ids, a, b, expected) => {
    expect(startsWithSequence(ids, a, b)).toBe(expected);
  });
});
