/**
 * `tracetrain dashboard` from source: a read-only server over a SQLite file (what the demo and
 * the examples leave behind) or over another store server, printing the address to open.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Rollout } from "tracetrain";
import { MemoryStore, SqliteStore } from "tracetrain/store";
import { startStoreServer } from "tracetrain/server";
import { type CliProcess, startTracetrain } from "../support/processes.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-dashboard-cli-"));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The address the command printed, once it has printed it. */
async function openedAt(cli: CliProcess): Promise<string> {
  const found = () => /open (http:\/\/\S+)/.exec(cli.out.text)?.[1];
  while (found() === undefined) {
    const more = new Promise((resolve) => cli.child.stdout!.once("data", resolve));
    const ended = cli.exited.then((code) => {
      throw new Error(`tracetrain dashboard exited (${code}) before printing its address: ${cli.out.text}`);
    });
    await Promise.race([more, ended]);
  }
  return found()!;
}

describe("tracetrain dashboard", () => {
  it("serves a SQLite file read-only and prints its address", async () => {
    const path = join(dir, "runs.db");
    const store = new SqliteStore(path, { watchdogIntervalMs: false });
    const rollout = await store.enqueue({ input: { question: "seen from the dashboard" }, mode: "val" });
    await store.close();
    const cli = startTracetrain(["dashboard", "--store", path, "--port", "0"], { TRACETRAIN_TOKEN: "" }, children);
    const address = await openedAt(cli);
    expect(cli.out.text).toContain(`read-only) for sqlite:${path}`);
    const base = new URL(address).origin;
    const page = (await (await fetch(`${base}/v1/rollouts`)).json()) as { items: Rollout[] };
    expect(page.items.map((r) => r.rolloutId)).toEqual([rollout.rolloutId]);
    const write = await fetch(`${base}/v1/rollouts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rollout: { input: 1 } }) });
    expect(write.status).toBe(501);
    cli.child.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
  });

  it("reads another store server with its token, and guards its own address with it", async () => {
    const memory = new MemoryStore();
    const upstream = await startStoreServer({ store: memory, port: 0, token: "up-s3cret", dashboard: false, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    try {
      const rollout = await memory.enqueue({ input: "remote task" });
      const cli = startTracetrain(["dashboard", "--store", upstream.url, "--port", "0"], { TRACETRAIN_TOKEN: "up-s3cret" }, children);
      const address = await openedAt(cli);
      expect(address).toContain("#token=up-s3cret");
      const base = new URL(address).origin;
      expect((await fetch(`${base}/v1/rollouts`)).status).toBe(401);
      const page = (await (await fetch(`${base}/v1/rollouts`, { headers: { authorization: "Bearer up-s3cret" } })).json()) as { items: Rollout[] };
      expect(page.items.map((r) => r.rolloutId)).toEqual([rollout.rolloutId]);
      cli.child.kill("SIGTERM");
      expect(await cli.exited).toBe(0);
    } finally {
      await upstream.close();
      await memory.close();
    }
  });

  it("explains a missing store instead of creating an empty one", async () => {
    const missing = startTracetrain(["dashboard", "--store", join(dir, "nope.db"), "--port", "0"], {}, children);
    expect(await missing.exited).toBe(2);
    expect(missing.out.text).toContain(`no SQLite store at ${join(dir, "nope.db")}`);
    const none = startTracetrain(["dashboard"], {}, children);
    expect(await none.exited).toBe(2);
    expect(none.out.text).toContain("--store: give the store to look at");
  });
});
