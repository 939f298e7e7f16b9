/**
 * The behaviour filter's pure core: options checked with paths, the policy's action per finding,
 * penalties shared out under the cap, group findings, findings as spans and back — and that the
 * adapters never take a finding span for a call or a reward.
 */
import { describe, expect, it } from "vitest";
import { BehaviourFilter, behaviourHooks, type Detector, Trainer, ValidationError } from "tracetrain";
import { adaptAttempt, findingSpan, findingSpanId, findingsOf, type RecordedFinding, TraceAdapter } from "tracetrain/adapters";
import { Attr, SpanNames, SpanTypes, type SpanInput } from "tracetrain/schemas";
import { secretWord } from "../support/behaviour.js";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const ROOT = "b7ad6b7169203331";
const CALL = "00f067aa0ba902b7";

/** A one-call attempt whose model answered `answer`, with a final reward. */
function attemptSpans(answer: string, rolloutId = "r1"): SpanInput[] {
  const base = { rolloutId, attemptId: `${rolloutId}.a1`, traceId: TRACE };
  return [
    { ...base, spanId: ROOT, name: SpanNames.rollout, startTime: 1, endTime: 10, attributes: { [Attr.spanType]: SpanTypes.rollout } },
    {
      ...base,
      spanId: CALL,
      parentId: ROOT,
      name: "chat mock",
      startTime: 2,
      endTime: 3,
      attributes: {
        [Attr.spanType]: SpanTypes.llm,
        [Attr.operationName]: "chat",
        [Attr.inputMessages]: [{ role: "user", content: "hi" }],
        [Attr.outputMessages]: [{ role: "assistant", content: answer }],
      },
    },
    { ...base, spanId: "c2a2d4b3e1f0a9b8", parentId: ROOT, name: SpanNames.reward, startTime: 4, endTime: 4, attributes: { [Attr.spanType]: SpanTypes.reward, [Attr.rewardValue]: 1, [Attr.rewardFinal]: true } },
  ];
}

function adapted(answer: string, rolloutId = "r1") {
  const spans = attemptSpans(answer, rolloutId);
  return adaptAttempt({ rolloutId, attemptId: `${rolloutId}.a1`, spans });
}


/** Two low findings per attempt, whatever it did. */
const chatty: Detector = {
  name: "chatty",
  inspect: () => [
    { rule: "first", severity: "low", message: "one", evidence: "" },
    { rule: "second", severity: "low", message: "two", evidence: "" },
  ],
};

describe("BehaviourFilter options", () => {
  it("rejects bad options with a ValidationError naming the field", () => {
    const cases: Array<[unknown, string]> = [
      [{ detectors: [] }, "detectors"],
      [{ detectors: [{ name: "x" }] }, "detectors[0]"],
      [{ detectors: [secretWord], policy: { "secret-word": "ban" } }, 'policy["secret-word"]'],
      [{ detectors: [secretWord], penalty: { perFinding: -1 } }, "penalty.perFinding"],
      [{ detectors: [secretWord], penalty: { perFinding: 1, extra: 2 } }, "penalty"],
      [{ detectors: [secretWord], policy: { "secret-wrod": "stop" } }, 'policy["secret-wrod"]'],
      [{ detectors: [secretWord, { ...secretWord }] }, "detectors[1].name"],
      [{ detectors: [secretWord], policy: { "secret-word": { action: "log", minSeverity: "huge" } } }, 'policy["secret-word"]'],
    ];
    for (const [options, path] of cases) {
      let error: unknown;
      try {
        new BehaviourFilter(options as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path).some((p) => p.startsWith(path)), `${path} in ${JSON.stringify((error as ValidationError).issues)}`).toBe(true);
    }
  });

  it("rejects a trainer's behaviour that is not a filter, and live hooks without a store, naming the field", () => {
    const pathOf = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((i) => i.path);
      }
      throw new Error("expected a ValidationError");
    };
    expect(pathOf(() => new Trainer({ store: "memory", behaviour: { detectors: [secretWord] } as never }))).toEqual(["behaviour"]);
    const filter = new BehaviourFilter({ detectors: [secretWord] });
    expect(pathOf(() => behaviourHooks(filter, { store: {} as never }))).toEqual(["store"]);
    expect(pathOf(() => behaviourHooks(filter, { store: { addSpans: async () => ({ added: 0, duplicates: 0 }) } as never, extra: 1 } as never))).toEqual([""]);
  });

  it("gives each finding its detector's action, refined per rule and by severity; unnamed detectors only log", () => {
    const filter = new BehaviourFilter({
      detectors: [secretWord, chatty],
      policy: { "secret-word": { action: "penalize", rules: { "said-secret": "exclude" }, minSeverity: "high" } },
    });
    const f = (rule: string, severity: "low" | "medium" | "high" | "critical", detector = "secret-word") => filter.actionFor({ detector, rule, severity });
    expect(f("said-secret", "high")).toBe("exclude");
    expect(f("said-secret", "critical")).toBe("exclude");
    expect(f("said-secret", "medium")).toBe("log");
    expect(f("other", "high")).toBe("penalize");
    expect(f("first", "critical", "chatty")).toBe("log");
  });
});

describe("BehaviourFilter judging", () => {
  it("finds what the detector says, fills in detector, rollout and attempt, and points at the call", () => {
    const filter = new BehaviourFilter({ detectors: [secretWord] });
    expect(filter.inspect(adapted("nothing to see"))).toEqual([]);
    const [finding] = filter.inspect(adapted("the SECRET is out"));
    expect(finding).toEqual({ detector: "secret-word", rule: "said-secret", severity: "high", message: "the answer says SECRET", evidence: "SECRET", rolloutId: "r1", attemptId: "r1.a1", spanId: CALL, scope: "attempt" });
  });

  it("shares out penalties finding by finding up to the cap, counting what is already recorded", () => {
    const filter = new BehaviourFilter({ detectors: [chatty, secretWord], policy: { chatty: "penalize" }, penalty: { perFinding: 0.4, maxPerRollout: 0.6 } });
    const found = filter.inspect(adapted("fine"));
    const decision = filter.judge([], found);
    expect(decision.added.map((f) => f.penalty)).toEqual([-0.4, -0.2]);
    expect(decision.penalty).toBeCloseTo(-0.6);
    expect(decision.excluded).toBe(false);
    // Judged again with the first one recorded: only the second is added, and it takes what the cap leaves.
    const again = filter.judge([decision.added[0]!], found);
    expect(again.added.map((f) => [f.rule, f.penalty])).toEqual([["second", -0.2]]);
    expect(again.penalty).toBeCloseTo(-0.6);
    // Judged with both recorded: nothing to add, the same decision.
    const third = filter.judge(decision.added, found);
    expect(third.added).toEqual([]);
    expect(third.penalty).toBeCloseTo(-0.6);
  });

  it("excludes for exclude and stop, and names the first stopping finding", () => {
    const filter = new BehaviourFilter({ detectors: [chatty], policy: { chatty: { action: "log", rules: { first: "exclude", second: "stop" } } } });
    const decision = filter.judge([], filter.inspect(adapted("x")));
    expect(decision.excluded).toBe(true);
    expect(decision.penalty).toBe(0);
    expect(decision.stop).toMatchObject({ detector: "chatty", rule: "second", action: "stop" });
  });

  it("gives a group finding to the rollout it names, or to every member; a name outside the group is an error", () => {
    const identical: Detector = {
      name: "identical",
      inspectGroup: (members) => [
        { rule: "same-answers", severity: "medium", message: `${members.length} identical answers`, evidence: "" },
        { rule: "the-one", severity: "low", message: "this one", evidence: "", rolloutId: members[1]!.attempt.rolloutId },
      ],
    };
    const filter = new BehaviourFilter({ detectors: [identical] });
    const found = filter.inspectGroup([
      { attempt: adapted("a", "r1"), reward: 1 },
      { attempt: adapted("a", "r2"), reward: 0 },
    ]);
    expect(found.map((f) => [f.rolloutId, f.rule, f.scope])).toEqual([
      ["r1", "same-answers", "group"],
      ["r2", "same-answers", "group"],
      ["r2", "the-one", "group"],
    ]);
    const stray = new BehaviourFilter({ detectors: [{ name: "stray", inspectGroup: () => [{ rule: "x", severity: "low", message: "m", evidence: "", rolloutId: "elsewhere" }] }] });
    expect(() => stray.inspectGroup([{ attempt: adapted("a"), reward: 1 }])).toThrow(ValidationError);
  });

  it("reports a detector that throws or returns a malformed finding, by name", () => {
    const broken = new BehaviourFilter({ detectors: [{ name: "broken", inspect: () => { throw new Error("regex exploded"); } }] });
    expect(() => broken.inspect(adapted("x"))).toThrow("behaviour detector 'broken' failed on r1: regex exploded");
    const malformed = new BehaviourFilter({ detectors: [{ name: "malformed", inspect: () => [{ rule: "", severity: "high", message: "m", evidence: "" }] }] });
    expect(() => malformed.inspect(adapted("x"))).toThrow(/finding of behaviour detector 'malformed'.*rule/);
  });

  it("runs run detectors over the step history and gives their findings an action", () => {
    const falling: Detector = {
      name: "val-falls",
      observeSteps: (history) => {
        const [a, b] = history.slice(-2);
        return a && b && b.trainReward! > a.trainReward! && b.valReward! < a.valReward! ? [{ rule: "train-up-val-down", severity: "high", message: "train reward rises while validation falls", evidence: "" }] : [];
      },
    };
    const filter = new BehaviourFilter({ detectors: [falling], policy: { "val-falls": "stop" } });
    const step = (n: number, trainReward: number, valReward: number) => ({ step: n, trainReward, valReward, outputTokens: null });
    expect(filter.observeSteps([step(1, 0.2, 0.5)])).toEqual([]);
    expect(filter.observeSteps([step(1, 0.2, 0.5), step(2, 0.6, 0.3)])).toEqual([{ detector: "val-falls", rule: "train-up-val-down", severity: "high", message: "train reward rises while validation falls", evidence: "", step: 2, action: "stop" }]);
  });
});

describe("findings as spans", () => {
  it("writes a finding as a child span of the call it points at and reads it back unchanged", () => {
    const filter = new BehaviourFilter({ detectors: [secretWord], policy: { "secret-word": "penalize" } });
    const [added] = filter.judge([], filter.inspect(adapted("SECRET"))).added;
    const span = findingSpan(added!, { traceId: TRACE, parentId: CALL, time: 3 });
    expect(span).toMatchObject({ name: "tracetrain.behaviour.finding", parentId: CALL, traceId: TRACE, spanId: findingSpanId(added!), attributes: { [Attr.spanType]: "behaviour", [Attr.behaviourPenalty]: -0.5, [Attr.behaviourAction]: "penalize", [Attr.behaviourTarget]: CALL } });
    const [read] = findingsOf([...attemptSpans("SECRET"), span]);
    expect(read).toEqual<RecordedFinding>(added!);
  });

  it("leaves transitions, rewards, chat records and token samples exactly as without the finding spans", () => {
    const filter = new BehaviourFilter({ detectors: [secretWord, chatty], policy: { "secret-word": "penalize" } });
    const spans = attemptSpans("the SECRET");
    const findings = filter.judge([], filter.inspect(adaptAttempt({ rolloutId: "r1", attemptId: "r1.a1", spans }))).added;
    expect(findings).toHaveLength(3);
    const withFindings = [...spans, ...findings.map((f) => findingSpan(f, { traceId: TRACE, parentId: f.spanId ?? ROOT, time: 3 }))];
    const adapter = new TraceAdapter();
    expect(adapter.toTransitions(withFindings)).toEqual(adapter.toTransitions(spans));
    expect(adapter.toChatMessages(withFindings)).toEqual(adapter.toChatMessages(spans));
    expect(adapter.toMergedSamples(withFindings)).toEqual(adapter.toMergedSamples(spans));
    const [d] = adapter.diagnose(withFindings);
    expect(d).toMatchObject({ callsFound: 1, finalReward: 1, intermediateRewards: { found: 0, attached: 0 }, dropped: [] });
  });

  it("refuses a finding span that does not read as one, naming it", () => {
    const bad: SpanInput = { rolloutId: "r1", attemptId: "r1.a1", traceId: TRACE, spanId: "1111111111111111", name: SpanNames.behaviourFinding, startTime: 1, endTime: 1, attributes: { [Attr.spanType]: "behaviour", [Attr.behaviourDetector]: "x" } };
    expect(() => findingsOf([bad])).toThrow(/behaviour finding span 1111111111111111/);
  });
});
