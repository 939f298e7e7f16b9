/**
 * The LLM gateway with the real `openai` client in front and the deterministic mock LLM behind:
 * what the agent receives, and what the gateway records.
 */
import { EventEmitter } from "node:events";
import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Attr } from "tracetrain/instrumentations";
import { type RawUpstream, attr, callSpans, chatEvent, claim, clientFor, nested, type Rig, startRawUpstream, startRig } from "./helpers.js";

// A loaded machine may be slow: tests wait for events, and only this generous overall limit bounds them.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

let rig: Rig;
/** Stand-in upstreams of the running test, closed before the gateway so no call of theirs is left hanging. */
const raws: RawUpstream[] = [];

afterEach(async () => {
  for (const raw of raws.splice(0)) await raw.close();
  await rig?.close();
});

const rawUpstream = async (handle: Parameters<typeof startRawUpstream>[0]) => {
  const raw = await startRawUpstream(handle);
  raws.push(raw);
  return raw;
};

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

type Vllm = { return_token_ids?: boolean };
type TokenAnswer = { prompt_token_ids: number[]; choices: Array<{ token_ids: number[]; logprobs: { content: Array<{ logprob: number }> } }> };

describe("chat completions", () => {
  it("answers exactly as the upstream does and records the exact token ids and logprobs", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const request = { model: "m", messages: [{ role: "user" as const, content: "hello there" }] };
    const viaGateway = await clientFor(rig.gateway, scope).chat.completions.create(request);
    const plain = await rig.direct.chat.completions.create(request);
    expect(viaGateway).toEqual(plain);
    expect(viaGateway.choices[0]!.logprobs).toBeNull();
    expect(viaGateway).not.toHaveProperty("prompt_token_ids");

    // What the engine sampled, asked for directly:
    const exact = (await rig.direct.chat.completions.create({ ...request, return_token_ids: true, logprobs: true } as typeof request & Vllm)) as unknown as TokenAnswer;
    const [span] = await callSpans(rig, scope);
    expect(span).toBeDefined();
    expect(attr(span!, Attr.promptTokenIds)).toEqual(exact.prompt_token_ids);
    expect(attr(span!, Attr.responseTokenIds)).toEqual([exact.choices[0]!.token_ids]);
    expect(attr(span!, Attr.logprobs)).toEqual([exact.choices[0]!.logprobs.content.map((t) => t.logprob)]);
    expect(attr(span!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: hello there", finish_reason: "stop" }]);
    expect(attr(span!, Attr.layer)).toBe("gateway");
    expect(attr(span!, Attr.textOnly)).toBeUndefined();
    expect(span!.status.code).toBe("ok");
  });

  it("streams chunk for chunk as the upstream does and records the assembled call", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const request = { model: "m", messages: [{ role: "user" as const, content: "stream me" }], stream: true as const };
    const viaGateway = await collect(await clientFor(rig.gateway, scope).chat.completions.create(request));
    const plain = await collect(await rig.direct.chat.completions.create(request));
    expect(viaGateway).toEqual(plain);
    const exact = (await rig.direct.chat.completions.create({ model: "m", messages: request.messages, return_token_ids: true } as never)) as unknown as TokenAnswer;
    const [span] = await callSpans(rig, scope);
    expect(attr(span!, Attr.responseTokenIds)).toEqual([exact.choices[0]!.token_ids]);
    expect(attr(span!, Attr.promptTokenIds)).toEqual(exact.prompt_token_ids);
    expect(attr(span!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: stream me", finish_reason: "stop" }]);
    expect(attr(span!, Attr.timeToFirstChunk)).toBeTypeOf("number");
  });

  it("relays each streamed event as it arrives, never holding the stream back", async () => {
    // The upstream sends each event only once the agent has received the one before: a gateway
    // that held events back (buffered the stream, or waited for its end) would never finish it.
    const words = ["one ", "two ", "three ", "four"];
    const agentSide = new EventEmitter();
    let received = 0;
    const agentHas = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (received < count) return;
          agentSide.off("chunk", check);
          resolve();
        };
        agentSide.on("chunk", check);
        check();
      });
    const upstream = await rawUpstream((_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      void (async () => {
        for (const [i, word] of words.entries()) {
          response.write(chatEvent(word, { prompt_token_ids: [1], choices: [{ index: 0, delta: { content: word }, finish_reason: null, token_ids: [i] }] }));
          await agentHas(i + 1);
        }
        response.end(`${chatEvent("", { choices: [{ index: 0, delta: {}, finish_reason: "stop", token_ids: [] }] })}data: [DONE]\n\n`);
      })();
    });
    rig = await startRig();
    // With token capture (events are rewritten one by one) and without (bytes are passed on).
    for (const tokenIds of [true, false]) {
      await rig.gateway.setUpstreams([{ url: upstream.baseUrl, capabilities: { tokenIds, logprobs: false } }]);
      received = 0;
      const scope = await claim(rig.store);
      const stream = await clientFor(rig.gateway, scope).chat.completions.create({ model: "m", messages: [{ role: "user", content: "count" }], stream: true });
      let text = "";
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? "";
        received++;
        agentSide.emit("chunk");
      }
      expect(text).toBe(words.join(""));
      expect(attr((await callSpans(rig, scope))[0]!, Attr.outputMessages)).toEqual([{ role: "assistant", content: words.join(""), finish_reason: "stop" }]);
    }
  });

  it("gives an agent that asked for logprobs its logprobs", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const request = { model: "m", messages: [{ role: "user" as const, content: "hi" }], logprobs: true, top_logprobs: 2 };
    const viaGateway = await clientFor(rig.gateway, scope).chat.completions.create(request);
    expect(viaGateway).toEqual(await rig.direct.chat.completions.create(request));
    expect(viaGateway.choices[0]!.logprobs?.content?.length).toBeGreaterThan(0);
  });
});

describe("attribution", () => {
  it("rejects calls for a rollout that does not exist (404) or an attempt that has ended (409)", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const unknown = clientFor(rig.gateway, { rolloutId: "ro-nope", attemptId: scope.attemptId });
    await expect(unknown.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({ status: 404 });
    await rig.store.completeAttempt(scope.rolloutId, scope.attemptId, { status: "succeeded" });
    const ended = clientFor(rig.gateway, scope);
    await expect(ended.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({ status: 409 });
    expect(rig.upstream.requests).toHaveLength(0);
  });
});

describe("every endpoint", () => {
  it("records tool calls, streamed and not", async () => {
    rig = await startRig();
    rig.upstream.script(() => ({ toolCalls: [{ name: "lookup", arguments: { city: "Paris" } }] }));
    const scope = await claim(rig.store);
    const client = clientFor(rig.gateway, scope);
    const tools = [{ type: "function" as const, function: { name: "lookup", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
    const whole = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "weather?" }], tools });
    expect(whole.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: "lookup", arguments: '{"city":"Paris"}' } });
    await collect(await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "weather?" }], tools, stream: true }));
    const spans = await callSpans(rig, scope);
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      const [message] = attr(span, Attr.outputMessages) as Array<{ tool_calls: Array<{ function: { name: string; arguments: string } }> }>;
      expect(message!.tool_calls[0]!.function).toEqual({ name: "lookup", arguments: '{"city":"Paris"}' });
      expect(attr(span, Attr.toolDefinitions)).toEqual(tools);
      expect((attr(span, Attr.responseTokenIds) as number[][])[0]!.length).toBeGreaterThan(0);
    }
  });

  it("records every choice of n = 3, streamed and not", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const client = clientFor(rig.gateway, scope);
    const whole = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "three" }], n: 3 });
    expect(whole.choices).toHaveLength(3);
    await collect(await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "three" }], n: 3, stream: true }));
    for (const span of await callSpans(rig, scope)) {
      expect(attr(span, Attr.outputMessages)).toHaveLength(3);
      expect(attr(span, Attr.responseTokenIds)).toHaveLength(3);
      expect(attr(span, Attr.logprobs)).toHaveLength(3);
    }
  });

  it("records legacy completions sent as token ids, streamed and not", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const client = clientFor(rig.gateway, scope);
    const promptIds = (await rig.direct.completions.create({ model: "m", prompt: "count to three", max_tokens: 5, return_token_ids: true } as never)) as unknown as {
      choices: Array<{ prompt_token_ids: number[] }>;
    };
    const prompt = promptIds.choices[0]!.prompt_token_ids;
    const whole = await client.completions.create({ model: "m", prompt, max_tokens: 5 });
    expect(whole.choices[0]!.logprobs).toBeNull();
    expect(whole.choices[0]).not.toHaveProperty("token_ids");
    await collect(await client.completions.create({ model: "m", prompt, max_tokens: 5, stream: true }));
    const spans = await callSpans(rig, scope);
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(attr(span, Attr.operationName)).toBe("text_completion");
      expect(attr(span, Attr.promptTokenIds)).toEqual(prompt);
      expect((attr(span, Attr.responseTokenIds) as number[][])[0]!.length).toBeGreaterThan(0);
      expect((attr(span, Attr.logprobs) as number[][])[0]!.length).toBe((attr(span, Attr.responseTokenIds) as number[][])[0]!.length);
    }
  });

  it("records Responses API calls (text only: the API has no token ids)", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const client = clientFor(rig.gateway, scope);
    const whole = await client.responses.create({ model: "m", input: "hello responses" });
    expect(whole).toEqual(await rig.direct.responses.create({ model: "m", input: "hello responses" }));
    await collect(await client.responses.create({ model: "m", input: "hello responses", stream: true }));
    const spans = await callSpans(rig, scope);
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(attr(span, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: hello responses", finish_reason: "stop" }]);
      expect(attr(span, Attr.textOnly)).toBe(true);
      expect(attr(span, Attr.responseTokenIds)).toBeUndefined();
    }
  });

  it("passes Anthropic messages through and records them; lists models", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const response = await fetch(`${rig.gateway.baseUrlFor(scope)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude", max_tokens: 20, messages: [{ role: "user", content: "hi claude" }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { content: Array<{ text: string }> };
    expect(body.content[0]!.text).toBe("echo: hi claude");
    expect(rig.upstream.requests.at(-1)?.headers["anthropic-version"]).toBe("2023-06-01");
    const [span] = await callSpans(rig, scope);
    expect(attr(span!, Attr.providerName)).toBe("anthropic");
    expect(attr(span!, Attr.textOnly)).toBe(true);

    const streamed = await fetch(`${rig.gateway.baseUrlFor(scope)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude", max_tokens: 20, stream: true, messages: [{ role: "user", content: "stream, claude" }] }),
    });
    expect(streamed.headers.get("content-type")).toContain("text/event-stream");
    expect(await streamed.text()).toContain("message_stop");
    const spans = await callSpans(rig, scope);
    expect(spans).toHaveLength(2);
    expect(attr(spans[1]!, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: stream, claude", finish_reason: "end_turn" }]);

    const models = await clientFor(rig.gateway, scope).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["mock-model"]);
    expect(await callSpans(rig, scope)).toHaveLength(2);
  });
});

describe("token capture", () => {
  it("asks for token ids only in train mode unless told to always capture", async () => {
    rig = await startRig();
    const val = await claim(rig.store, "val");
    await clientFor(rig.gateway, val).chat.completions.create({ model: "m", messages: [{ role: "user", content: "v" }] });
    expect(rig.upstream.requests.at(-1)?.body).not.toHaveProperty("return_token_ids");
    const [span] = await callSpans(rig, val);
    expect(attr(span!, Attr.textOnly)).toBe(true);
    await rig.close();

    rig = await startRig({ captureTokens: "always" });
    const val2 = await claim(rig.store, "val");
    await clientFor(rig.gateway, val2).chat.completions.create({ model: "m", messages: [{ role: "user", content: "v" }] });
    expect(rig.upstream.requests.at(-1)?.body).toMatchObject({ return_token_ids: true, logprobs: true });
  });

  it("probes each upstream at start, and never asks one that cannot give token ids", async () => {
    rig = await startRig();
    await rig.gateway.setUpstreams([{ url: rig.upstream.baseUrl }]);
    expect(rig.gateway.upstreams()[0]!.capabilities).toEqual({ tokenIds: true, logprobs: true });
    await rig.gateway.setUpstreams([{ url: rig.upstream.baseUrl, capabilities: { tokenIds: false, logprobs: false } }]);
    const scope = await claim(rig.store);
    await clientFor(rig.gateway, scope).chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(rig.upstream.requests.at(-1)?.body).not.toHaveProperty("return_token_ids");
    expect(attr((await callSpans(rig, scope))[0]!, Attr.textOnly)).toBe(true);
  });

  it("can leave the captured fields in the answers", async () => {
    rig = await startRig({ stripCaptured: false });
    const scope = await claim(rig.store);
    const answer = await clientFor(rig.gateway, scope).chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(answer).toHaveProperty("prompt_token_ids");
    expect(answer.choices[0]!.logprobs).not.toBeNull();
  });
});

describe("policy control", () => {
  it("serves the policy's model, applies sampling per mode, and stamps the policy version", async () => {
    rig = await startRig({ policy: { model: "policy-v1", sampling: { train: { temperature: 1.0 }, val: { temperature: 0 } }, policyVersion: 1 } });
    const train = await claim(rig.store, "train");
    const val = await claim(rig.store, "val");
    await clientFor(rig.gateway, train).chat.completions.create({ model: "whatever", messages: [{ role: "user", content: "t" }], temperature: 0.3 });
    expect(rig.upstream.requests.at(-1)?.body).toMatchObject({ model: "policy-v1", temperature: 1.0 });
    rig.gateway.setPolicy({ model: "policy-v2", sampling: { val: { temperature: 0 } }, policyVersion: "v2" });
    await clientFor(rig.gateway, val).chat.completions.create({ model: "whatever", messages: [{ role: "user", content: "v" }], temperature: 0.3 });
    expect(rig.upstream.requests.at(-1)?.body).toMatchObject({ model: "policy-v2", temperature: 0 });
    const [trainSpan] = await callSpans(rig, train);
    const [valSpan] = await callSpans(rig, val);
    expect([attr(trainSpan!, Attr.policyVersion), attr(trainSpan!, Attr.requestModel), attr(trainSpan!, Attr.requestTemperature)]).toEqual([1, "policy-v1", 1]);
    expect([attr(valSpan!, Attr.policyVersion), attr(valSpan!, Attr.requestModel)]).toEqual(["v2", "policy-v2"]);
    expect(() => rig.gateway.setPolicy({ sampling: { train: { stream: true } } })).toThrow(/cannot be a sampling override/);
    expect(() => rig.gateway.setPolicy({ policyVersion: 1.5 } as never)).toThrow(/policyVersion/);
  });

  it("forwards with each upstream's own model name, and records the top_k a call was sampled with", async () => {
    rig = await startRig({ policy: { model: "policy", sampling: { train: { top_k: 40 } } } });
    const scope = await claim(rig.store, "train");
    await rig.gateway.setUpstreams([{ name: "lora", url: rig.upstream.baseUrl, model: "adapter-v3", capabilities: { tokenIds: true, logprobs: true } }]);
    expect(rig.gateway.upstreams()).toEqual([expect.objectContaining({ name: "lora", model: "adapter-v3" })]);
    await clientFor(rig.gateway, scope).chat.completions.create({ model: "whatever", messages: [{ role: "user", content: "t" }], top_p: 0.9 } as never);
    expect(rig.upstream.requests.at(-1)?.body).toMatchObject({ model: "adapter-v3", top_k: 40, top_p: 0.9 });
    const [span] = await callSpans(rig, scope);
    expect([attr(span!, Attr.requestModel), attr(span!, Attr.requestTopK), attr(span!, Attr.requestTopP)]).toEqual(["adapter-v3", 40, 0.9]);
  });

  it("gives unmodified agents a resource whose base URL ctx.llm() scopes to each rollout", async () => {
    rig = await startRig({ policy: { model: "served", policyVersion: 7 } });
    const resource = rig.gateway.llmResource();
    expect(resource).toEqual({ kind: "llm", baseUrl: `${rig.gateway.url}/rollout/{rolloutId}/attempt/{attemptId}/v1`, model: "served", policyVersion: 7 });
    const snapshot = await rig.store.addResources({ main: resource });
    const stored = snapshot.resources.main as typeof resource;
    const { createAgentContext } = await import("../../src/runner/agent-context.js");
    const scope = await claim(rig.store);
    const ctx = createAgentContext({ ...scope, mode: "train", resources: snapshot.resources, signal: new AbortController().signal });
    expect(ctx.llm().baseUrl).toBe(rig.gateway.baseUrlFor(scope));
    expect(stored.baseUrl).toContain("{rolloutId}");
    await new OpenAI({ baseURL: ctx.llm().baseUrl, apiKey: "unused", maxRetries: 0 }).chat.completions.create({ model: ctx.llm().model, messages: [{ role: "user", content: "x" }] });
    expect(await callSpans(rig, scope)).toHaveLength(1);
  });
});

describe("security", () => {
  it("wants the gateway token, or the per-rollout key of the attempt it calls for", async () => {
    rig = await startRig({ token: "gw-secret" });
    const mine = await claim(rig.store);
    const other = await claim(rig.store);
    const ask = (scope: typeof mine, key: string) => clientFor(rig.gateway, scope, key).chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    await expect(ask(mine, "wrong")).rejects.toMatchObject({ status: 401 });
    await expect(ask(mine, rig.gateway.keyFor(other))).rejects.toMatchObject({ status: 401 });
    await expect(ask(mine, rig.gateway.keyFor(mine))).resolves.toBeDefined();
    await expect(ask(mine, "gw-secret")).resolves.toBeDefined();
    const unscoped = new OpenAI({ baseURL: `${rig.gateway.url}/v1`, apiKey: rig.gateway.keyFor(mine), maxRetries: 0 });
    await expect(unscoped.models.list()).rejects.toMatchObject({ status: 401 });
    expect(rig.upstream.requests).toHaveLength(2);
    // The agent's key is for the gateway: it never goes upstream.
    expect(rig.upstream.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("sends the upstream's key upstream and never records or logs it", async () => {
    const lines: string[] = [];
    const log = (message: string, fields?: unknown) => void lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
    rig = await startRig({ logger: { debug: log, info: log, warn: log, error: log } });
    await rig.gateway.setUpstreams([{ url: rig.upstream.baseUrl, apiKey: "sk-upstream-secret", capabilities: { tokenIds: true, logprobs: true } }]);
    const scope = await claim(rig.store);
    await clientFor(rig.gateway, scope, "agent-key").chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(rig.upstream.requests.at(-1)?.headers.authorization).toBe("Bearer sk-upstream-secret");
    const spans = await callSpans(rig, scope);
    expect(JSON.stringify(spans)).not.toContain("sk-upstream-secret");
    expect(JSON.stringify(rig.gateway.upstreams())).not.toContain("sk-upstream-secret");
    expect(lines.join("\n")).not.toContain("sk-upstream-secret");
  });

  it("without a token of its own, passes the agent's key on to an upstream that has none", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    await clientFor(rig.gateway, scope, "sk-agent-own").chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }, { headers: { "api-key": "azure-agent-own" } });
    expect(rig.upstream.requests.at(-1)?.headers).toMatchObject({ authorization: "Bearer sk-agent-own", "api-key": "azure-agent-own" });
    expect(JSON.stringify(await callSpans(rig, scope))).not.toMatch(/sk-agent-own|azure-agent-own/);
  });

  const CREDENTIALS = {
    "x-api-key": "agent-x-api-key",
    "api-key": "agent-azure-key",
    "x-goog-api-key": "agent-google-key",
    cookie: "session=agent-cookie",
    "proxy-authorization": "Basic YWdlbnQ6cHJveHk=",
  };
  const sentUpstream = (rig: Rig) => JSON.stringify(rig.upstream.requests.at(-1)?.headers);

  it("with a token, sends none of the agent's credentials upstream, whatever header carries them", async () => {
    rig = await startRig({ token: "gw-secret" });
    const scope = await claim(rig.store);
    await clientFor(rig.gateway, scope, "gw-secret").chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }, { headers: CREDENTIALS });
    expect(rig.upstream.requests).toHaveLength(1);
    expect(sentUpstream(rig)).not.toMatch(/gw-secret|agent-|YWdlbnQ6cHJveHk=/);
    expect(rig.upstream.requests[0]!.headers).not.toHaveProperty("cookie");
  });

  it("replaces every credential the agent sent when the upstream has a key of its own", async () => {
    rig = await startRig();
    await rig.gateway.setUpstreams([{ url: rig.upstream.baseUrl, apiKey: "sk-upstream", capabilities: { tokenIds: true, logprobs: true } }]);
    const scope = await claim(rig.store);
    await clientFor(rig.gateway, scope, "sk-agent").chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }, { headers: CREDENTIALS });
    expect(rig.upstream.requests.at(-1)?.headers.authorization).toBe("Bearer sk-upstream");
    expect(sentUpstream(rig)).not.toMatch(/sk-agent|agent-|YWdlbnQ6cHJveHk=/);
  });

  it("takes the bearer scheme in any case (RFC 7235)", async () => {
    rig = await startRig({ token: "gw-secret" });
    const scope = await claim(rig.store);
    for (const scheme of ["bearer", "BEARER", "BeArEr"]) {
      const response = await fetch(`${rig.gateway.baseUrlFor(scope)}/models`, { headers: { authorization: `${scheme} gw-secret` } });
      expect(response.status, scheme).toBe(200);
    }
    expect((await fetch(`${rig.gateway.url}/metrics`, { headers: { authorization: "bearer gw-secret" } })).status).toBe(200);
    expect((await fetch(`${rig.gateway.baseUrlFor(scope)}/models`, { headers: { authorization: "Basic gw-secret" } })).status).toBe(401);
  });

  it("never shows the user name or password of an upstream URL", async () => {
    const lines: string[] = [];
    const log = (message: string, fields?: unknown) => void lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
    rig = await startRig({ logger: { debug: log, info: log, warn: log, error: log }, retry: { tries: 1 } });
    const withUser = (url: string) => url.replace("http://", "http://trainer:pa55word@");
    await rig.gateway.setUpstreams([{ url: withUser(rig.upstream.baseUrl), name: "gpu" }]);
    expect(rig.gateway.upstreams()).toEqual([{ name: "gpu", url: withUser(rig.upstream.baseUrl).replace("trainer:pa55word", "***"), capabilities: { tokenIds: true, logprobs: true } }]);
    const scope = await claim(rig.store);
    const call = () => fetch(`${rig.gateway.baseUrlFor(scope)}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"model":"m","messages":[]}' });
    expect((await call()).status).toBe(200);
    // The credentials are still used: they reach the upstream as HTTP basic auth.
    expect(rig.upstream.requests.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from("trainer:pa55word").toString("base64")}`);
    await rig.gateway.setUpstreams([{ url: "http://trainer:pa55word@127.0.0.1:9/v1" }]);
    const failed = await call();
    expect(failed.status).toBe(502);
    const shown = [
      JSON.stringify(rig.gateway.upstreams()),
      await failed.text(),
      JSON.stringify(await callSpans(rig, scope)),
      await (await fetch(`${rig.gateway.url}/metrics`)).text(),
      lines.join("\n"),
    ].join("\n");
    expect(shown).toContain("***@127.0.0.1:9");
    expect(shown).not.toMatch(/pa55word|trainer/);
  });

  it("refuses to listen beyond loopback without a token", async () => {
    const { startGateway } = await import("tracetrain/gateway");
    const { MemoryStore } = await import("tracetrain/store");
    // A name that only starts like a loopback address may resolve anywhere.
    for (const host of ["0.0.0.0", "127.example.com", "::ffff:10.0.0.1"]) {
      await expect(startGateway({ store: new MemoryStore(), upstreams: [{ url: "http://127.0.0.1:1/v1" }], host, port: 0, probe: false }), host).rejects.toThrow(/without a token/);
    }
  });

  it("answers malformed requests with 4xx in the API's error format", async () => {
    rig = await startRig({ bodyLimitBytes: 1000 });
    const scope = await claim(rig.store);
    const base = rig.gateway.baseUrlFor(scope);
    const post = (path: string, body: string) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const bad = await post("/chat/completions", "{not json");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: "validation", message: expect.stringContaining("not valid JSON") } });
    expect((await post("/chat/completions", "[1,2]")).status).toBe(400);
    expect((await post("/chat/completions", JSON.stringify({ model: "m", messages: [{ role: "user", content: "x".repeat(2000) }] }))).status).toBe(413);
    const anthropic = await post("/messages", "{");
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "validation" } });
    expect((await fetch(`${rig.gateway.url}/rollout/bad%ZZ/attempt/a/v1/models`)).status).toBe(404);
    expect((await fetch(`${rig.gateway.url}/elsewhere`)).status).toBe(404);
    expect((await fetch(`${rig.gateway.url}/v1/models`, { headers: { "x-tracetrain-rollout-id": scope.rolloutId } })).status).toBe(404);
    expect((await fetch(`${rig.gateway.url}/healthz`)).status).toBe(200);
    expect(rig.upstream.requests).toHaveLength(0);
  });
});

describe("bad input", () => {
  const post = (url: string, body: string) => fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });

  it("refuses a body nested deeper than the limit with a 400 that says so, and stores the call's span as failed", async () => {
    rig = await startRig();
    const scope = await claim(rig.store);
    const url = `${rig.gateway.baseUrlFor(scope)}/chat/completions`;
    // Valid JSON of about 10 KB, 5,000 levels deep: re-serialising it would overflow the stack.
    const deep = await post(url, `{"model":"m","messages":[{"role":"user","content":"x"}],"metadata":${nested(5000)}}`);
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({ error: { type: "validation", message: expect.stringMatching(/^invalid request body: nests deeper than 128 levels, the limit for JSON request bodies/) } });
    expect(rig.upstream.requests).toHaveLength(0);
    const [span] = await callSpans(rig, scope);
    expect(span!.status).toEqual({ code: "error", message: expect.stringContaining("nests deeper than 128 levels") });
    expect(attr(span!, Attr.errorType)).toBe("ValidationError");
    // Up to the limit is forwarded and recorded as usual.
    expect((await post(url, `{"model":"m","messages":[{"role":"user","content":"y"}],"metadata":${nested(127)}}`)).status).toBe(200);
    expect((await callSpans(rig, scope)).map((s) => s.status.code)).toEqual(["error", "ok"]);
  });

  it("ends and stores the span of every call that fails after it was accepted, whatever the failure", async () => {
    rig = await startRig({ whilePaused: "reject", recordUnscoped: true });
    const scope = await claim(rig.store);
    const url = `${rig.gateway.baseUrlFor(scope)}/chat/completions`;
    expect((await post(url, "{not json")).status).toBe(400);
    expect((await post(`${rig.gateway.baseUrlFor(scope)}/messages`, "[1, 2]")).status).toBe(400);
    await rig.gateway.pause();
    expect((await post(url, JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }))).status).toBe(429);
    rig.gateway.resume();
    const spans = await callSpans(rig, scope);
    expect(spans.map((s) => [s.name, s.status.code, s.status.message])).toEqual([
      ["chat", "error", expect.stringContaining("not valid JSON")],
      ["chat", "error", expect.stringContaining("expected a JSON object")],
      // Turned away before the policy (which may change while paused) was applied: what was asked is not recorded.
      ["chat", "error", expect.stringContaining("paused")],
    ]);
    expect(attr(spans[1]!, Attr.providerName)).toBe("anthropic");
    // An unscoped call recorded as a rollout of its own: the rollout fails with its call.
    expect((await post(`${rig.gateway.url}/v1/chat/completions`, "{")).status).toBe(400);
    const [online] = (await rig.store.queryRollouts()).items.filter((r) => r.rolloutId !== scope.rolloutId);
    expect(online).toMatchObject({ status: "failed", metadata: { source: "gateway" } });
    expect(rig.upstream.requests).toHaveLength(0);
  });

  it("passes on an upstream answer too deep to re-serialise untouched, and records why it has no answer", async () => {
    const junk = nested(5000);
    const answer = `{"id":"c-1","object":"chat.completion","model":"m","prompt_token_ids":[1],"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop","token_ids":[2]}],"junk":${junk}}`;
    const upstream = await rawUpstream((_request, response) => response.writeHead(200, { "content-type": "application/json" }).end(answer));
    rig = await startRig();
    await rig.gateway.setUpstreams([{ url: upstream.baseUrl, capabilities: { tokenIds: true, logprobs: false } }]);
    const scope = await claim(rig.store);
    const response = await post(`${rig.gateway.baseUrlFor(scope)}/chat/completions`, JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(answer);
    const [span] = await callSpans(rig, scope);
    expect(span!.status).toEqual({ code: "error", message: expect.stringContaining("nests deeper than 128 levels") });
  });
});

describe("metrics", () => {
  it("serves Prometheus metrics: requests by endpoint and status, recorded calls, the gate and the policy", async () => {
    rig = await startRig({ token: "gw-token", policy: { policyVersion: 7 } });
    const scope = await claim(rig.store);
    await clientFor(rig.gateway, scope, "gw-token").chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    await fetch(`${rig.gateway.url}/rollout/${scope.rolloutId}/attempt/${scope.attemptId}/v1/models`, { headers: { authorization: "Bearer gw-token" } });
    await fetch(`${rig.gateway.url}/nowhere/${"x".repeat(50)}`);
    expect((await fetch(`${rig.gateway.url}/metrics`)).status).toBe(401);
    const response = await fetch(`${rig.gateway.url}/metrics`, { headers: { authorization: "Bearer gw-token" } });
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('tracetrain_gateway_http_requests_total{route="/v1/chat/completions",method="POST",status="200"} 1');
    expect(text).toContain('tracetrain_gateway_http_requests_total{route="/v1/*",method="GET",status="200"} 1');
    // Unknown paths share one label: a client cannot grow the label set.
    expect(text).toContain('tracetrain_gateway_http_requests_total{route="other",method="GET",status="404"} 1');
    expect(text).toContain('tracetrain_gateway_http_requests_total{route="/metrics",method="GET",status="401"} 1');
    expect(text).toMatch(/tracetrain_gateway_http_request_duration_seconds_count\{route="\/v1\/chat\/completions",method="POST"\} 1/);
    expect(text).toContain("tracetrain_gateway_calls_recorded_total 1");
    expect(text).toContain("tracetrain_gateway_paused 0");
    expect(text).toContain("tracetrain_gateway_upstreams 1");
    expect(text).toContain('tracetrain_gateway_policy_info{version="7"} 1');
    expect(text).not.toContain(scope.rolloutId);
  });
});
