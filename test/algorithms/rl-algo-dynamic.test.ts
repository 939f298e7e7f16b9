/** Dynamic sampling's bookkeeping: which silent groups are solved rather than missing signal. */
import { describe, expect, it } from "vitest";
import { RewardRange } from "../../src/algorithms/rl/dynamic-sampling.js";

describe("RewardRange", () => {
  it("calls a group solved only when it scored the best reward seen and lower ones have been seen", () => {
    const range = new RewardRange();
    // At the start everything scores alike: nothing is solved, so silent groups are refilled.
    range.observe([0, 0, 0]);
    expect(range.isSolved(0)).toBe(false);
    range.observe([0.5, 1]);
    expect(range.isSolved(1)).toBe(true);
    // A run stuck below its best (the collapse the issue saw at 0.531) still refills.
    expect(range.isSolved(0.531)).toBe(false);
    expect(range.isSolved(0)).toBe(false);
    expect(range.isSolved(Number.NaN)).toBe(false);
  });
});
