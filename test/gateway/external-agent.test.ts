/**
 * The contract for agents tracetrain cannot instrument: a process in any language, given a scoped
 * OPENAI_BASE_URL and a reward URL, takes part in training with plain HTTP. Here the agent is a
 * shell script that uses curl — no tracetrain code on its side — and the store server and the
 * gateway are the real `tracetrain` commands.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { HttpStore } from "tracetrain/store";
import { Runner, agent } from "tracetrain";
import { scopedKey } from "tracetrain/gateway";
import { toTransitions } from "tracetrain/adapters";
import { startMockLlm } from "tracetrain/testing";
import { freePort, startTracetrain } from "../support/processes.js";
import { quiet } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-external-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const tracetrain = (args: string[], env: Record<string, string>) => startTracetrain(args, env, children);

// The whole agent: ask the model, score the answer, report the score. POSIX sh and curl only.
const SCRIPT = `#!/bin/sh
set -eu
answer=$(curl -sS -f "$OPENAI_BASE_URL/chat/completions" \\
  -H "authorization: Bearer $OPENAI_API_KEY" -H "content-type: application/json" \\
  -d "{\\"model\\": \\"$MODEL\\", \\"messages\\": [{\\"role\\": \\"user\\", \\"content\\": \\"$TASK\\"}]}")
case "$answer" in
  *"echo: $TASK"*) reward=1 ;;
  *) reward=0 ;;
esac
curl -sS -f -X POST "$TRACETRAIN_REWARD_URL" \\
  -H "authorization: Bearer $TRACETRAIN_TOKEN" -H "content-type: application/json" \\
  -d "{\\"value\\": $reward}" > /dev/null
`;

describe("an agent in another language", () => {
  // Two processes to start and three agents to run on a possibly loaded machine: only a generous overall limit.
  it("is attributed, recorded with exact token ids and rewarded over plain HTTP", { timeout: 180_000 }, async () => {
    const script = join(dir, "agent.sh");
    writeFileSync(script, SCRIPT, { mode: 0o755 });
    const upstream = await startMockLlm();
    const [storePort, gatewayPort] = [await freePort(), await freePort()];
    const storeUrl = `http://127.0.0.1:${storePort}`;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const env = { TRACETRAIN_TOKEN: "store-token", TRACETRAIN_GATEWAY_TOKEN: "gateway-token", TRACETRAIN_UPSTREAM_KEY: "sk-upstream" };
    const server = tracetrain(["store", "serve", "--store", `sqlite:${join(dir, "store.db")}`, "--port", String(storePort)], env);
    await vi.waitFor(() => expect(server.out.text).toMatch(/serving/), { timeout: 60_000 });
    const gateway = tracetrain(["gateway", "--store", storeUrl, "--upstream", upstream.baseUrl, "--port", String(gatewayPort)], env);
    await vi.waitFor(() => expect(gateway.out.text).toMatch(/token ids: yes, logprobs: yes/), { timeout: 60_000 });
    expect(gateway.out.text).not.toContain("sk-upstream");

    const store = new HttpStore(storeUrl, { token: "store-token", logger: quiet });
    await store.addResources({ main: { kind: "llm", baseUrl: `${gatewayUrl}/rollout/{rolloutId}/attempt/{attemptId}/v1`, model: "served-model" } });
    const tasks = ["two plus two", "capital of France", "spell cat"];
    const rollouts = await store.enqueueMany(tasks.map((input) => ({ input, mode: "train" as const })));

    const run = promisify(execFile);
    const external = agent(
      async (task: string, ctx) => {
        const llm = ctx.llm();
        const { rolloutId, attemptId } = ctx.rollout;
        await run("/bin/sh", [script], {
          signal: ctx.signal,
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            OPENAI_BASE_URL: llm.baseUrl,
            OPENAI_API_KEY: llm.apiKey ?? "",
            MODEL: llm.model,
            TASK: task,
            TRACETRAIN_REWARD_URL: `${storeUrl}/v1/rollouts/${rolloutId}/attempts/${attemptId}/rewards`,
            TRACETRAIN_TOKEN: "store-token",
          },
        });
      },
      { name: "external" },
    );
    // The runner holds the gateway token, so each agent gets a key good for its own rollout only.
    const runner = new Runner({ store, agent: external, logger: quiet, llmKey: (ids) => scopedKey("gateway-token", ids), tracer: undefined });
    const running = runner.run();
    const ended = await store.waitForRollouts(rollouts.map((r) => r.rolloutId), { timeoutMs: 60_000 });
    await runner.stop({ graceMs: 1000 });
    await running;

    for (const rollout of ended) {
      expect([rollout.status, rollout.finalReward]).toEqual(["succeeded", 1]);
      const spans = (await store.querySpans({ rolloutId: rollout.rolloutId, limit: 1000 })).items;
      const calls = spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.attributes[Attr.layer]).toBe("gateway");
      expect(calls[0]!.attributes[Attr.requestModel]).toBe("served-model");
      expect(JSON.stringify(spans)).not.toContain("sk-upstream");
      const [transition] = toTransitions(spans);
      expect(transition!.textOnly).toBe(false);
      expect(transition!.prompt.tokenIds!.length).toBeGreaterThan(0);
      expect(transition!.response.tokenIds!.length).toBeGreaterThan(0);
      expect(transition!.response.logprobs).toHaveLength(transition!.response.tokenIds!.length);
      expect(transition!.reward).toBe(1);
    }
    // The upstream got the gateway's key for it, never an agent's.
    expect(upstream.requests.filter((r) => r.path === "/v1/chat/completions").every((r) => r.headers.authorization === "Bearer sk-upstream")).toBe(true);

    await store.close();
    gateway.child.kill("SIGTERM");
    server.child.kill("SIGTERM");
    expect(await gateway.exited).toBe(0);
    expect(await server.exited).toBe(0);
    await upstream.close();
  });
});
