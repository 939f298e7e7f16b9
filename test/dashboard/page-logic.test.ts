/**
 * The pure parts of the runners and rollouts pages, without a browser: how ages read, when a
 * worker is late, and how visible rows are put back in the store's order after a live change.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_HEARTBEAT_WARNING_MS, ago, heartbeatLimit } from "../../src/dashboard/ages.js";
import { sortedRows } from "../../src/dashboard/filters.js";

describe("ago", () => {
  it("reads in the largest whole unit", () => {
    expect([0, 999, 1000, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_000 * 2].map(ago)).toEqual(["now", "now", "1 s ago", "59 s ago", "1 min ago", "59 min ago", "1 h ago", "2 d ago"]);
  });

  it("reads a time slightly ahead of the browser's clock (another machine's) as now", () => {
    expect(ago(-1500)).toBe("now");
  });
});

describe("heartbeatLimit", () => {
  it("is the shortest heartbeat timeout the worker's rollouts set", () => {
    expect(heartbeatLimit([15_000, undefined, 5_000])).toEqual({ ms: 5_000, source: "rollout" });
  });

  it("falls back to the default, and says so, when none sets one", () => {
    expect(heartbeatLimit([undefined])).toEqual({ ms: DEFAULT_HEARTBEAT_WARNING_MS, source: "default" });
    expect(heartbeatLimit([])).toEqual({ ms: DEFAULT_HEARTBEAT_WARNING_MS, source: "default" });
  });
});

describe("sortedRows", () => {
  const row = (id: string, createdAt: number, endedAt: number | null, finalReward: number | null) => ({ id, createdAt, endedAt, finalReward });
  const rows = [row("a", 1, 11, 0.5), row("b", 2, null, null), row("c", 3, 5, 0.9), row("d", 4, 9, 0.5)];
  const ids = (list: ReadonlyArray<{ id: string }>) => list.map((r) => r.id);

  it("orders by reward both ways with unrewarded rollouts last, ties by creation in the same direction", () => {
    expect(ids(sortedRows({ sortBy: "finalReward", order: "desc" }, rows))).toEqual(["c", "d", "a", "b"]);
    expect(ids(sortedRows({ sortBy: "finalReward", order: "asc" }, rows))).toEqual(["a", "d", "c", "b"]);
  });

  it("orders by duration and end time, unfinished last either way", () => {
    expect(ids(sortedRows({ sortBy: "duration", order: "desc" }, rows))).toEqual(["a", "d", "c", "b"]);
    expect(ids(sortedRows({ sortBy: "endedAt", order: "asc" }, rows))).toEqual(["c", "d", "a", "b"]);
  });

  it("leaves the input as it was", () => {
    sortedRows({ sortBy: "finalReward", order: "desc" }, rows);
    expect(ids(rows)).toEqual(["a", "b", "c", "d"]);
  });
});
