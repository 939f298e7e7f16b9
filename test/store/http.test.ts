import { afterAll, describe, expect, it, vi } from "vitest";
import { HttpStore, MemoryStore } from "tracetrain/store";
import { type StoreOptions, createStore } from "tracetrain";
import { startStoreServer } from "tracetrain/server";
import * as vitest from "vitest";
import { describeStoreConformance } from "tracetrain/testing";
import { StoreUnavailableError } from "tracetrain";
import { freePort } from "../support/processes.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/**
 * An HttpStore talking to a real server on loopback, backed by a MemoryStore. The server and its
 * store live in this process, so the watchdog tests may call the backing store's sweep() and use
 * fake clocks; everything else crosses HTTP.
 */
async function open(options: StoreOptions = {}) {
  const backing = new MemoryStore(options);
  const server = await startStoreServer({ store: backing, port: 0 });
  const client = new HttpStore(server.url, { retryDelaysMs: [], ...(options.logger ? { logger: options.logger } : {}) });
  const closeClient = client.close.bind(client);
  Object.assign(client, {
    sweep: () => backing.sweep(),
    stopWatchdog: () => backing.stopWatchdog(),
    startWatchdog: () => backing.startWatchdog(),
    close: async () => {
      await closeClient();
      await server.close();
      await backing.close();
    },
  });
  Object.defineProperty(client, "watchdogActive", { get: () => backing.watchdogActive });
  cleanups.push(() => client.close());
  return client;
}

describeStoreConformance("HttpStore (over a MemoryStore)", { open, remoteEvents: true }, vitest);

describe("createStore over HTTP", () => {
  it("opens an HttpStore from an http:// URL, with a token", async () => {
    const backing = new MemoryStore({ watchdogIntervalMs: false });
    const server = await startStoreServer({ store: backing, port: 0, token: "t0ken" });
    const store = createStore(server.url, { token: "t0ken", retryDelaysMs: [] });
    expect(store).toBeInstanceOf(HttpStore);
    const rollout = await store.enqueue({ input: "over http" });
    expect((await backing.getRollout(rollout.rolloutId)).input).toBe("over http");
    await store.close();
    await server.close();
    await backing.close();
  });
});

describe("HttpStore and a server that cannot be reached", () => {
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {} };

  it("gives up after about 9 s of retries by default (was a minute), naming the URL and the option that sets it", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const store = new HttpStore(url, { logger });
    // Only the retry sleeps run on the fake clock; connecting (and being refused) is real I/O.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    try {
      const started = Date.now();
      let settled = false;
      const outcome = store.stats().then(
        () => undefined,
        (error: unknown) => error,
      );
      void outcome.finally(() => (settled = true));
      while (!settled) {
        // Wait for the next retry's sleep to be set (or the call to end), then let it elapse.
        while (!settled && vi.getTimerCount() === 0) await new Promise((resolve) => setImmediate(resolve));
        if (!settled) vi.advanceTimersToNextTimer();
      }
      const error = await outcome;
      const waited = Date.now() - started;
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toMatch(new RegExp(`^cannot reach the store at ${url} \\(connect ECONNREFUSED [^)]+\\); gave up after 9 tries over [\\d.]+ s \\(the HttpStore option retryDelaysMs sets how long to keep trying\\)$`));
      expect(waited).toBeGreaterThanOrEqual(8_000);
      expect(waited).toBeLessThanOrEqual(10_000);
      expect(warnings).toEqual([`cannot reach the store at ${url} (connect ECONNREFUSED 127.0.0.1:${new URL(url).port}); retrying for up to 9.1 s`]);
    } finally {
      vi.useRealTimers();
      await store.close();
    }
  });

  it("retries as often as retryDelaysMs says, and not at all with []", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const twice = new HttpStore(url, { retryDelaysMs: [5, 5], logger });
    await expect(twice.stats()).rejects.toThrow(/gave up after 3 tries over/);
    const never = new HttpStore(url, { retryDelaysMs: [], logger });
    await expect(never.getRollout("ro-1")).rejects.toThrow(`cannot reach the store at ${url} (connect ECONNREFUSED 127.0.0.1:${new URL(url).port}); not retried`);
    await Promise.all([twice.close(), never.close()]);
  });
});

// Last in the file: fetch keeps its sockets alive, and their timers must not reach the fake-clock retry tests above.
describe("the rollout listing's query string", () => {
  async function serve() {
    const backing = new MemoryStore({ watchdogIntervalMs: false });
    const server = await startStoreServer({ store: backing, port: 0 });
    cleanups.push(async () => {
      await server.close();
      await backing.close();
    });
    return { backing, get: (query: string) => fetch(`${server.url}/v1/rollouts?${query}`) };
  }

  it("reads text, reward range and duration sort from the URL", async () => {
    const { backing, get } = await serve();
    await backing.enqueueMany([{ rolloutId: "r1", input: "Tokyo, 50% off & more" }, { rolloutId: "r2", input: "Paris" }, { rolloutId: "r3", input: "tokyo" }]);
    const claimed = await backing.dequeue({ limit: 3 });
    for (const [i, c] of claimed.entries()) await backing.completeAttempt(c.rollout.rolloutId, c.attempt.attemptId, { status: "succeeded", finalReward: i / 2 });
    const ids = async (query: string) => {
      const response = await get(query);
      expect(response.status, query).toBe(200);
      return ((await response.json()) as { items: Array<{ rolloutId: string }> }).items.map((r) => r.rolloutId);
    };
    expect(await ids(`text=${encodeURIComponent("50% OFF & more")}`)).toEqual(["r1"]);
    expect(await ids("text=TOKYO&minReward=0&maxReward=1&sortBy=finalReward&order=desc")).toEqual(["r3", "r1"]);
    expect(await ids("minReward=0.5&sortBy=duration")).toHaveLength(2);
  });

  it("answers a bad value with a 400 naming the parameter and what it expected", async () => {
    const { get } = await serve();
    const cases: Array<[string, string, RegExp]> = [
      ["minReward=abc", "minReward", /number/],
      ["minReward=", "minReward", /number/],
      ["maxReward=Infinity", "maxReward", /number/],
      ["minReward=2&maxReward=1", "maxReward", /at least minReward \(2\)/],
      ["text=", "text", /must not be empty/],
      ["text=a%00b", "text", /NUL/],
      ["text=a&text=b", "text", /more than once/],
      ["sortBy=duration&order=up", "order", /asc|desc/],
      ["sortBy=attempts", "sortBy", /duration/],
      ["reward=1", "reward", /unknown query parameter.*minReward/],
    ];
    for (const [query, path, message] of cases) {
      const response = await get(query);
      expect(response.status, query).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string; details: { issues: Array<{ path: string; message: string }> } } };
      expect(error.code, query).toBe("validation");
      expect(error.details.issues[0]!.path, query).toBe(path);
      expect(error.details.issues[0]!.message, query).toMatch(message);
    }
  });
});
