import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { HttpStore, SqliteStore } from "tracetrain/store";
import { freePort, startTracetrain } from "../support/processes.js";

const agentModule = fileURLToPath(new URL("../trainer/fixtures/worker-agent.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tracetrain-cli-"));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tracetrain = (args: string[], env: Record<string, string> = {}) => startTracetrain(args, env, children);

describe("tracetrain command", () => {
  it("prints usage and explains bad arguments", async () => {
    const help = tracetrain(["--help"]);
    expect(await help.exited).toBe(0);
    expect(help.out.text).toMatch(/tracetrain store serve/);
    const bad = tracetrain(["runner", "--store", "http://127.0.0.1:1"]);
    expect(await bad.exited).toBe(2);
    expect(bad.out.text).toMatch(/--agent: required/);
    const unknown = tracetrain(["store", "serve", "--port", "http"]);
    expect(await unknown.exited).toBe(2);
    expect(unknown.out.text).toMatch(/--port: expected a port number/);
    const exposed = tracetrain(["store", "serve", "--store", "memory", "--host", "0.0.0.0", "--port", "0"], { TRACETRAIN_TOKEN: "" });
    expect(await exposed.exited).toBe(2);
    expect(exposed.out.text).toMatch(/refusing to serve on 0\.0\.0\.0 without a token/);
  });

  it("explains bad gateway arguments", async () => {
    const noUpstream = tracetrain(["gateway", "--store", "memory"]);
    expect(await noUpstream.exited).toBe(2);
    expect(noUpstream.out.text).toMatch(/--upstream: required/);
    const capture = tracetrain(["gateway", "--store", "memory", "--upstream", "http://127.0.0.1:1/v1", "--capture", "sometimes"]);
    expect(await capture.exited).toBe(2);
    expect(capture.out.text).toMatch(/--capture: expected train, always or never/);
    const badUrl = tracetrain(["gateway", "--store", "memory", "--upstream", "gpu-1:8000", "--skip-probe", "--port", "0"]);
    expect(await badUrl.exited).toBe(2);
    expect(badUrl.out.text).toContain("invalid gateway options: upstreams[0].url: expected an http(s) URL");
    const exposed = tracetrain(["gateway", "--store", "memory", "--upstream", "http://127.0.0.1:1/v1", "--skip-probe", "--host", "0.0.0.0", "--port", "0"], { TRACETRAIN_GATEWAY_TOKEN: "" });
    expect(await exposed.exited).toBe(2);
    expect(exposed.out.text).toMatch(/refusing to serve on 0\.0\.0\.0 without a token/);
  });

  it("serves a store and runs a remote runner against it; both stop cleanly", async () => {
    const port = await freePort();
    const server = tracetrain(["store", "serve", "--store", `sqlite:${join(dir, "served.db")}`, "--port", String(port)], { TRACETRAIN_TOKEN: "cli-token" });
    await vi.waitFor(() => expect(server.out.text).toMatch(/serving .* at http:\/\/127\.0\.0\.1:\d+ \(token required\)/), { timeout: 60_000, interval: 20 });
    const url = `http://127.0.0.1:${port}`;
    const runner = tracetrain(["runner", "--store", url, "--agent", agentModule, "--name", "sleeper", "--concurrency", "4"], { TRACETRAIN_TOKEN: "cli-token" });
    await vi.waitFor(() => expect(runner.out.text).toMatch(/running agent 'sleeper'/), { timeout: 60_000, interval: 20 });
    const store = new HttpStore(url, { token: "cli-token" });
    const rollouts = await store.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ input: i })));
    const ended = await store.waitForRollouts(rollouts.map((r) => r.rolloutId), { timeoutMs: 20_000 });
    expect(ended.map((r) => r.finalReward)).toEqual(Array.from({ length: 20 }, (_, i) => i % 2));
    await store.close();
    runner.child.kill("SIGTERM");
    expect(await runner.exited).toBe(0);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(server.out.text).toMatch(/stopping/);
  }, 180_000);

  it("survives the store server being killed mid-run: runners reconnect, nothing is lost or duplicated", async () => {
    const port = await freePort();
    const db = join(dir, "killed-server.db");
    const serve = () => tracetrain(["store", "serve", "--store", `sqlite:${db}`, "--port", String(port)]);
    let server = serve();
    await vi.waitFor(() => expect(server.out.text).toMatch(/serving/), { timeout: 60_000, interval: 20 });
    const url = `http://127.0.0.1:${port}`;
    const runners = [0, 1].map(() => tracetrain(["runner", "--store", url, "--agent", agentModule, "--name", "sleeper", "--concurrency", "8"]));
    for (const r of runners) await vi.waitFor(() => expect(r.out.text).toMatch(/running agent/), { timeout: 60_000, interval: 20 });
    const client = new HttpStore(url, { logger: { debug() {}, info() {}, warn() {}, error() {} } });
    const total = 150;
    // Retry-friendly rollouts: an attempt whose claim was lost in the crash is recovered by its heartbeat timeout.
    await client.enqueueMany(Array.from({ length: total }, (_, i) => ({ input: i, rolloutId: `crash-${i}`, config: { heartbeatTimeoutMs: 3000, maxAttempts: 3 } })));
    await vi.waitFor(async () => expect((await client.stats()).rollouts.succeeded).toBeGreaterThan(20), { timeout: 60_000, interval: 20 });
    server.child.kill("SIGKILL");
    await server.exited;
    await new Promise((r) => setTimeout(r, 300));
    server = serve();
    await vi.waitFor(() => expect(server.out.text).toMatch(/serving/), { timeout: 60_000, interval: 20 });
    const ids = Array.from({ length: total }, (_, i) => `crash-${i}`);
    const ended = await client.waitForRollouts(ids, { timeoutMs: 45_000 });
    expect(ended).toHaveLength(total);
    expect(ended.every((r) => r.status === "succeeded")).toBe(true);
    expect(ended.map((r) => r.finalReward)).toEqual(ids.map((_, i) => i % 2));
    await client.close();
    for (const r of runners) r.child.kill("SIGTERM");
    await Promise.all(runners.map((r) => r.exited));
    server.child.kill("SIGTERM");
    await server.exited;
    // The database agrees: each rollout once, its final attempt's spans complete and not duplicated.
    const store = new SqliteStore(db, { watchdogIntervalMs: false });
    const stats = await store.stats();
    expect(stats.rollouts).toMatchObject({ total, succeeded: total });
    for (const id of ids) {
      const spans = await store.querySpans({ rolloutId: id, attemptId: "latest" });
      const names = spans.items.map((s) => s.name).sort();
      expect(names, id).toEqual(["tracetrain.message", "tracetrain.reward", "tracetrain.rollout"]);
      expect(new Set(spans.items.map((s) => s.spanId)).size).toBe(spans.items.length);
    }
    await store.close();
  }, 120_000);
});
