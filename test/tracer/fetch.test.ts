import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { Tracer } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { withSuppressed } from "../../src/tracer/context.js";
import { acquire, release } from "../../src/tracer/instrumentation.js";
import { createFetchInstrumentation } from "../../src/tracer/instrumentations/fetch.js";
import { type MockLlm, startMockLlm, tokenize } from "tracetrain/testing";

class NullSink implements SpanSink {
  async addSpans(): Promise<void> {}
}

const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };
const tracer = new Tracer({ sink: new NullSink(), logger: quietLogger });
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const llmSpans = (spans: SpanInput[]) => spans.filter((s) => attr(s, Attr.spanType) === SpanTypes.llm);

let counter = 0;
async function capture<T>(fn: () => Promise<T>): Promise<{ value: T; spans: SpanInput[]; llm: SpanInput[] }> {
  const n = ++counter;
  const outcome = await tracer.capture({ rolloutId: `ro-${n}`, attemptId: `at-${n}` }, fn);
  if (!outcome.ok) throw outcome.error;
  return { value: outcome.value, spans: outcome.spans, llm: llmSpans(outcome.spans) };
}

/** Runs `fn` traced; expects exactly one LLM span. */
async function traced<T>(fn: () => Promise<T>): Promise<{ value: T; llm: SpanInput; root: SpanInput }> {
  const { value, spans, llm } = await capture(fn);
  expect(llm).toHaveLength(1);
  return { value, llm: llm[0]!, root: spans.find((s) => s.parentId === null)! };
}

/** The fields of wire responses these tests compare with. */
interface ChatBody {
  prompt_token_ids: number[];
  choices: Array<{ logprobs: { content: Array<{ logprob: number }> } }>;
  usage: { prompt_tokens: number; completion_tokens: number };
}
interface UsageBody {
  id: string;
  usage: { input_tokens: number; output_tokens: number };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

/** The `data:` payloads of an SSE text (without `[DONE]`). */
function sseData(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((line) => line.startsWith("data: ") && line !== "data: [DONE]")
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
}

let mock: MockLlm;

beforeAll(async () => {
  mock = await startMockLlm();
  expect(await acquire(createFetchInstrumentation())).toEqual({ installed: true });
});

afterAll(async () => {
  release("fetch");
  await mock.close();
});

describe("fetch instrumentation: OpenAI wire", () => {
  it("records a chat completion with vLLM token ids and logprobs", async () => {
    const body = { model: "mock-model", messages: [{ role: "user", content: "via fetch" }], return_token_ids: true, logprobs: true, max_tokens: 30 };
    const { value, llm, root } = await traced(async () => (await post(`${mock.baseUrl}/chat/completions`, body)).json() as Promise<ChatBody>);
    expect(llm.name).toBe("chat mock-model");
    expect(llm.parentId).toBe(root.spanId);
    expect(llm.status).toEqual({ code: "ok" });
    expect(llm.attributes).toMatchObject({
      [Attr.layer]: "fetch",
      [Attr.providerName]: "openai",
      [Attr.requestModel]: "mock-model",
      [Attr.requestMaxTokens]: 30,
      [Attr.inputMessages]: body.messages,
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: via fetch", finish_reason: "stop" }],
      [Attr.usageInputTokens]: value.usage.prompt_tokens,
      [Attr.usageOutputTokens]: value.usage.completion_tokens,
      [Attr.promptTokenIds]: value.prompt_token_ids,
      [Attr.responseTokenIds]: [tokenize("echo: via fetch")],
      [Attr.logprobs]: [value.choices[0]!.logprobs.content.map((e) => e.logprob)],
      [Attr.endpoint]: "/v1/chat/completions",
      [Attr.serverAddress]: "127.0.0.1",
      [Attr.serverPort]: Number(new URL(mock.url).port),
    });
    expect(value.prompt_token_ids.length).toBeGreaterThan(0);
  });

  it("records an SSE chat stream when it ends", async () => {
    const body = { model: "mock-model", messages: [{ role: "user", content: "stream via fetch" }], stream: true, stream_options: { include_usage: true }, return_token_ids: true };
    const { value: text, llm } = await traced(async () => (await post(`${mock.baseUrl}/chat/completions`, body)).text());
    const chunks = sseData(text) as Array<{ prompt_token_ids?: number[]; usage?: { prompt_tokens: number; completion_tokens: number } | null; choices: Array<{ token_ids: number[] }> }>;
    const usage = chunks[chunks.length - 1]!.usage!;
    expect(llm.attributes).toMatchObject({
      [Attr.requestStream]: true,
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: stream via fetch", finish_reason: "stop" }],
      [Attr.usageInputTokens]: usage.prompt_tokens,
      [Attr.usageOutputTokens]: usage.completion_tokens,
      [Attr.promptTokenIds]: chunks[0]!.prompt_token_ids,
      [Attr.responseTokenIds]: [chunks.flatMap((c) => c.choices[0]?.token_ids ?? [])],
    });
    expect(attr(llm, Attr.responseTokenIds)).toEqual([tokenize("echo: stream via fetch")]);
    expect(attr(llm, Attr.timeToFirstChunk)).toEqual(expect.any(Number));
  });

  it("records a Responses API call", async () => {
    const body = { model: "mock-model", instructions: "Answer.", input: [{ role: "user", content: [{ type: "input_text", text: "responses via fetch" }] }] };
    const { value, llm } = await traced(async () => (await post(`${mock.baseUrl}/responses`, body)).json() as Promise<UsageBody>);
    expect(llm.attributes).toMatchObject({
      [Attr.endpoint]: "/v1/responses",
      [Attr.inputMessages]: [
        { role: "system", content: "Answer." },
        { role: "user", content: "responses via fetch" },
      ],
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: responses via fetch", finish_reason: "stop" }],
      [Attr.responseId]: value.id,
      [Attr.usageInputTokens]: value.usage.input_tokens,
      [Attr.usageOutputTokens]: value.usage.output_tokens,
    });
  });

  it("records a streamed Responses API call", async () => {
    const body = { model: "mock-model", input: "responses stream", stream: true, include: ["message.output_text.logprobs"] };
    const { value: text, llm } = await traced(async () => (await post(`${mock.baseUrl}/responses`, body)).text());
    const deltas = sseData(text).filter((e) => e.type === "response.output_text.delta") as Array<{ logprobs: Array<{ logprob: number }> }>;
    expect(llm.attributes).toMatchObject({
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: responses stream", finish_reason: "stop" }],
      [Attr.logprobs]: [deltas.flatMap((d) => d.logprobs.map((e) => e.logprob))],
      [Attr.usageOutputTokens]: tokenize("echo: responses stream").length,
    });
  });

  it("reads the request body of a Request object, and records a call whose body is a stream without it", async () => {
    const body = JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: "in a Request" }] });
    const fromRequest = await traced(async () =>
      (await fetch(new Request(`${mock.baseUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body }))).json(),
    );
    expect(attr(fromRequest.llm, Attr.inputMessages)).toEqual([{ role: "user", content: "in a Request" }]);
    expect(attr(fromRequest.llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: in a Request", finish_reason: "stop" }]);

    const stream = new Blob([body]).stream();
    const init = { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit;
    const fromStream = await traced(async () => (await fetch(`${mock.baseUrl}/chat/completions`, init)).json());
    expect(fromStream.llm.name).toBe("chat");
    expect(attr(fromStream.llm, Attr.inputMessages)).toBeUndefined();
    expect(attr(fromStream.llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: in a Request", finish_reason: "stop" }]);
    expect((mock.requests.at(-1)!.body as { messages: unknown }).messages).toEqual([{ role: "user", content: "in a Request" }]);
  });

  it("gives the agent the same body text traced and untraced", async () => {
    const [a, b] = await Promise.all([startMockLlm(), startMockLlm()]);
    try {
      const run = async (base: string) => {
        const plain = await (await post(`${base}/chat/completions`, { model: "mock-model", messages: [{ role: "user", content: "same" }], logprobs: true, return_token_ids: true })).text();
        const streamed = await (await post(`${base}/chat/completions`, { model: "mock-model", messages: [{ role: "user", content: "same" }], stream: true })).text();
        const anthropic = await (await post(`${base}/messages`, { model: "claude-mock", max_tokens: 64, messages: [{ role: "user", content: "same" }], stream: true })).text();
        return [plain, streamed, anthropic];
      };
      const tracedRun = await capture(() => run(a.baseUrl));
      expect(tracedRun.llm).toHaveLength(3);
      expect(tracedRun.value).toEqual(await run(b.baseUrl));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("records an HTTP error with its status and body, the agent reading the same body", async () => {
    mock.script(() => ({ error: { status: 429, message: "Too many" } }));
    try {
      const { value, llm } = await traced(async () => {
        const response = await post(`${mock.baseUrl}/chat/completions`, { model: "mock-model", messages: [{ role: "user", content: "x" }] });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      });
      expect(value.status).toBe(429);
      expect(llm.status).toEqual({ code: "error", message: "HTTP 429: Too many" });
      expect(attr(llm, Attr.errorType)).toBe("429");
      expect(attr(llm, Attr.errorBody)).toEqual(value.body);
    } finally {
      mock.script(undefined);
    }
  });
});

describe("fetch instrumentation: Anthropic messages", () => {
  const body = {
    model: "claude-mock",
    max_tokens: 100,
    system: "You are a parrot.",
    messages: [{ role: "user", content: [{ type: "text", text: "squawk" }] }],
    tools: [{ name: "fly", description: "Fly away", input_schema: { type: "object", properties: { to: { type: "string" } } } }],
  };

  it("records a plain message", async () => {
    const { value, llm } = await traced(async () => (await post(`${mock.url}/v1/messages`, body, { "anthropic-version": "2023-06-01" })).json() as Promise<UsageBody>);
    expect(llm.name).toBe("chat claude-mock");
    expect(llm.attributes).toMatchObject({
      [Attr.providerName]: "anthropic",
      [Attr.requestMaxTokens]: 100,
      [Attr.inputMessages]: [
        { role: "system", content: "You are a parrot." },
        { role: "user", content: "squawk" },
      ],
      [Attr.toolDefinitions]: [{ type: "function", function: { name: "fly", description: "Fly away", parameters: body.tools[0]!.input_schema } }],
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: squawk", finish_reason: "end_turn" }],
      [Attr.responseId]: value.id,
      [Attr.usageInputTokens]: value.usage.input_tokens,
      [Attr.usageOutputTokens]: value.usage.output_tokens,
      [Attr.endpoint]: "/v1/messages",
    });
  });

  it("records a streamed message with a tool call", async () => {
    mock.script(() => ({ text: "Off I go.", toolCalls: [{ name: "fly", arguments: { to: "the moon" } }] }));
    try {
      const { value: text, llm } = await traced(async () => (await post(`${mock.url}/v1/messages`, { ...body, stream: true })).text());
      const events = sseData(text);
      const start = events.find((e) => e.type === "message_start") as { message: { id: string; usage: { input_tokens: number } } };
      const toolStart = events.find((e) => e.type === "content_block_start" && (e.content_block as { type: string }).type === "tool_use") as { content_block: { id: string } };
      expect(llm.attributes).toMatchObject({
        [Attr.requestStream]: true,
        [Attr.outputMessages]: [
          {
            role: "assistant",
            content: "Off I go.",
            tool_calls: [{ id: toolStart.content_block.id, type: "function", function: { name: "fly", arguments: '{"to":"the moon"}' } }],
            finish_reason: "tool_use",
          },
        ],
        [Attr.responseId]: start.message.id,
        [Attr.usageInputTokens]: start.message.usage.input_tokens,
      });
      expect(attr(llm, Attr.timeToFirstChunk)).toEqual(expect.any(Number));
    } finally {
      mock.script(undefined);
    }
  });
});

describe("fetch instrumentation: what it leaves alone", () => {
  it("records nothing for other URLs and methods, outside a trace, or when suppressed", async () => {
    const { value, spans } = await capture(async () => {
      const models = await (await fetch(`${mock.baseUrl}/models`)).json();
      const other = await post(`${mock.baseUrl}/embeddings`, { input: "x" });
      // The Assistants API adds thread messages at a path that looks like Anthropic's.
      const thread = await post(`${mock.baseUrl}/threads/thread_1/messages`, { role: "user", content: "not a model call" });
      const suppressed = await withSuppressed("fetch", async () => (await post(`${mock.baseUrl}/chat/completions`, { model: "m", messages: [{ role: "user", content: "quiet" }] })).json());
      return { models, other: other.status, thread: thread.status, suppressed };
    });
    expect(value.models).toMatchObject({ object: "list" });
    expect(value.other).toBe(404);
    expect(value.thread).toBe(404);
    expect(value.suppressed).toMatchObject({ choices: [{ message: { content: "echo: quiet" } }] });
    expect(spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
    // Outside a trace the wrapper only forwards.
    const plain = await (await post(`${mock.baseUrl}/chat/completions`, { model: "m", messages: [{ role: "user", content: "outside" }] })).json();
    expect(plain).toMatchObject({ choices: [{ message: { content: "echo: outside" } }] });
    // The same URL inside a trace is recorded (so the checks above can fail).
    await traced(async () => (await post(`${mock.baseUrl}/chat/completions`, { model: "m", messages: [{ role: "user", content: "inside" }] })).json());
  });

  it("records a connection failure and rethrows it unchanged", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const outcome = await tracer.capture({ rolloutId: "ro-refused", attemptId: "at-refused" }, () =>
      post(`http://127.0.0.1:${port}/v1/chat/completions`, { model: "mock-model", messages: [{ role: "user", content: "anyone?" }] }),
    );
    expect(outcome.ok).toBe(false);
    const error = outcome.ok ? undefined : outcome.error;
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
    const llm = llmSpans(outcome.spans);
    expect(llm).toHaveLength(1);
    expect(llm[0]!.status).toEqual({ code: "error", message: (error as Error).message });
    expect(attr(llm[0]!, Attr.errorType)).toBe("TypeError");
    expect(attr(llm[0]!, Attr.serverPort)).toBe(port);
    expect(attr(llm[0]!, Attr.inputMessages)).toEqual([{ role: "user", content: "anyone?" }]);
  });

  it("restores the original fetch on release", async () => {
    const wrapped = globalThis.fetch;
    expect(await acquire(createFetchInstrumentation())).toEqual({ installed: true }); // shared
    release("fetch");
    expect(globalThis.fetch).toBe(wrapped);
    const own = createFetchInstrumentation();
    await own.install();
    expect(globalThis.fetch).not.toBe(wrapped);
    own.uninstall();
    expect(globalThis.fetch).toBe(wrapped);
  });
});

describe("fetch instrumentation: Vercel AI SDK", () => {
  it("captures generateText through the fetch layer alone", async () => {
    const provider = createOpenAI({ baseURL: mock.baseUrl, apiKey: "test" });
    const { value, llm } = await traced(() => generateText({ model: provider.chat("mock-model"), system: "Be kind.", prompt: "hello from the AI SDK" }));
    expect(value.text).toBe("echo: hello from the AI SDK");
    expect(llm.attributes).toMatchObject({
      [Attr.layer]: "fetch",
      [Attr.requestModel]: "mock-model",
      [Attr.inputMessages]: [
        { role: "system", content: "Be kind." },
        { role: "user", content: "hello from the AI SDK" },
      ],
      [Attr.outputMessages]: [{ role: "assistant", content: value.text, finish_reason: "stop" }],
      [Attr.usageInputTokens]: value.usage.inputTokens,
      [Attr.usageOutputTokens]: value.usage.outputTokens,
    });
  });
});
