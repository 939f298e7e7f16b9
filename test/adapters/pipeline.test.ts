/**
 * The adapter pipeline step by step, on hand-built span sets: tree and order, deduplication,
 * agent names and selection, reward assignment, malformed attributes.
 */
import { describe, expect, it } from "vitest";
import { adaptSpans, buildSpanTree, diagnose, toChatMessages, toTransitions } from "tracetrain/adapters";
import { type Span } from "tracetrain";
import { AT, RO, agentSpan, llm, reward, root, sid, span } from "./build.js";

const only = (spans: Span[], options: Parameters<typeof adaptSpans>[1] = {}) => {
  const attempts = adaptSpans(spans, options);
  expect(attempts).toHaveLength(1);
  return attempts[0]!;
};

describe("span tree", () => {
  it("orders by the store's sequence, not by clocks", () => {
    // Span 3 ended first by the store's numbering although its clock says otherwise (skew).
    const tree = buildSpanTree([span(1, { seq: 2 }), span(2, { seq: 3 }), span(3, { seq: 1, start: 100, end: 101 })]);
    expect(tree.ordering).toBe("sequence");
    expect(tree.nodes.map((n) => n.spanId)).toEqual([sid(3), sid(1), sid(2)]);
  });

  it("falls back to end time, then start time, when a span has no sequence", () => {
    const { sequence: _, ...unsequenced } = span(3, { start: 0, end: 1 });
    const tree = buildSpanTree([span(1, { start: 0, end: 5 }), span(2, { start: 1, end: 5 }), unsequenced]);
    expect(tree.ordering).toBe("time");
    expect(tree.nodes.map((n) => n.spanId)).toEqual([sid(3), sid(1), sid(2)]);
  });

  it("stands in a virtual node for a missing parent, keeping its children together", () => {
    const tree = buildSpanTree([root(1), span(2, { parent: 9 }), span(3, { parent: 9 }), span(4, { parent: 1 })]);
    expect(tree.virtualParents).toBe(1);
    expect(tree.roots.map((r) => [r.spanId, r.span === undefined])).toEqual([
      [sid(1), false],
      [sid(9), true],
    ]);
    expect(tree.byId.get(sid(9))!.children.map((c) => c.spanId)).toEqual([sid(2), sid(3)]);
  });

  it("cuts parent cycles and keeps the first of two spans with one id", () => {
    const first = span(1, { parent: 2, name: "first" });
    const result = only([first, span(2, { parent: 1 }), span(3, { parent: 3 }), { ...span(1, { name: "copy" }), sequence: 10 }]);
    expect(result.tree.nodes.map((n) => n.span!.name)).toEqual(["first", "span 2", "span 3"]);
    expect(result.diagnostics.dropped.map((d) => [d.spanId, d.reason])).toEqual([
      [sid(1), "duplicate_span_id"],
      [sid(2), "parent_cycle"],
      [sid(3), "parent_cycle"],
    ]);
  });

  it("splits span sets by attempt", () => {
    const spans = [llm(1), llm(2, { attemptId: "at-2" }), llm(3)];
    expect(adaptSpans(spans).map((a) => [a.attemptId, a.trajectory.transitions.map((t) => t.callId)])).toEqual([
      [AT, [sid(1), sid(3)]],
      ["at-2", [sid(2)]],
    ]);
  });
});

describe("call extraction", () => {
  it("keeps one record per response id: the one with token ids, filling in what it lacks from the other", () => {
    // The outer record (say LangChain) has the agent name; the inner (openai) has the token ids.
    const spans = [root(1), llm(2, { parent: 1, responseId: "r1", agent: "writer" }), llm(3, { parent: 2, responseId: "r1", prompt: [1, 2], response: [3] })];
    const attempt = only(spans);
    expect(attempt.calls.map((c) => [c.callId, c.agentName, c.aliases])).toEqual([[sid(3), "writer", [sid(2)]]]);
    expect(attempt.trajectory.transitions.map((t) => [t.callId, t.textOnly, t.prompt.tokenIds])).toEqual([[sid(3), false, [1, 2]]]);
    expect(attempt.diagnostics.dropped).toEqual([{ spanId: sid(2), reason: "duplicate_call", detail: `another record of call r1 (kept: span ${sid(3)})` }]);
  });

  it("prefers the innermost record when both are equally rich, and the earlier when unrelated", () => {
    expect(only([llm(2, { responseId: "r" }), llm(3, { parent: 2, responseId: "r" })]).calls[0]!.callId).toBe(sid(3));
    expect(only([llm(2, { responseId: "r" }), llm(3, { responseId: "r" })]).calls[0]!.callId).toBe(sid(2));
  });

  it("drops wrappers, failed calls and calls without a response, saying why", () => {
    const spans = [
      root(1),
      llm(2, { parent: 1, type: "llm_run", extra: { "tracetrain.llm.recorded_by": "openai" } }),
      llm(3, { parent: 2 }),
      llm(4, { parent: 1 }), // an LLM span with no response id around another call: a wrapper
      llm(5, { parent: 4 }),
      llm(6, { parent: 1, status: { code: "error", message: "429 Too Many Requests" }, extra: { "error.type": "429" } }),
      llm(7, { parent: 1, attributes: { "gen_ai.output.messages": [] } }),
    ];
    const attempt = only(spans);
    expect(attempt.calls.map((c) => c.callId)).toEqual([sid(3), sid(5)]);
    expect(attempt.calls[0]!.aliases).toEqual([sid(2)]);
    expect(attempt.diagnostics.dropped).toEqual([
      { spanId: sid(2), reason: "wrapper_call", detail: "a framework's record of a call that the openai layer recorded in full" },
      { spanId: sid(6), reason: "failed_call", detail: "the call failed (429): 429 Too Many Requests" },
      { spanId: sid(7), reason: "no_response", detail: "the call recorded no output message and no response token ids" },
      { spanId: sid(4), reason: "wrapper_call", detail: "an LLM span without a response id around another recorded call" },
    ]);
  });

  it("names the agent from the call, its gen_ai.agent.name, or the nearest agent span", () => {
    const spans = [
      root(1, { attributes: { "tracetrain.agent.name": "outer" } }),
      agentSpan(2, "planner", { parent: 1 }),
      llm(3, { parent: 2, agent: "own" }),
      llm(4, { parent: 2, extra: { "gen_ai.agent.name": "genai" } }),
      llm(5, { parent: 2 }),
      llm(6, { parent: 1 }),
      llm(7),
    ];
    expect(only(spans).calls.map((c) => c.agentName)).toEqual(["own", "genai", "planner", "outer", undefined]);
  });

  it("selects agents by name or RegExp; a call without a name is left out when agents are chosen", () => {
    const spans = [llm(1, { agent: "writer" }), llm(2, { agent: "checker" }), llm(3)];
    const attempt = only(spans, { agents: /^writer$/g });
    expect(attempt.calls.map((c) => [c.selected, c.exclusion])).toEqual([
      [true, undefined],
      [false, "agent_not_selected"],
      [false, "no_agent_name"],
    ]);
    // A global RegExp's lastIndex never makes selection depend on history.
    expect(toTransitions([...spans, llm(4, { agent: "writer" })], { agents: /^writer$/g }).map((t) => t.callId)).toEqual([sid(1), sid(4)]);
  });

  it("reads one transition per choice of an n > 1 call", () => {
    const call = llm(1, {
      attributes: {
        "gen_ai.output.messages": [
          { role: "assistant", content: "a", finish_reason: "stop" },
          { role: "assistant", content: "b", finish_reason: "length" },
        ],
        "tracetrain.llm.prompt_token_ids": [1],
        "tracetrain.llm.response_token_ids": [[2], [3, 4]],
      },
    });
    expect(toTransitions([call]).map((t) => [t.choiceIndex, t.response.message?.content, t.response.finishReason, t.response.tokenIds])).toEqual([
      [0, "a", "stop", [2]],
      [1, "b", "length", [3, 4]],
    ]);
  });
});

describe("malformed attributes are reported and skipped, never thrown", () => {
  it("skips a malformed value and keeps the call", () => {
    const spans = [
      llm(1, { input: "not a list" as never, extra: { "tracetrain.llm.prompt_token_ids": [1, -2], "tracetrain.llm.response_token_ids": [[5, 6]], "tracetrain.llm.logprobs": [[-0.1]] } }),
      llm(2, { extra: { "tracetrain.llm.policy_version": 1.5, "tracetrain.agent.name": 7 } }),
    ];
    const attempt = only(spans);
    expect(attempt.trajectory.transitions.map((t) => [t.prompt, t.response.tokenIds, t.response.logprobs, t.textOnly, t.agentName, t.policyVersion])).toEqual([
      [{}, [5, 6], undefined, true, undefined, undefined],
      [{ messages: [{ role: "user", content: "question 2" }] }, undefined, undefined, true, undefined, undefined],
    ]);
    expect(attempt.diagnostics.dropped.map((d) => [d.spanId, d.detail])).toEqual([
      [sid(1), "tracetrain.llm.logprobs: choice 0 has 1 logprobs for 2 tokens; ignored"],
      [sid(1), 'gen_ai.input.messages: expected a list of messages, got the text "not a list"; ignored'],
      [sid(1), "tracetrain.llm.prompt_token_ids: token 1 is -2, not a non-negative integer; ignored"],
      [sid(2), "tracetrain.agent.name: expected a string, got 7; ignored"],
      [sid(2), "tracetrain.llm.policy_version: expected a string or a whole number, got 1.5; ignored"],
    ]);
  });

  it("reads structured values recorded as JSON text (as OpenTelemetry attributes carry them)", () => {
    const call = llm(1, {
      attributes: {
        "gen_ai.input.messages": JSON.stringify([{ role: "user", content: "hi" }]),
        "gen_ai.output.messages": JSON.stringify([{ role: "assistant", content: "hello" }]),
        "tracetrain.llm.prompt_token_ids": "[1, 2]",
        "tracetrain.llm.response_token_ids": "[[3]]",
      },
    });
    expect(toTransitions([call]).map((t) => [t.prompt, t.response.message, t.textOnly])).toEqual([[{ messages: [{ role: "user", content: "hi" }], tokenIds: [1, 2] }, { role: "assistant", content: "hello" }, false]]);
  });

  it("never trains on an empty message: a call without exact token ids is left out, one with them stays a token sample only", () => {
    const empty = { role: "assistant", content: "", finish_reason: "stop" };
    const spans = [
      llm(1, { output: empty }),
      llm(2, { output: empty, prompt: [1, 2], response: [3] }),
      llm(3, { input: [{ role: "user", content: [{ type: "text", text: "" }] }] }),
      llm(4, { attributes: { "gen_ai.input.messages": null } }),
    ];
    const attempt = only(spans);
    expect(attempt.calls.map((c) => [c.callId, c.selected, c.exclusion])).toEqual([
      [sid(1), false, "unreadable_message"],
      [sid(2), true, undefined],
      [sid(3), false, "unreadable_message"],
      [sid(4), true, undefined],
    ]);
    expect(attempt.diagnostics.dropped).toEqual([
      { spanId: sid(1), reason: "unreadable_message", detail: "gen_ai.output.messages: message 0 (assistant) has no text, tool call or media — the call is not training data" },
      { spanId: sid(3), reason: "unreadable_message", detail: "gen_ai.input.messages: message 0 (user) has no text, tool call or media — the call is not training data" },
    ]);
    expect(attempt.diagnostics.warnings).toEqual([
      `call ${sid(2)}: gen_ai.output.messages: message 0 (assistant) has no text, tool call or media — left out of chat records, kept as a token sample (exact token ids)`,
      `call ${sid(4)}: gen_ai.input.messages: no prompt message was recorded — left out of chat records`,
    ]);
    expect(attempt.trajectory.transitions.map((t) => [t.callId, t.textOnly])).toEqual([
      [sid(2), false],
      [sid(4), true],
    ]);
    expect(toChatMessages(spans, { per: "call" })).toEqual([]);
  });

  it("treats foreign GenAI spans without a tracetrain type as calls", () => {
    const foreign = span(1, { attributes: { "gen_ai.operation.name": "chat", "gen_ai.output.messages": [{ role: "assistant", content: "x" }] } });
    expect(toTransitions([foreign]).map((t) => t.response.message)).toEqual([{ role: "assistant", content: "x" }]);
  });
});

describe("reward assignment", () => {
  it("takes the attempt's final reward over spans, and says when they disagree", () => {
    const spans = [llm(1), reward(2, 0.3)];
    expect(only(spans).diagnostics).toMatchObject({ finalReward: 0.3, finalRewardSource: "span", rewardFound: true, warnings: [] });
    const attempt = only(spans, { context: { finalReward: 0.9 } });
    expect(attempt.diagnostics).toMatchObject({ finalReward: 0.9, finalRewardSource: "attempt" });
    expect(attempt.diagnostics.warnings).toEqual(["the attempt's final reward (0.9) differs from the last final reward span (0.3); the attempt's counts"]);
    expect(only(spans, { context: () => ({ finalReward: null }) }).diagnostics.finalRewardSource).toBe("span");
    expect(only([llm(1)]).diagnostics).toMatchObject({ rewardFound: false, finalReward: null, finalRewardSource: "none" });
  });

  it("uses the last of several final rewards, with a warning", () => {
    const attempt = only([llm(1), reward(2, 0.1), reward(3, 0.7, { final: true })]);
    expect(attempt.rewards.finalReward).toBe(0.7);
    expect(attempt.diagnostics.warnings).toEqual(["2 final rewards were emitted; the last one (0.7) counts"]);
  });

  it("attaches an intermediate reward to the call its call_id names: span id, another record's id, or response id", () => {
    const spans = [
      llm(1, { type: "llm_run" }),
      llm(2, { parent: 1, responseId: "resp-2" }),
      llm(3),
      llm(4),
      reward(5, 1, { callId: sid(3) }),
      reward(6, 2, { callId: sid(1) }),
      reward(7, 4, { callId: "resp-2" }),
      reward(8, 8, { callId: "nope" }),
    ];
    const attempt = only(spans);
    expect(Object.fromEntries(attempt.rewards.intermediate)).toEqual({ [sid(2)]: 6, [sid(3)]: 1 });
    expect(attempt.diagnostics.intermediateRewards).toEqual({ found: 4, attached: 3 });
    expect(attempt.diagnostics.dropped.filter((d) => d.reason.startsWith("reward"))).toEqual([
      { spanId: sid(8), reason: "reward_unknown_call", detail: "call_id 'nope' names no LLM call of this attempt" },
    ]);
  });

  it("without call_id, attaches to the latest earlier call of the reward's agent", () => {
    const spans = [
      llm(1, { agent: "a" }),
      llm(2, { agent: "b" }),
      reward(3, 0.5, { final: false, agent: "a" }),
      reward(4, 0.25, { final: false, agent: "b" }),
      reward(5, 0.125, { final: false }),
      llm(6, { agent: "a" }),
      reward(7, 1, { final: false, agent: "c" }),
    ];
    const attempt = only(spans);
    expect(Object.fromEntries(attempt.rewards.intermediate)).toEqual({ [sid(1)]: 0.5, [sid(2)]: 0.375 });
    expect(attempt.diagnostics.dropped).toEqual([{ spanId: sid(7), reason: "reward_no_earlier_call", detail: "no earlier LLM call of agent 'c' to attach it to" }]);
  });

  it("drops rewards for calls that are not selected, and rewards without a value", () => {
    const spans = [llm(1, { agent: "checker" }), reward(2, 1, { callId: sid(1) }), reward(3, 0, { attributes: { "tracetrain.reward.value": "high" } })];
    const attempt = only(spans, { agents: ["writer"] });
    expect(attempt.diagnostics.dropped.map((d) => [d.spanId, d.reason, d.detail])).toEqual([
      [sid(1), "agent_not_selected", "agent 'checker' is not selected"],
      [sid(3), "malformed_attribute", 'tracetrain.reward.value: expected a finite number, got the text "high"; ignored'],
      [sid(3), "reward_no_value", "the reward span has no numeric value (did the reward function throw?)"],
      [sid(2), "reward_call_not_selected", `its call ${sid(1)} is not selected (agent not selected)`],
    ]);
  });

  it("never gives a reward to the judge inside it, nor to calls inside other rewards", () => {
    const spans = [llm(1, { agent: "a" }), reward(3, 0.5, { final: false, agent: "a" }), llm(2, { parent: 3, agent: "a" })];
    // The judge (span 2) ends before its reward span does, yet the reward goes to call 1.
    const attempt = only(spans.map((s) => (s.spanId === sid(3) ? { ...s, sequence: 9 } : s)));
    expect(Object.fromEntries(attempt.rewards.intermediate)).toEqual({ [sid(1)]: 0.5 });
    expect(attempt.calls.map((c) => [c.callId, c.selected, c.exclusion])).toEqual([
      [sid(1), true, undefined],
      [sid(2), false, "inside_reward"],
    ]);
  });
});

describe("diagnostics", () => {
  it("explains why an attempt gave nothing", () => {
    expect(diagnose([root(1)])[0]!.warnings).toEqual(["no LLM call was recorded in this attempt"]);
    expect(diagnose([llm(1, { status: { code: "error" } })])[0]!.warnings).toEqual(["no usable LLM call: 1 call(s) failed or returned nothing"]);
    expect(diagnose([llm(1, { agent: "x" }), llm(2)], { agents: ["y"] })[0]!.warnings).toEqual(["none of the 2 LLM call(s) was selected (1 agent not selected, 1 no agent name)"]);
  });

  it("identifies the attempt and counts what it found", () => {
    expect(diagnose([root(1), llm(2, { parent: 1, prompt: [1], response: [2] }), llm(3, { parent: 1 }), reward(4, 1)], { context: { groupId: "g" } })).toEqual([
      {
        rolloutId: RO,
        attemptId: AT,
        spans: 4,
        ordering: "sequence",
        virtualParents: 0,
        callsFound: 2,
        callsSelected: 2,
        callsWithTokenIds: 1,
        rewardFound: true,
        finalReward: 1,
        finalRewardSource: "span",
        intermediateRewards: { found: 0, attached: 0 },
        creditPolicy: "final",
        dropped: [],
        warnings: [],
      },
    ]);
  });
});
