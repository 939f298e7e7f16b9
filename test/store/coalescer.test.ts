import { describe, expect, it } from "vitest";
import { type CallOutcome, Coalescer, type CoalescerOptions } from "../../src/store/postgres/coalescer.js";

/** A coalescer over an `execute` the test controls: every batch is recorded and waits until released. */
function harness(options: Partial<CoalescerOptions> = {}, fail?: (inputs: number[]) => unknown) {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  const splits: number[] = [];
  const coalescer = new Coalescer<number, string>(
    async (inputs) => {
      batches.push(inputs);
      await new Promise<void>((resolve) => releases.push(resolve));
      const error = fail?.(inputs);
      if (error !== undefined) throw error;
      return inputs.map((n): CallOutcome<string> => (n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: `v${n}` }));
    },
    { maxInFlight: 1, maxBatch: 100, splitOnFailure: () => true, onSplit: (_, calls) => splits.push(calls), ...options },
  );
  /** Lets pending work run, then releases every batch waiting so far. */
  const releaseAll = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    releases.splice(0).forEach((release) => release());
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { coalescer, batches, splits, releaseAll };
}

async function settleAll<T>(promises: Array<Promise<T>>, releaseAll: () => Promise<void>): Promise<Array<PromiseSettledResult<T>>> {
  const all = Promise.allSettled(promises);
  let done = false;
  void all.then(() => (done = true));
  for (let i = 0; i < 50 && !done; i++) await releaseAll();
  return all;
}

describe("Coalescer", () => {
  it("runs calls made in one turn as one batch and settles each with its own outcome", async () => {
    const { coalescer, batches, releaseAll } = harness();
    const results = await settleAll([1, -2, 3].map((n) => coalescer.run(n)), releaseAll);
    expect(batches).toEqual([[1, -2, 3]]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual(["v1", "bad -2", "v3"]);
  });

  it("runs at most maxInFlight batches at once; calls made meanwhile form the next batch", async () => {
    const { coalescer, batches, releaseAll } = harness({ maxInFlight: 2 });
    const first = coalescer.run(1);
    await new Promise((resolve) => setImmediate(resolve));
    const second = coalescer.run(2);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = [3, 4, 5].map((n) => coalescer.run(n));
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([[1], [2]]);
    await settleAll([first, second, ...waiting], releaseAll);
    expect(batches).toEqual([[1], [2], [3, 4, 5]]);
  });

  it("never puts more than maxBatch calls in one batch", async () => {
    const { coalescer, batches, releaseAll } = harness({ maxInFlight: 1, maxBatch: 2 });
    await settleAll([1, 2, 3, 4, 5].map((n) => coalescer.run(n)), releaseAll);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it("retries a batch that failed as a whole one call at a time, so only the call at fault fails", async () => {
    const { coalescer, batches, splits, releaseAll } = harness({}, (inputs) => (inputs.includes(7) ? new Error("seven is poison") : undefined));
    const results = await settleAll([6, 7, 8].map((n) => coalescer.run(n)), releaseAll);
    expect(splits).toEqual([3]);
    expect(batches).toEqual([[6, 7, 8], [6], [7], [8]]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message))).toEqual(["v6", "seven is poison", "v8"]);
  });

  it("fails every call of the batch with the error when no call can be at fault", async () => {
    const down = new Error("database unreachable");
    const { coalescer, batches, splits, releaseAll } = harness({ splitOnFailure: (error) => error !== down }, () => down);
    const results = await settleAll([1, 2].map((n) => coalescer.run(n)), releaseAll);
    expect(batches).toEqual([[1, 2]]);
    expect(splits).toEqual([]);
    expect(results).toEqual([
      { status: "rejected", reason: down },
      { status: "rejected", reason: down },
    ]);
  });

  it("drains: resolves once every call made so far has settled", async () => {
    const { coalescer, releaseAll } = harness({ maxInFlight: 1, maxBatch: 1 });
    const settled: number[] = [];
    const calls = [1, 2, 3].map((n) => coalescer.run(n).then(() => settled.push(n)));
    let drained = false;
    const draining = coalescer.drain().then(() => (drained = true));
    await releaseAll();
    expect(drained).toBe(false);
    await settleAll(calls, releaseAll);
    await draining;
    expect(settled).toEqual([1, 2, 3]);
    await coalescer.drain();
  });
});
