/** The gateway's pure parts: scoped paths, per-rollout keys, routing, token capture, the pause gate. */
import { describe, expect, it } from "vitest";
import { addCaptureRequests, removeCaptured } from "../../src/gateway/capture.js";
import { Gate, GatewayPausedError } from "../../src/gateway/gate.js";
import { isScopedKeyFor, scopedKey } from "../../src/gateway/keys.js";
import { parsePath, scopedBaseUrl } from "../../src/gateway/scope.js";
import { UpstreamPool, resolveUpstreams } from "../../src/gateway/upstreams.js";

describe("scoped paths", () => {
  it("reads the rollout, attempt and agent from the path, long form or short", () => {
    expect(parsePath("/rollout/ro-1/attempt/at-2/v1/chat/completions", {})).toEqual({ ok: true, scope: { rolloutId: "ro-1", attemptId: "at-2" }, path: "/v1/chat/completions" });
    expect(parsePath("/r/ro-1/attempt/at-2/agent/planner%20one/v1/models", {})).toEqual({
      ok: true,
      scope: { rolloutId: "ro-1", attemptId: "at-2", agentName: "planner one" },
      path: "/v1/models",
    });
    expect(parsePath("/v1/chat/completions", {})).toEqual({ ok: true, scope: undefined, path: "/v1/chat/completions" });
    expect(parsePath("/v1/chat/completions", { "x-tracetrain-rollout-id": "ro-1", "x-tracetrain-attempt-id": "at-2" })).toMatchObject({ scope: { rolloutId: "ro-1", attemptId: "at-2" } });
  });

  it("round-trips the base URL it hands out", () => {
    const scope = { rolloutId: "ro-1", attemptId: "at-2", agentName: "a/b" };
    const url = new URL(`${scopedBaseUrl("http://gw:4748/", scope)}/chat/completions`);
    expect(parsePath(url.pathname, {})).toEqual({ ok: true, scope, path: "/v1/chat/completions" });
  });

  it("rejects what is not a scope", () => {
    for (const path of ["/rollout/ro-1/v1/models", "/rollout/%ZZ/attempt/at/v1/models", "/rollout/ro-1/attempt/at-2/models", "/other", "/rollout/a%2Fb/attempt/at/v1/x"]) {
      expect(parsePath(path, {}).ok, path).toBe(false);
    }
    expect(parsePath("/v1/models", { "x-tracetrain-rollout-id": "ro-1" })).toMatchObject({ ok: false, message: expect.stringContaining("go together") });
  });
});

describe("per-rollout keys", () => {
  it("work for their own attempt only, and only under their own token", () => {
    const key = scopedKey("secret", { rolloutId: "ro-1", attemptId: "at-1" });
    expect(isScopedKeyFor(key, "secret", { rolloutId: "ro-1", attemptId: "at-1" })).toBe(true);
    expect(isScopedKeyFor(key, "secret", { rolloutId: "ro-1", attemptId: "at-2" })).toBe(false);
    expect(isScopedKeyFor(key, "secret", { rolloutId: "ro-2", attemptId: "at-1" })).toBe(false);
    expect(isScopedKeyFor(key, "other", { rolloutId: "ro-1", attemptId: "at-1" })).toBe(false);
    expect(isScopedKeyFor("ttk_short", "secret", { rolloutId: "ro-1", attemptId: "at-1" })).toBe(false);
    expect(isScopedKeyFor("secret", "secret", { rolloutId: "ro-1", attemptId: "at-1" })).toBe(false);
  });
});

describe("routing", () => {
  const upstreams = (names: string[]) => resolveUpstreams(names.map((name) => ({ url: `http://${name}:8000/v1`, name })));

  it("ranks the same way every time, and moves few rollouts when an upstream leaves", () => {
    const pool = new UpstreamPool(upstreams(["a", "b", "c", "d"]));
    const keys = Array.from({ length: 400 }, (_, i) => `ro-${i}`);
    const first = new Map(keys.map((k) => [k, pool.ranked(k)[0]!.name]));
    expect(new Set(first.values()).size).toBe(4);
    for (const k of keys) expect(new UpstreamPool(upstreams(["d", "c", "b", "a"])).ranked(k)[0]!.name).toBe(first.get(k));
    pool.replace(upstreams(["a", "b", "d"]));
    for (const k of keys) {
      // Only the rollouts of the upstream that left move; they move to their next in line.
      if (first.get(k) !== "c") expect(pool.ranked(k)[0]!.name).toBe(first.get(k));
    }
  });

  it("rotates unscoped calls and takes a base URL with or without /v1", () => {
    const pool = new UpstreamPool(upstreams(["a", "b"]));
    expect([pool.ranked(undefined)[0]!.name, pool.ranked(undefined)[0]!.name, pool.ranked(undefined)[0]!.name]).toEqual(["a", "b", "a"]);
    const [withV1, without, nested] = resolveUpstreams([{ url: "http://h:1/v1" }, { url: "http://h:2" }, { url: "https://h/openai/v1/" }]);
    expect([withV1!.base.href, without!.base.href, nested!.base.href]).toEqual(["http://h:1/", "http://h:2/", "https://h/openai"]);
    expect(() => resolveUpstreams([{ url: "http://a/v1", name: "x" }, { url: "http://b/v1", name: "x" }])).toThrow(/duplicate upstream name/);
  });
});

describe("token capture", () => {
  const all = { tokenIds: true, logprobs: true };

  it("asks only for what the agent did not ask for and the upstream can give", () => {
    const chat: Record<string, unknown> = { messages: [] };
    expect(addCaptureRequests("chat", chat, all)).toEqual({ tokenIds: true, logprobs: true });
    expect(chat).toMatchObject({ return_token_ids: true, logprobs: true });
    const asked: Record<string, unknown> = { messages: [], logprobs: true, return_token_ids: true };
    expect(addCaptureRequests("chat", asked, all)).toEqual({ tokenIds: false, logprobs: false });
    const legacy: Record<string, unknown> = { prompt: "x", logprobs: 0 };
    expect(addCaptureRequests("completions", legacy, all)).toEqual({ tokenIds: true, logprobs: false });
    expect(addCaptureRequests("chat", {}, { tokenIds: false, logprobs: false })).toEqual({ tokenIds: false, logprobs: false });
    expect(addCaptureRequests("responses", {}, all)).toEqual({ tokenIds: false, logprobs: false });
  });

  it("takes out exactly what it added", () => {
    const answer = { prompt_token_ids: [1], choices: [{ token_ids: [2], logprobs: { content: [] }, message: {} }] };
    expect(removeCaptured(answer, { tokenIds: true, logprobs: false })).toBe(true);
    expect(answer).toEqual({ choices: [{ logprobs: { content: [] }, message: {} }] });
    expect(removeCaptured(answer, { tokenIds: false, logprobs: true })).toBe(true);
    expect(answer.choices[0]!.logprobs).toBeNull();
    expect(removeCaptured(answer, { tokenIds: true, logprobs: true })).toBe(false);
    expect(removeCaptured("not an object", { tokenIds: true, logprobs: true })).toBe(false);
  });
});

describe("the pause gate", () => {
  it("lets calls through, holds them while paused, and resolves pause() once the last one leaves", async () => {
    const gate = new Gate("wait", 1);
    const leave = await gate.enter();
    let drained = false;
    const pausing = gate.pause().then(() => (drained = true));
    const held = gate.enter();
    // Whatever is pending runs now; the call inside has not left, so the pause cannot have drained.
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    leave();
    leave(); // leaving twice counts once
    await pausing;
    expect(gate.active).toBe(0);
    gate.resume();
    (await held)();
    expect(gate.active).toBe(0);
  });

  it("gives up waiting when the caller leaves, and can turn calls away instead", async () => {
    const gate = new Gate("wait", 1);
    await gate.pause();
    const controller = new AbortController();
    const waiting = gate.enter(controller.signal);
    controller.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
    const rejecting = new Gate("reject", 7);
    await rejecting.pause();
    await expect(rejecting.enter()).rejects.toBeInstanceOf(GatewayPausedError);
  });
});
