/** The demo's reward chart, read back from its SVG text. */
import { describe, expect, it } from "vitest";
import { rewardChartSvg, roundTicks } from "../../src/demo/index.js";

const HEIGHT = 360;
const PLOT = { top: 40, bottom: 48 };
/** The y coordinate the chart gives a reward (the plot spans 0–1 between its margins). */
const yOf = (reward: number) => HEIGHT - PLOT.bottom - reward * (HEIGHT - PLOT.top - PLOT.bottom);

const xTicks = (svg: string) => [...svg.matchAll(/<text class="x-tick"[^>]*>(\d+)<\/text>/g)].map((m) => Number(m[1]));

/** A 30-step run like the demo's: validation every 5 steps. */
const points = [
  { step: 0, train: null, val: 0.05 },
  ...Array.from({ length: 30 }, (_, i) => ({ step: i + 1, train: Math.min(1, 0.08 + i * 0.04), val: (i + 1) % 5 === 0 ? Math.min(1, 0.1 + i * 0.035) : null })),
];

describe("the demo's reward chart", () => {
  it("puts the step ticks at round numbers", () => {
    expect(roundTicks(30)).toEqual([0, 5, 10, 15, 20, 25, 30]);
    expect(roundTicks(15)).toEqual([0, 5, 10, 15]);
    expect(roundTicks(7)).toEqual([0, 2, 4, 6]);
    expect(roundTicks(3)).toEqual([0, 1, 2, 3]);
    expect(roundTicks(1)).toEqual([0, 1]);
    expect(roundTicks(500)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(roundTicks(1234)).toEqual([0, 500, 1000]);
    expect(xTicks(rewardChartSvg(points, { title: "t" }))).toEqual([0, 5, 10, 15, 20, 25, 30]);
  });

  it("draws the baseline as a dotted line labelled in the legend, and states the result in its title", () => {
    const svg = rewardChartSvg(points, { title: "Validation reward 0.05 → 1.00 in 30 steps", baseline: { value: 0.09375, label: "before training" } });
    expect(svg).toContain('font-weight="bold">Validation reward 0.05 → 1.00 in 30 steps</text>');
    const line = /<line class="baseline" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="([\d.]+)"/.exec(svg);
    expect(line).not.toBeNull();
    expect(Number(line![1])).toBeCloseTo(yOf(0.09375), 1);
    expect(line![2]).toBe(line![1]);
    expect(svg).toContain(">before training (0.09)</text>");
    // The train and validation curves are still there.
    expect(svg.match(/<path d="M/g)).toHaveLength(2);
  });

  it("draws no baseline when none is given, and escapes the title", () => {
    const svg = rewardChartSvg(points, { title: "a < b & \"c\"" });
    expect(svg).not.toContain('class="baseline"');
    expect(svg).toContain(">a &lt; b &amp; &quot;c&quot;</text>");
  });

  it("draws the no-signal share and the merge ratio as thin lines on the same scale, when given", () => {
    const withShares = points.map((p) => ({ ...p, noSignal: p.step === 0 ? null : 1 - p.step / 30, merged: p.step === 0 ? null : 1 }));
    const svg = rewardChartSvg(withShares, { title: "t" });
    const noSignal = /<path class="no-signal" d="M([\d.]+),([\d.]+)[^"]* L([\d.]+),([\d.]+)"/.exec(svg);
    expect(noSignal).not.toBeNull();
    expect(Number(noSignal![2])).toBeCloseTo(yOf(1 - 1 / 30), 1);
    expect(Number(noSignal![4])).toBeCloseTo(yOf(0), 1);
    expect(svg).toMatch(/<path class="merged" d="M[\d.]+,([\d.]+)/);
    expect(svg).toContain(">no-signal share</text>");
    expect(svg).toContain(">merge ratio</text>");
    expect(svg).toContain(">mean reward · share</text>");
    // Without them the chart is as before.
    expect(rewardChartSvg(points, { title: "t" })).not.toContain("no-signal");
  });
});
