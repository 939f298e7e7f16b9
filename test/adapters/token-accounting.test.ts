/** Token accounting's pure rules: sources, sums, costs, and tokens per unit reward at the edges. */
import { describe, expect, it } from "vitest";
import { type CallTokens, DEFAULT_PRICES, type ExtractedCall, callTokens, figuresOf, sumFigures, tokensPerReward } from "tracetrain/adapters";

const call = (over: Partial<CallTokens>): CallTokens => ({ model: "gpt-4.1-mini", input: 100, output: 20, source: "usage", judge: false, ...over });

/** The fields of a call token accounting reads. */
const extracted = (over: Partial<ExtractedCall>): ExtractedCall => ({ usage: undefined, model: undefined, promptTokenIds: undefined, promptMessages: undefined, choices: [], insideReward: false, ...over }) as unknown as ExtractedCall;

describe("a call's tokens", () => {
  it("takes the reported usage first, then counts the recorded token ids exactly", () => {
    const ids = { promptTokenIds: [1, 2, 3, 4], choices: [{ tokenIds: [5, 6] }, { tokenIds: [7] }] };
    expect(callTokens(extracted({ ...ids, usage: { inputTokens: 40, outputTokens: 9 }, model: "m" }))).toEqual({ model: "m", input: 40, output: 9, source: "usage", judge: false });
    expect(callTokens(extracted({ ...ids, insideReward: true }))).toEqual({ model: "unknown", input: 4, output: 3, source: "counted", judge: true });
  });

  it("counts nothing for a prompt that was not recorded", () => {
    expect(callTokens(extracted({ choices: [{ message: { role: "assistant", content: "" } }] }))).toMatchObject({ input: 0, output: 0, source: "counted" });
  });
});

describe("token figures", () => {
  it("says where counts came from: usage, counted, mixed, none", () => {
    expect(figuresOf([call({}), call({})], DEFAULT_PRICES).source).toBe("usage");
    expect(figuresOf([call({ source: "counted" })], DEFAULT_PRICES).source).toBe("counted");
    expect(figuresOf([call({}), call({ source: "counted" })], DEFAULT_PRICES)).toMatchObject({ source: "mixed", callsBySource: { usage: 1, counted: 1 } });
    expect(figuresOf([], DEFAULT_PRICES)).toMatchObject({ source: "none", total: 0, calls: 0, costUsd: 0 });
  });

  it("prices per model, takes a dated snapshot's family price, and never prices an unknown model at 0", () => {
    const f = figuresOf([call({}), call({ model: "gpt-4o-2024-08-06", input: 1000, output: 0 }), call({ model: "my-local-model" })], DEFAULT_PRICES);
    expect(f.byModel["gpt-4.1-mini"]!.costUsd).toBeCloseTo((100 * 0.4 + 20 * 1.6) / 1e6, 15);
    expect(f.byModel["gpt-4o-2024-08-06"]!.costUsd).toBeCloseTo((1000 * 2.5) / 1e6, 15);
    expect(f.byModel["my-local-model"]!.costUsd).toBeNull();
    expect(f.costUsd).toBeNull();
    expect(f.unpricedModels).toEqual(["my-local-model"]);
    expect(f).toMatchObject({ input: 1200, output: 40, total: 1240, calls: 3 });
  });

  it("keeps judge calls out of the policy's figures", () => {
    const f = figuresOf([call({}), call({ judge: true, model: "gpt-4o", input: 50, output: 5 })], DEFAULT_PRICES);
    expect(f).toMatchObject({ total: 120, calls: 1 });
    expect(f.judge).toMatchObject({ input: 50, output: 5, total: 55, calls: 1 });
    expect(f.byModel["gpt-4o"]).toBeUndefined();
  });

  it("sums rollouts: tokens add, sources combine, a cost stays unknown once any part is", () => {
    const a = figuresOf([call({})], DEFAULT_PRICES);
    const b = figuresOf([call({ source: "counted", model: "x" })], DEFAULT_PRICES);
    const s = sumFigures([a, b]);
    expect(s).toMatchObject({ total: 240, calls: 2, source: "mixed", costUsd: null, unpricedModels: ["x"] });
    expect(sumFigures([a, a]).costUsd).toBeCloseTo(2 * a.costUsd!, 15);
    expect(sumFigures([])).toMatchObject({ source: "none", total: 0 });
  });

  it("tokens per unit reward: null for no, zero or negative reward", () => {
    expect(tokensPerReward(120, 0.5)).toBe(240);
    expect(tokensPerReward(120, 0)).toBeNull();
    expect(tokensPerReward(120, -1)).toBeNull();
    expect(tokensPerReward(120, null)).toBeNull();
    expect(tokensPerReward(120, Number.NaN)).toBeNull();
    expect(tokensPerReward(0, 1)).toBe(0);
  });
});
