/**
 * The gateway under load and under failure: pausing around a weight update, upstream faults,
 * retries, many concurrent rollouts, several upstreams.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { failFirst, startMockLlm } from "tracetrain/testing";
import { attr, callSpans, chatEvent, claim, clientFor, nested, type Rig, startRawUpstream, startRig } from "./helpers.js";

// A loaded machine may be slow: tests wait for events, and only this generous overall limit bounds them.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let rig: Rig;
afterEach(async () => {
  await rig?.close();
});

const ask = (r: Rig, scope: Parameters<typeof clientFor>[1], content: string) =>
  clientFor(r.gateway, scope).chat.completions.create({ model: "m", messages: [{ role: "user", content }] });

describe("pause and resume", () => {
  it("drains the calls in flight, holds new ones, and loses none", async () => {
    rig = await startRig({ mock: { chunkDelayMs: 5 } });
    const scopes = await Promise.all(Array.from({ length: 10 }, () => claim(rig.store)));
    // Streams of ~6 events at 5 ms each: in flight long enough to pause in the middle.
    const streamed = (scope: (typeof scopes)[number], i: number) =>
      clientFor(rig.gateway, scope)
        .chat.completions.create({ model: "m", messages: [{ role: "user", content: `call ${i}` }], stream: true })
        .then(async (stream) => {
          let text = "";
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
          return text;
        });
    // Settled as they go, so a call still running when an assertion fails cannot end as an unhandled rejection.
    const before = Promise.allSettled(scopes.flatMap((scope, i) => [streamed(scope, i), streamed(scope, i + 100)]));
    // A loaded machine may take a while to get the calls going: wait as long as it takes, not a fixed time.
    await expect.poll(() => rig.upstream.requests.length > 5 && rig.gateway.stats().inFlight > 0, { interval: 1, timeout: 60_000 }).toBe(true);
    const pausing = rig.gateway.pause();
    expect(rig.gateway.stats().inFlight).toBeGreaterThan(0);
    await pausing;
    // Drained: every call let through has finished, and no new one goes upstream.
    expect(rig.gateway.stats()).toMatchObject({ paused: true, inFlight: 0 });
    const atPause = rig.upstream.requests.length;
    expect(atPause).toBeGreaterThan(0);
    // Calls that had not reached the upstream by the pause wait at the gate, and so do new ones.
    const waitingAtPause = rig.gateway.stats().waiting;
    const heldBack = Promise.allSettled(scopes.map((scope, i) => streamed(scope, i + 200)));
    await expect.poll(() => rig.gateway.stats().waiting, { timeout: 60_000 }).toBe(waitingAtPause + 10);
    expect(rig.upstream.requests.length).toBe(atPause);
    rig.gateway.resume();
    const settled = [...(await before), ...(await heldBack)];
    expect(settled.filter((r) => r.status === "rejected")).toEqual([]);
    const texts = settled.map((r) => (r.status === "fulfilled" ? r.value : ""));
    expect(texts.filter((t) => t.startsWith("echo: call "))).toHaveLength(30);
    let recorded = 0;
    for (const scope of scopes) recorded += (await callSpans(rig, scope)).length;
    expect(recorded).toBe(30);
  });

  it("can turn calls away with 429 and Retry-After while paused", async () => {
    rig = await startRig({ whilePaused: "reject", pauseRetryAfterSeconds: 3 });
    const scope = await claim(rig.store);
    await rig.gateway.pause();
    const response = await fetch(`${rig.gateway.baseUrlFor(scope)}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    rig.gateway.resume();
    await expect(ask(rig, scope, "after")).resolves.toBeDefined();
  });

  it("turns held calls away (503) when it closes while paused", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    await rig.gateway.pause();
    const held = fetch(`${rig.gateway.baseUrlFor(scope)}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
    });
    await expect.poll(() => rig.gateway.stats().waiting, { timeout: 60_000 }).toBe(1);
    await rig.gateway.close();
    expect((await held).status).toBe(503);
    expect(rig.upstream.requests).toHaveLength(0);
  });
});

/** Streams a call and reads it until the stream breaks, as it must; returns the text of each chunk received. */
async function readUntilBroken(r: Rig, scope: Parameters<typeof clientFor>[1]): Promise<string[]> {
  const stream = await clientFor(r.gateway, scope).chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }], stream: true });
  const received: string[] = [];
  await expect(
    (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? "");
    })(),
  ).rejects.toThrow();
  return received;
}

describe("upstream failures", () => {
  it("breaks the agent's stream when the upstream's breaks, and records what arrived and the error", async () => {
    rig = await startRig();
    rig.upstream.script(() => ({ text: "a fairly long answer that will be cut", fault: { kind: "break_stream", afterEvents: 3 } }));
    const scope = await claim(rig.store);
    const received = await readUntilBroken(rig, scope);
    expect(received.length).toBe(3);
    const [span] = await callSpans(rig, scope);
    expect(span!.status.code).toBe("error");
    expect(span!.status.message).toMatch(/broke off/);
    const [partial] = attr(span!, Attr.outputMessages) as Array<{ content: string }>;
    expect(partial!.content).toBe(received.join(""));
  });

  it("stores the span of a stream that breaks after an event it cannot re-serialise", async () => {
    // An event nested far too deep to re-serialise, then the connection cut mid-stream.
    const deep = `data: {"id":"c-1","choices":[{"index":0,"delta":{"content":"!"},"token_ids":[9]}],"junk":${nested(5000)}}\n\n`;
    const upstream = await startRawUpstream((_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(chatEvent("before ", { choices: [{ index: 0, delta: { content: "before " }, token_ids: [1] }] }));
      response.write(deep, () => response.socket?.destroy());
    });
    try {
      rig = await startRig();
      await rig.gateway.setUpstreams([{ url: upstream.baseUrl, capabilities: { tokenIds: true, logprobs: false } }]);
      const scope = await claim(rig.store);
      // The agent got both events (the deep one untouched); the span has what could be recorded, and the break.
      expect(await readUntilBroken(rig, scope)).toEqual(["before ", "!"]);
      const [span] = await callSpans(rig, scope);
      expect(span!.status).toMatchObject({ code: "error", message: expect.stringMatching(/broke off/) });
      expect(attr(span!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "before " }]);
    } finally {
      await upstream.close();
    }
  });

  it("retries connection failures and 5xx before answering, and counts the retries", async () => {
    rig = await startRig({ retry: { baseDelayMs: 1 } });
    rig.upstream.script(failFirst(2, { error: { status: 503, message: "overloaded" } }));
    const scope = await claim(rig.store);
    const answer = await ask(rig, scope, "eventually");
    expect(answer.choices[0]!.message.content).toBe("echo: eventually");
    rig.upstream.script(failFirst(1, { text: "unused", fault: { kind: "drop_connection" } }));
    await expect(ask(rig, scope, "again")).resolves.toBeDefined();
    const spans = await callSpans(rig, scope);
    expect(spans.map((s) => attr(s, Attr.gatewayRetries))).toEqual([2, 1]);
    expect(rig.gateway.stats().retries).toBe(3);
  });

  it("passes the last upstream error on after the last try, and records it", async () => {
    rig = await startRig({ retry: { tries: 2, baseDelayMs: 1 } });
    rig.upstream.script(() => ({ error: { status: 429, message: "slow down", retryAfter: 0 } }));
    const scope = await claim(rig.store);
    await expect(ask(rig, scope, "x")).rejects.toMatchObject({ status: 429 });
    const [span] = await callSpans(rig, scope);
    expect(span!.status.code).toBe("error");
    expect(attr(span!, Attr.errorType)).toBe("429");
    expect(attr(span!, Attr.gatewayRetries)).toBe(1);
  });

  it("answers 502 when no upstream can be reached", async () => {
    rig = await startRig({ retry: { tries: 2, baseDelayMs: 1 } });
    await rig.gateway.setUpstreams([{ url: "http://127.0.0.1:9/v1", capabilities: { tokenIds: false, logprobs: false } }]);
    const scope = await claim(rig.store);
    await expect(ask(rig, scope, "x")).rejects.toMatchObject({ status: 502 });
    const [span] = await callSpans(rig, scope);
    expect(span!.status.code).toBe("error");
  });

  it("stops the upstream call when the agent goes away mid-stream", async () => {
    rig = await startRig({ mock: { chunkDelayMs: 20 } });
    const scope = await claim(rig.store);
    const controller = new AbortController();
    const stream = await clientFor(rig.gateway, scope).chat.completions.create(
      { model: "m", messages: [{ role: "user", content: "a long story to tell" }], stream: true },
      { signal: controller.signal },
    );
    // The SDK ends the iteration quietly on abort (or throws): either way the agent has gone.
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) controller.abort();
      }
    } catch {
      // aborted
    }
    await expect.poll(async () => (await callSpans(rig, scope))[0]?.status.message, { timeout: 60_000 }).toMatch(/agent closed the connection/);
  });
});

describe("scale and routing", () => {
  it("attributes 500 parallel calls across 50 rollouts, each to its own attempt", async () => {
    rig = await startRig();
    const scopes = await Promise.all(Array.from({ length: 50 }, () => claim(rig.store)));
    const answers = await Promise.all(Array.from({ length: 500 }, (_, i) => ask(rig, scopes[i % 50]!, `${scopes[i % 50]!.rolloutId} #${i}`)));
    answers.forEach((answer, i) => expect(answer.choices[0]!.message.content).toBe(`echo: ${scopes[i % 50]!.rolloutId} #${i}`));
    for (const scope of scopes) {
      const spans = await callSpans(rig, scope);
      expect(spans).toHaveLength(10);
      for (const span of spans) {
        const [message] = attr(span, Attr.outputMessages) as Array<{ content: string }>;
        expect(message!.content).toContain(scope.rolloutId);
        expect(span.attemptId).toBe(scope.attemptId);
      }
    }
  });

  it("sends each rollout to one upstream, and fails over when it is down", async () => {
    rig = await startRig();
    const second = await startMockLlm();
    try {
      await rig.gateway.setUpstreams([
        { url: rig.upstream.baseUrl, name: "a", capabilities: { tokenIds: true, logprobs: true } },
        { url: second.baseUrl, name: "b", capabilities: { tokenIds: true, logprobs: true } },
      ]);
      const scopes = await Promise.all(Array.from({ length: 20 }, () => claim(rig.store)));
      for (const scope of scopes) for (let i = 0; i < 3; i++) await ask(rig, scope, scope.rolloutId);
      const servedBy = new Map<string, Set<string>>();
      for (const scope of scopes) servedBy.set(scope.rolloutId, new Set((await callSpans(rig, scope)).map((s) => String(attr(s, Attr.gatewayUpstream)))));
      for (const upstreams of servedBy.values()) expect(upstreams.size).toBe(1);
      const used = new Set([...servedBy.values()].flatMap((s) => [...s]));
      expect(used).toEqual(new Set(["a", "b"]));

      await second.close();
      const movedFrom = scopes.find((s) => servedBy.get(s.rolloutId)!.has("b"))!;
      const answer = await ask(rig, movedFrom, "still served");
      expect(answer.choices[0]!.message.content).toBe("echo: still served");
    } finally {
      await second.close();
    }
  });

  it("records unscoped calls only when asked to, each as an online rollout", async () => {
    rig = await startRig();
    const unscoped = () => fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "free" }] }),
    });
    expect((await unscoped()).status).toBe(200);
    expect((await rig.store.stats()).rollouts.total).toBe(0);
    await rig.close();

    rig = await startRig({ recordUnscoped: true });
    expect((await unscoped()).status).toBe(200);
    const [rollout] = (await rig.store.queryRollouts()).items;
    expect(rollout).toMatchObject({ status: "succeeded", mode: "test", metadata: { source: "gateway" } });
    expect(await callSpans(rig, { rolloutId: rollout!.rolloutId, attemptId: rollout!.attempts[0]!.attemptId })).toHaveLength(1);
  });

  it("joins the client's trace when it sends a traceparent", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const parentId = "b7ad6b7169203331";
    await fetch(`${rig.gateway.baseUrlFor(scope)}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-${parentId}-01` },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
    });
    const [span] = await callSpans(rig, scope);
    expect([span!.traceId, span!.parentId]).toEqual([traceId, parentId]);
    expect(rig.upstream.requests.at(-1)?.headers.traceparent).toBeUndefined();
  });

  it("names the agent from the URL", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    await ask(rig, { ...scope, agentName: "planner" }, "plan");
    expect(attr((await callSpans(rig, scope))[0]!, Attr.agentName)).toBe("planner");
  });
});

