/** `trainer.dev()` prints each trace as a tree: the adapters' tree, in the adapters' order. */
import { describe, expect, it } from "vitest";
import { Tracer, emitReward, operation, withAgent, type SpanInput } from "tracetrain";
import { formatSpanTree } from "../../src/trainer/span-tree.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function trace() {
  const tracer = new Tracer({ logger: quiet, sink: { addSpans: async () => undefined } });
  return tracer.capture({ rolloutId: "ro-1", attemptId: "at-1", agentName: "planner" }, async () => {
    await withAgent("planner", async () => {
      await operation("search", async () => "found");
      await operation("rank", async () => "ranked");
    });
    emitReward(0.5);
  });
}

describe("formatSpanTree", () => {
  it("indents each span under its parent, with siblings in the order they ended", async () => {
    const { spans, report } = await trace();
    const lines = formatSpanTree(spans, report).split("\n");
    expect(lines[0]).toBe("rollout ro-1 · attempt at-1");
    const counts = lines.findIndex((l) => l.includes(" spans · "));
    const shape = lines.slice(1, counts).map((line) => line.replace(/^(\s+)(\S+( \S+)?) \[.*$/, "$1$2"));
    expect(shape).toEqual(["  tracetrain.rollout", "    invoke_agent planner", "      search", "      rank", "    tracetrain.reward"]);
    expect(lines.find((l) => l.includes("tracetrain.reward"))).toMatch(/reward=0\.5/);
    expect(lines[counts]).toBe(`  ${report.spans} spans · 0 LLM calls (0 with token ids) · 1 rewards · final reward 0.5`);
    expect(lines.slice(counts + 1)).toEqual(report.warnings.map((w) => `  ! ${w}`));
  });

  it("keeps the children of a parent that is missing together, under a line that says so", async () => {
    const { spans, report } = await trace();
    const orphan = (spanId: string, startTime: number): SpanInput => ({ ...spans[0]!, spanId, parentId: "ffffffffffffffff", name: `orphan ${spanId}`, startTime, endTime: startTime + 1 });
    const text = formatSpanTree([...spans, orphan("aaaaaaaaaaaaaaa1", 1e15), orphan("aaaaaaaaaaaaaaa2", 1e15 + 2)], report);
    expect(text).toMatch(/\n {2}\(missing parent span ffffffffffffffff\)\n {4}orphan aaaaaaaaaaaaaaa1 .*\n {4}orphan aaaaaaaaaaaaaaa2 /);
  });
});
