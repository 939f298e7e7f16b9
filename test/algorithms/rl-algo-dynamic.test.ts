/** Dynamic sampling's bookkeeping: which silent groups are solved rather than missing signal. */
import { describe, expect, it } from "vitest";
import { CollapseWatch, RewardRange } from "../../src/algorithms/rl/dynamic-sampling.js";

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

describe("CollapseWatch", () => {
  it("warns once after `limit` silent steps in a row, and a converged (solved) step is not silence", () => {
    const watch = new CollapseWatch(3);
    expect(watch.observe(0, false, true, 0.5)).toBeUndefined();
    expect(watch.observe(0, false, true, 0.5)).toBeUndefined();
    expect(watch.observe(0, false, true, 0.5)).toMatch(/collapsed: 3 consecutive steps .*even after refilling.*0\.500/);
    expect(watch.observe(0, false, true, 0.5)).toBeUndefined();
    // Every group at the run's best reward: converged; the streak starts over.
    const converged = new CollapseWatch(2);
    expect(converged.observe(0, true, true, 1)).toBeUndefined();
    expect(converged.observe(0, true, true, 1)).toBeUndefined();
    expect(converged.observe(0, true, true, 1)).toBeUndefined();
    expect(converged.observe(0, false, false, 0)).toBeUndefined();
    expect(converged.observe(0, false, false, 0)).toMatch(/collapsed: 2 consecutive steps without/);
  });
});
