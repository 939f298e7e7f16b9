/** GEPA's pure parts: the Pareto frontier and parent selection, the minibatch gate, component matching, options. */
import { describe, expect, it } from "vitest";
import { ValidationError } from "tracetrain";
import { bestByMean, frontier, meanScore, nonDominated, selectionWeights, selectParent } from "../../src/algorithms/gepa/pareto.js";
import { minibatchGate } from "../../src/algorithms/gepa/gate.js";
import { blamedComponent, literalPieces, selectComponents, shapedBy } from "../../src/algorithms/gepa/components.js";
import { GEPA } from "../../src/algorithms/gepa/index.js";
import { mergeTasks, pairKey, planMerge } from "../../src/algorithms/gepa/merge.js";

const client = { chat: { completions: { create: async () => ({ choices: [{ message: { content: "" } }] }) } } };

describe("Pareto frontier", () => {
  it("takes the best score per task and every candidate that reaches it", () => {
    const front = frontier([
      { id: "seed", scores: [1, 0, 0, 0.5] },
      { id: "a", scores: [1, 1, 0, 0.2] },
      { id: "b", scores: [0, 0, 1, 0.2] },
    ]);
    expect(front.best).toEqual([1, 1, 1, 0.5]);
    expect(front.winners).toEqual([["seed", "a"], ["a"], ["b"], ["seed"]]);
  });

  it("ignores tasks a candidate did not run (NaN) and leaves a task nobody ran without winners", () => {
    const front = frontier([
      { id: "x", scores: [Number.NaN, 0.3] },
      { id: "y", scores: [Number.NaN, 0.1] },
    ]);
    expect(front.best[0]).toBeNaN();
    expect(front.winners).toEqual([[], ["x"]]);
  });

  it("keeps a candidate that wins only a subset of tasks, though its mean is the lowest", () => {
    const pool = [
      { id: "generalist", scores: [1, 1, 1, 0] },
      { id: "specialist", scores: [0, 0, 0, 1] },
    ];
    expect(meanScore(pool[1]!)).toBeLessThan(meanScore(pool[0]!));
    expect(nonDominated(pool)).toEqual(["generalist", "specialist"]);
    expect(selectionWeights(pool)).toEqual(new Map([["generalist", 3], ["specialist", 1]]));
  });

  it("drops a candidate that wins nothing, and one whose wins are all shared with a kept candidate", () => {
    const pool = [
      { id: "seed", scores: [0, 0, 0] },
      { id: "weak", scores: [1, 0, 0] },
      { id: "strong", scores: [1, 1, 0] },
      { id: "other", scores: [0, 0, 1] },
    ];
    // `seed` wins nothing; `weak` wins task 0 only, which `strong` also wins: dominated.
    expect(nonDominated(pool)).toEqual(["strong", "other"]);
    expect([...selectionWeights(pool).keys()]).toEqual(["strong", "other"]);
  });

  it("of two candidates that win exactly the same tasks keeps one, the newer at equal means", () => {
    const twins = [
      { id: "seed", scores: [1, 0] },
      { id: "c1", scores: [1, 0] },
    ];
    expect(nonDominated(twins)).toEqual(["c1"]);
    // …and the stronger one when the means differ (a lower score on a task nobody wins outright).
    const unequal = [
      { id: "seed", scores: [1, 0.5, 0.9] },
      { id: "c1", scores: [1, 0.5, 0.2] },
      { id: "c2", scores: [0, 0, 1] },
    ];
    expect(nonDominated(unequal)).toEqual(["seed", "c2"]);
  });

  it("does not count a task every kept candidate wins: it tells them apart in nothing", () => {
    // Four easy tasks all solve; the seed wins one more by luck, the child three on its own.
    const pool = [
      { id: "seed", scores: [1, 1, 1, 1, 1, 0, 0, 0] },
      { id: "child", scores: [1, 1, 1, 1, 0, 1, 1, 1] },
    ];
    expect(selectionWeights(pool)).toEqual(new Map([["seed", 1], ["child", 3]]));
    // When no task tells them apart, every task counts.
    expect(selectionWeights([{ id: "x", scores: [1, 0] }])).toEqual(new Map([["x", 2]]));
  });

  it("selects parents in proportion to the tasks they win, the same way for the same seed", () => {
    const pool = [
      { id: "a", scores: [1, 1, 1, 0] },
      { id: "b", scores: [0, 0, 0, 1] },
      { id: "dominated", scores: [1, 0, 0, 0] },
    ];
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const id = selectParent(pool, 11, `parent.${i}`);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(counts.get("dominated")).toBeUndefined();
    expect(counts.get("a")! / 4000).toBeGreaterThan(0.7);
    expect(counts.get("a")! / 4000).toBeLessThan(0.8);
    expect(counts.get("b")! / 4000).toBeGreaterThan(0.2);
    expect(selectParent(pool, 11, "parent.7")).toBe(selectParent(pool, 11, "parent.7"));
  });

  it("selects the seed when no task has a score yet, and refuses an empty pool", () => {
    expect(selectParent([{ id: "seed", scores: [] }], 0, "p")).toBe("seed");
    expect(() => selectParent([], 0, "p")).toThrow(RangeError);
  });

  it("names the best by mean, ties to the newer candidate (the held-out check, not the tie, decides against the seed)", () => {
    expect(bestByMean([{ id: "seed", scores: [1, 0] }, { id: "c1", scores: [0, 1] }]).id).toBe("c1");
    expect(bestByMean([{ id: "seed", scores: [1, 0] }, { id: "c1", scores: [0, 1] }, { id: "c2", scores: [0, 0] }]).id).toBe("c1");
    expect(bestByMean([{ id: "seed", scores: [1, 0] }, { id: "c1", scores: [1, 0.1] }]).id).toBe("c1");
  });
});

describe("minibatch gate", () => {
  it("passes a paired improvement", () => {
    const verdict = minibatchGate([0, 0, 1], [1, 0, 1]);
    expect(verdict).toMatchObject({ accepted: true, improved: 1, worsened: 0, tied: 2 });
  });

  it("does not pass a tie, even a perfect one", () => {
    expect(minibatchGate([0, 1, 0], [1, 0, 0])).toMatchObject({ accepted: false, reason: expect.stringContaining("ties do not pass") });
    expect(minibatchGate([1, 1], [1, 1]).accepted).toBe(false);
  });

  it("rejects a worse child, and a higher mean carried by fewer improved tasks than worsened", () => {
    expect(minibatchGate([1, 1, 0], [0, 1, 0]).accepted).toBe(false);
    const lucky = minibatchGate([0.5, 0.5, 0], [0.4, 0.4, 1]);
    expect(lucky.childMean).toBeGreaterThan(lucky.parentMean);
    expect(lucky).toMatchObject({ accepted: false, improved: 1, worsened: 2 });
  });

  it("refuses rewards of different tasks", () => {
    expect(() => minibatchGate([1], [1, 0])).toThrow(RangeError);
    expect(() => minibatchGate([], [])).toThrow(RangeError);
  });
});

describe("components", () => {
  it("splits a template into its fixed text, for both engines", () => {
    expect(literalPieces({ template: "Date: {{date}}. Start: {{ time }}.", engine: "mustache" })).toEqual(["Date:", ". Start:", "."]);
    expect(literalPieces({ template: "Use {{braces}} for {name} now", engine: "fstring" })).toEqual(["Use {braces} for", "now"]);
  });

  it("recognises the calls a filled-in template shaped, and only those", () => {
    const request = shapedBy({ template: "Book for {{attendees}} people on {{date}}, please.", engine: "mustache" });
    expect(request({ messages: [{ role: "user", content: "Book for 4 people on 2025-01-02, please." }] })).toBe(true);
    expect(request({ messages: [{ role: "user", content: "on 2025-01-02, please. Book for 4 people" }] })).toBe(false);
    expect(request({ messages: [{ role: "user", content: [{ type: "text", text: "Book for 4 people on 2025-01-02, please." }] }] })).toBe(true);
    // All placeholders: nothing to recognise it by.
    expect(shapedBy({ template: "{{a}} {{b}}", engine: "mustache" })({ messages: [{ role: "user", content: "x y" }] })).toBe(false);
  });

  it("recognises the calls that offered a tool whose description a template holds, in either tool shape", () => {
    const description = shapedBy({ template: "Lists every meeting room with its capacity and whether it is free.", engine: "fstring" });
    const messages = [{ role: "user", content: "Book a room for 4 people." }];
    const openai = { type: "function", function: { name: "get_rooms", description: "Lists every meeting room with its capacity and whether it is free.", parameters: { type: "object" } } };
    expect(description({ messages, tools: [{ type: "function", function: { name: "other", description: "Something else." } }, openai] })).toBe(true);
    expect(description({ messages, tools: [{ name: "get_rooms", description: "Lists every meeting room with its capacity and whether it is free." }] })).toBe(true);
    // The call did not offer it (or offered another description): not shaped.
    expect(description({ messages })).toBe(false);
    expect(description({ messages, tools: [{ type: "function", function: { name: "get_rooms", description: "Lists rooms." } }] })).toBe(false);
    // A tool description template with a placeholder matches its filled-in form.
    const filled = shapedBy({ template: "Finds rooms in the {building} building.", engine: "fstring" });
    expect(filled({ messages, tools: [{ type: "function", function: { name: "find", description: "Finds rooms in the north building." } }] })).toBe(true);
  });
});

describe("agent selection", () => {
  const uses = [
    { component: "planner", agents: ["planner"], unnamedCalls: 0 },
    { component: "tool_hint", agents: ["executor"], unnamedCalls: 0 },
    { component: "shared", agents: ["executor", "planner"], unnamedCalls: 0 },
    { component: "orphan", agents: [], unnamedCalls: 2 },
    { component: "unused", agents: [], unnamedCalls: 0 },
  ];

  it("evolves only the components a selected agent used, and says why each other one stays fixed", () => {
    expect(selectComponents(uses, ["planner"])).toEqual({
      evolved: ["planner", "shared"],
      fixed: [
        { name: "tool_hint", why: "used only by agent executor, not selected" },
        { name: "orphan", why: "used only by calls without an agent name, and agents are selected" },
        { name: "unused", why: "never seen in the agent's LLM calls" },
      ],
    });
    expect(selectComponents(uses, /^exec/).evolved).toEqual(["tool_hint", "shared"]);
    expect(selectComponents(uses, ["nobody"]).fixed.find((f) => f.name === "shared")!.why).toBe("used only by agents executor, planner, not selected");
  });

  it("evolves every used component when no agent is selected", () => {
    expect(selectComponents(uses)).toEqual({ evolved: ["planner", "tool_hint", "shared", "orphan"], fixed: [{ name: "unused", why: "never seen in the agent's LLM calls" }] });
  });
});

describe("blame", () => {
  const components = ["system", "request", "tool_hint"];

  it("names the component the feedback mentions, as a whole word, case aside", () => {
    expect(blamedComponent(["The Request template never asks for the date."], components)).toBe("request");
    expect(blamedComponent(["It requested a room twice; the tool_hint is vague."], components)).toBe("tool_hint");
    // Parts of longer words and names are not mentions.
    expect(blamedComponent(["It requested it; see request_v2 and systems."], components)).toBeUndefined();
    expect(blamedComponent([], components)).toBeUndefined();
  });

  it("takes the most mentioned across all texts, and none on a tie", () => {
    expect(blamedComponent(["system is fine", "request misses the date", "the request again"], components)).toBe("request");
    expect(blamedComponent(["system and request both"], components)).toBeUndefined();
    expect(blamedComponent(["a.b is wrong", "a+b too"], ["a.b", "a+b", "ab"])).toBeUndefined();
    expect(blamedComponent(["a.b is wrong, a.b!"], ["a.b", "ab"])).toBe("a.b");
  });
});

describe("GEPA options", () => {
  it("rejects bad options with the field named", () => {
    expect(() => new GEPA({ client, minibatchSize: 0 })).toThrow(ValidationError);
    expect(() => new GEPA({ client, minibatchSize: 0 })).toThrow(/minibatchSize/);
    expect(() => new GEPA({ client, rounds: 3 } as never)).toThrow(/rounds/);
    expect(() => new GEPA({ client: {} as never })).toThrow(/client/);
    const bad = (() => {
      try {
        new GEPA({ client, reflectionPrompt: "rewrite {{template}} for {{user}}" });
      } catch (error) {
        return error;
      }
    })();
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as ValidationError).issues.map((i) => i.message)).toEqual([expect.stringContaining("uses {{user}}, which GEPA does not fill"), "must use {{runs}}"]);
  });

  it("accepts the defaults", () => {
    expect(new GEPA({ client }).name).toBe("gepa");
  });
});

describe("system-aware merge", () => {
  const text = (template: string) => ({ kind: "prompt_template" as const, template, engine: "mustache" as const });
  const seed = { id: "seed", parents: [], resources: { plan: text("P0"), tool: text("T0") }, score: 0.2 };
  const planOnly = { id: "c1", parents: ["seed"], resources: { plan: text("P1"), tool: text("T0") }, score: 0.5 };
  const toolOnly = { id: "c2", parents: ["seed"], resources: { plan: text("P0"), tool: text("T1") }, score: 0.4 };
  const planChild = { id: "c3", parents: ["c1"], resources: { plan: text("P2"), tool: text("T0") }, score: 0.6 };
  const random = { seed: 0, label: "merge.1" };

  it("takes each component from the side that evolved it, the stronger side first", () => {
    const plan = planMerge([seed, planOnly, toolOnly], new Map([["c1", 2], ["c2", 2]]), ["plan", "tool"], new Set(), random);
    expect(plan).toEqual({ parents: ["c1", "c2"], ancestor: "seed", resources: { plan: text("P1"), tool: text("T1") }, from: { plan: "c1", tool: "c2" } });
  });

  it("never merges a candidate with its own ancestor, nor two that changed the same component only", () => {
    expect(planMerge([seed, planOnly, planChild], new Map([["c1", 1], ["c3", 2]]), ["plan", "tool"], new Set(), random)).toBeUndefined();
    const otherPlan = { id: "c4", parents: ["seed"], resources: { plan: text("P9"), tool: text("T0") }, score: 0.3 };
    expect(planMerge([seed, planOnly, otherPlan], new Map([["c1", 1], ["c4", 1]]), ["plan", "tool"], new Set(), random)).toBeUndefined();
  });

  it("does not try a pair twice, and needs a common ancestor", () => {
    expect(planMerge([seed, planOnly, toolOnly], new Map([["c1", 2], ["c2", 2]]), ["plan", "tool"], new Set([pairKey("c2", "c1")]), random)).toBeUndefined();
    const stranger = { id: "x", parents: [], resources: { plan: text("P0"), tool: text("T5") }, score: 0.9 };
    expect(planMerge([planOnly, stranger], new Map([["c1", 1], ["x", 1]]), ["plan", "tool"], new Set(), random)).toBeUndefined();
  });

  it("judges a merge on tasks where its parents differ, half from each side's wins", () => {
    const a = [1, 1, 1, 0, 0, 1, 0];
    const b = [0, 1, 0, 1, 1, 1, 0];
    const tasks = mergeTasks(a, b, 4, random);
    expect(tasks).toHaveLength(4);
    expect(tasks.filter((t) => a[t]! > b[t]!)).toHaveLength(2);
    expect(tasks.filter((t) => b[t]! > a[t]!)).toHaveLength(2);
    expect(mergeTasks([1, 0], [1, 0], 4, random)).toEqual([]);
    expect(mergeTasks(a, b, 4, random)).toEqual(tasks);
  });
});
