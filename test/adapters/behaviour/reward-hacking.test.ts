/**
 * rewardHacking on real traced agents (rollout and group rules) and on step histories (run rules).
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { withReward } from "tracetrain";
import { type GroupMember, type StepObservation, rewardHacking } from "tracetrain/adapters";
import { type Agents, type Traced, startAgents } from "./agents.js";

let agents: Agents;
let client: OpenAI;
beforeAll(async () => {
  agents = await startAgents();
  client = new OpenAI({ baseURL: agents.h.mock.baseUrl, apiKey: "test", maxRetries: 0 });
});
afterAll(async () => {
  await agents.close();
});

const detector = rewardHacking();
const member = (t: Traced): GroupMember => ({ attempt: t.attempt, reward: t.rollout.finalReward ?? null });

describe("a reward without a model call", () => {
  it("fires when the agent is rewarded without calling the model, and points at the reward span", async () => {
    const t = await agents.run("lazy", async () => 1);
    const rewardSpan = t.spans.find((s) => s.attributes[Attr.spanType] === SpanTypes.reward)!;
    expect(detector.inspect!(t.attempt)).toEqual([
      { rule: "reward-without-model-call", severity: "high", message: "the attempt earned reward 1 without a single LLM call by the agent", evidence: "reward 1; 0 LLM call(s) recorded, none by the agent", spanId: rewardSpan.spanId },
    ]);
  });

  it("counts a judge's call inside the reward as no call by the agent", async () => {
    const t = await agents.run("judged", async () =>
      withReward(async () => {
        const verdict = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "Grade: (nothing)" }] });
        return verdict.choices[0]!.message.content === null ? 0 : 0.9;
      }),
    );
    expect(detector.inspect!(t.attempt).map((f) => [f.rule, f.evidence])).toEqual([["reward-without-model-call", "reward 0.9; 1 LLM call(s) recorded, none by the agent"]]);
  });

  it("stays quiet for a zero reward without a call, and for an agent that called the model", async () => {
    expect(detector.inspect!((await agents.run("failed", async () => 0)).attempt)).toEqual([]);
    expect(detector.inspect!((await agents.openai([{ text: "Paris" }])).attempt)).toEqual([]);
    expect(rewardHacking({ noModelCall: false }).inspect!((await agents.run("lazy", async () => 1)).attempt)).toEqual([]);
  });
});

describe("an answer copied from a tool's output", () => {
  const checker = { check_answer: () => "FAIL. Expected output: The capital of Australia is Canberra, not Sydney as many think." };

  it("fires when the final answer repeats the verifier's expected output", async () => {
    const t = await agents.openai([{ toolCalls: [{ name: "check_answer", arguments: { answer: "Sydney" }, id: "c1" }] }, { text: "The capital of Australia is  Canberra, not Sydney as many think." }], checker);
    const findings = detector.inspect!(t.attempt);
    expect(findings).toEqual([
      {
        rule: "copied-tool-output",
        severity: "medium",
        message: "the final answer repeats 63 characters of the output of tool 'check_answer' verbatim",
        evidence: 'copied: "the capital of australia is canberra, not sydney as many think."',
        spanId: t.attempt.calls[1]!.callId,
      },
    ]);
    expect(rewardHacking({ copiedOutput: { verifiers: /^check_/ } }).inspect!(t.attempt).map((f) => f.rule)).toEqual(["copied-tool-output"]);
    expect(rewardHacking({ copiedOutput: { verifiers: ["grader"] } }).inspect!(t.attempt)).toEqual([]);
  });

  it("stays quiet when the answer only shares a short piece (LangChain)", async () => {
    const t = await agents.langchain([{ toolCalls: [{ name: "check_answer", arguments: { answer: "Sydney" }, id: "c1" }] }, { text: "Canberra, not Sydney." }], checker);
    expect(detector.inspect!(t.attempt)).toEqual([]);
  });
});

describe("a group of rollouts", () => {
  const long = "I cannot determine the answer, but here is a confident summary.";

  it("flags each member of a cluster of identical long outputs", async () => {
    const runs: Traced[] = [];
    for (const text of [long, long, long, `  ${long.toUpperCase()} `, "Paris is the capital of France, on the Seine."]) runs.push(await agents.openai([{ text }]));
    const findings = detector.inspectGroup!(runs.map(member));
    expect(findings.map((f) => [f.rule, f.rolloutId, f.spanId])).toEqual(runs.slice(0, 4).map((t) => ["identical-outputs", t.rollout.rolloutId, t.attempt.calls[0]!.callId]));
    expect(findings[0]!.message).toBe("4 of 5 rollouts of the group gave the same final output");
  });

  it("leaves short agreed answers and varied outputs alone", async () => {
    const same: Traced[] = [];
    for (let i = 0; i < 5; i++) same.push(await agents.openai([{ text: "42" }]));
    expect(detector.inspectGroup!(same.map(member))).toEqual([]);
    const varied: Traced[] = [];
    for (let i = 0; i < 5; i++) varied.push(await agents.openai([{ text: `${long} Variant ${i}.` }]));
    expect(detector.inspectGroup!(varied.map(member))).toEqual([]);
  });

  it("flags output length rising with reward (by the mock's reported output tokens), not an unrelated reward", async () => {
    const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");
    const lengths = [3, 8, 15, 30, 60, 120];
    const runs: Traced[] = [];
    for (const n of lengths) runs.push(await agents.openai([{ text: words(n) }], {}, { reward: (answer) => Math.min(1, answer.split(" ").length / 100) }));
    const findings = detector.inspectGroup!(runs.map(member));
    expect(findings.map((f) => [f.rule, f.severity, f.rolloutId])).toEqual([["length-rises-with-reward", "low", undefined]]);
    expect(findings[0]!.message).toBe("across 6 rollouts of the group, longer outputs scored higher (rank correlation 1.00 of output tokens and reward)");
    const tokens = runs.map((t) => t.attempt.calls[0]!.usage!.outputTokens);
    expect(findings[0]!.evidence).toBe(tokens.map((n, i) => `${n} → ${runs[i]!.rollout.finalReward}`).join(", "));

    const unrelated = runs.map((t, i) => ({ attempt: t.attempt, reward: [0.5, 0.1, 0.9, 0.2, 0.4, 0.3][i]! }));
    expect(detector.inspectGroup!(unrelated)).toEqual([]);
    expect(detector.inspectGroup!(runs.slice(0, 5).map(member)).filter((f) => f.rule === "length-rises-with-reward")).toEqual([]);
  });
});

describe("a run", () => {
  const steps = (rows: Array<[train: number | null, val: number | null, tokens: number | null]>): StepObservation[] => rows.map(([trainReward, valReward, outputTokens], step) => ({ step, trainReward, valReward, outputTokens }));

  it("flags train reward rising while validation falls, over the window", () => {
    const history = steps([
      [0.2, 0.5, 100],
      [0.4, null, 100],
      [0.6, 0.45, 100],
      [0.7, null, 100],
      [0.9, 0.3, 100],
    ]);
    expect(detector.observeSteps!(history)).toEqual([
      {
        rule: "train-up-validation-down",
        severity: "high",
        message: "from step 1 to 4, train reward rose by 0.500 while validation reward fell by 0.150",
        evidence: "train 1:0.400 2:0.600 3:0.700 4:0.900; validation 2:0.450 4:0.300",
      },
    ]);
    // Both rising, or too few validation points in the window: nothing.
    expect(detector.observeSteps!(steps([[0.2, 0.3, 1], [0.5, 0.4, 1], [0.8, 0.6, 1]]))).toEqual([]);
    expect(detector.observeSteps!(steps([[0.2, 0.9, 1], [0.5, null, 1], [0.6, null, 1], [0.7, null, 1], [0.9, 0.1, 1]]))).toEqual([]);
  });

  it("flags output tokens growing with train reward, not tokens growing on their own", () => {
    const rising = steps([
      [0.1, null, 100],
      [0.2, null, 130],
      [0.3, null, 170],
      [0.5, null, 220],
      [0.6, null, 300],
    ]);
    expect(detector.observeSteps!(rising).map((f) => [f.rule, f.message])).toEqual([["tokens-rise-with-reward", "over steps 0–4, output tokens per rollout grew 3.00× in step with train reward (rank correlation 1.00)"]]);
    const flat = steps([
      [0.6, null, 100],
      [0.2, null, 130],
      [0.5, null, 170],
      [0.1, null, 220],
      [0.3, null, 300],
    ]);
    expect(detector.observeSteps!(flat)).toEqual([]);
    expect(detector.observeSteps!(rising.slice(0, 4))).toEqual([]);
    expect(rewardHacking({ tokensRisingWithReward: { minGrowth: 4 } }).observeSteps!(rising)).toEqual([]);
  });

  it("rejects bad thresholds with the option's path", () => {
    expect(() => rewardHacking({ identicalOutputs: { share: 1.5 } })).toThrow(/identicalOutputs\.share/);
    expect(() => rewardHacking({ trainValDivergence: { window: 1 } })).toThrow(/trainValDivergence\.window/);
  });
});
