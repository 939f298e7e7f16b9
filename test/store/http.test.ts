import { afterAll, describe, expect, it } from "vitest";
import { HttpStore, MemoryStore } from "tracetrain/store";
import { type StoreOptions, createStore } from "tracetrain";
import { startStoreServer } from "tracetrain/server";
import * as vitest from "vitest";
import { describeStoreConformance } from "tracetrain/testing";

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
