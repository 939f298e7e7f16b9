import OpenAI, { APIError, RateLimitError } from "openai";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { Tracer, emitReward } from "tracetrain";
import type { SpanInput } from "tracetrain";
import type { SpanSink } from "tracetrain/otel";
import { currentFrame } from "../../src/tracer/context.js";
import { acquire, release } from "../../src/tracer/instrumentation.js";
import { createFetchInstrumentation } from "../../src/tracer/instrumentations/fetch.js";
import { createOpenAIInstrumentation } from "../../src/tracer/instrumentations/openai.js";
import { type MockLlm, startMockLlm, tokenize } from "tracetrain/testing";

class NullSink implements SpanSink {
  async addSpans(): Promise<void> {}
}

const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };
const tracer = new Tracer({ sink: new NullSink(), logger: quietLogger });
const attr = (span: SpanInput, key: string) => span.attributes?.[key];
const llmSpans = (spans: SpanInput[]) => spans.filter((s) => attr(s, Attr.spanType) === SpanTypes.llm);

let counter = 0;
/** Runs `fn` as a traced rollout; returns its value, its spans, its one LLM span and its root. */
async function traced<T>(fn: () => Promise<T>): Promise<{ value: T; spans: SpanInput[]; llm: SpanInput; root: SpanInput }> {
  const n = ++counter;
  const outcome = await tracer.capture({ rolloutId: `ro-${n}`, attemptId: `at-${n}` }, fn);
  if (!outcome.ok) throw outcome.error;
  const llm = llmSpans(outcome.spans);
  expect(llm).toHaveLength(1);
  const root = outcome.spans.find((s) => s.parentId === null)!;
  return { value: outcome.value, spans: outcome.spans, llm: llm[0]!, root };
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

/** vLLM request extensions the SDK passes through as they are. */
type Vllm = { return_token_ids?: boolean };
/** vLLM response extensions the SDK keeps. */
type VllmCompletion = ChatCompletion & { prompt_token_ids: number[]; choices: Array<ChatCompletion.Choice & { token_ids: number[] }> };
type VllmChunk = ChatCompletionChunk & { prompt_token_ids?: number[]; choices: Array<ChatCompletionChunk.Choice & { token_ids?: number[] }> };

let mock: MockLlm;
let client: OpenAI;
let clientBeforeInstall: OpenAI;
const newClient = (baseURL = mock.baseUrl) => new OpenAI({ baseURL, apiKey: "test", maxRetries: 0 });

beforeAll(async () => {
  mock = await startMockLlm();
  clientBeforeInstall = newClient();
  expect(await acquire(createOpenAIInstrumentation())).toEqual({ installed: true });
  client = newClient();
});

afterAll(async () => {
  release("openai");
  await mock.close();
});

describe("openai instrumentation: chat completions", () => {
  it("records a plain chat call: request, response, usage, endpoint, parent", async () => {
    const messages = [
      { role: "system" as const, content: "be brief" },
      { role: "user" as const, content: "hello there" },
    ];
    const { value, llm, root } = await traced(() => client.chat.completions.create({ model: "mock-model", messages, temperature: 0.5, max_tokens: 50, seed: 7 }));
    expect(value.choices[0]!.message.content).toBe("echo: hello there");
    expect(llm.name).toBe("chat mock-model");
    expect(llm.kind).toBe("client");
    expect(llm.parentId).toBe(root.spanId);
    expect(llm.status).toEqual({ code: "ok" });
    expect(llm.attributes).toMatchObject({
      [Attr.layer]: "openai",
      [Attr.operationName]: "chat",
      [Attr.providerName]: "openai",
      [Attr.requestModel]: "mock-model",
      [Attr.requestTemperature]: 0.5,
      [Attr.requestMaxTokens]: 50,
      [Attr.requestSeed]: 7,
      [Attr.inputMessages]: messages,
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: hello there", finish_reason: "stop" }],
      [Attr.responseFinishReasons]: ["stop"],
      [Attr.responseId]: value.id,
      [Attr.responseModel]: "mock-model",
      [Attr.usageInputTokens]: value.usage!.prompt_tokens,
      [Attr.usageOutputTokens]: value.usage!.completion_tokens,
      [Attr.endpoint]: "/v1/chat/completions",
      [Attr.serverAddress]: "127.0.0.1",
      [Attr.serverPort]: Number(new URL(mock.url).port),
    });
    expect(attr(llm, Attr.usageOutputTokens)).toBe(tokenize("echo: hello there").length);
    expect(attr(llm, Attr.responseTokenIds)).toBeUndefined();
  });

  it("records n=2 as two output messages with two token-id lists", async () => {
    const params: ChatCompletionCreateParamsNonStreaming & Vllm = { model: "mock-model", messages: [{ role: "user", content: "two" }], n: 2, return_token_ids: true };
    const { value, llm } = await traced(() => client.chat.completions.create(params));
    const raw = value as VllmCompletion;
    expect(attr(llm, Attr.requestChoiceCount)).toBe(2);
    expect(attr(llm, Attr.outputMessages)).toEqual([
      { role: "assistant", content: "echo: two", finish_reason: "stop" },
      { role: "assistant", content: "echo: two [choice 1]", finish_reason: "stop" },
    ]);
    expect(attr(llm, Attr.responseTokenIds)).toEqual([raw.choices[0]!.token_ids, raw.choices[1]!.token_ids]);
    expect(raw.choices[1]!.token_ids).toEqual(tokenize("echo: two [choice 1]"));
    expect(attr(llm, Attr.promptTokenIds)).toEqual(raw.prompt_token_ids);
  });

  it("records tool definitions, the tool call and finish reason tool_calls", async () => {
    mock.script(() => ({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris" }, id: "call_w1" }] }));
    const tools = [
      { type: "function" as const, function: { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
    ];
    try {
      const { value, llm } = await traced(() => client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "weather?" }], tools }));
      expect(value.choices[0]!.finish_reason).toBe("tool_calls");
      expect(attr(llm, Attr.toolDefinitions)).toEqual(tools);
      expect(attr(llm, Attr.responseFinishReasons)).toEqual(["tool_calls"]);
      expect(attr(llm, Attr.outputMessages)).toEqual([
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_w1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
          finish_reason: "tool_calls",
        },
      ]);
    } finally {
      mock.script(undefined);
    }
  });

  it("records a stream when it is consumed: content, usage, time to first chunk", async () => {
    let endedBeforeConsuming: number | undefined;
    const { value: chunks, llm } = await traced(async () => {
      const stream = await client.chat.completions.create({
        model: "mock-model",
        messages: [{ role: "user", content: "stream me" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      endedBeforeConsuming = llmSpans(currentFrame()!.trace.spans!).length;
      return collect(stream);
    });
    expect(endedBeforeConsuming).toBe(0);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("echo: stream me");
    const usage = chunks[chunks.length - 1]!.usage!;
    expect(llm.attributes).toMatchObject({
      [Attr.requestStream]: true,
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: stream me", finish_reason: "stop" }],
      [Attr.usageInputTokens]: usage.prompt_tokens,
      [Attr.usageOutputTokens]: usage.completion_tokens,
      [Attr.responseId]: chunks[0]!.id,
    });
    expect(attr(llm, Attr.timeToFirstChunk)).toEqual(expect.any(Number));
    expect(attr(llm, Attr.timeToFirstChunk) as number).toBeGreaterThanOrEqual(0);
    expect(llm.status).toEqual({ code: "ok" });
  });

  it("assembles streamed tool calls", async () => {
    mock.script(() => ({ text: "Let me check.", toolCalls: [{ name: "lookup", arguments: { query: "tracetrain", limit: 3 } }] }));
    try {
      const { value: chunks, llm } = await traced(async () =>
        collect(await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "look it up" }], stream: true })),
      );
      const args = chunks.map((c) => c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "").join("");
      expect(JSON.parse(args)).toEqual({ query: "tracetrain", limit: 3 });
      const id = chunks.find((c) => c.choices[0]?.delta.tool_calls?.[0]?.id)!.choices[0]!.delta.tool_calls![0]!.id;
      expect(attr(llm, Attr.outputMessages)).toEqual([
        {
          role: "assistant",
          content: "Let me check.",
          tool_calls: [{ id, type: "function", function: { name: "lookup", arguments: args } }],
          finish_reason: "tool_calls",
        },
      ]);
    } finally {
      mock.script(undefined);
    }
  });

  it("records vLLM prompt ids, response ids and logprobs exactly as the server sent them", async () => {
    const params: ChatCompletionCreateParamsNonStreaming & Vllm = {
      model: "mock-model",
      messages: [{ role: "user", content: "token ids please" }],
      logprobs: true,
      return_token_ids: true,
    };
    const { value, llm } = await traced(() => client.chat.completions.create(params));
    const raw = value as VllmCompletion;
    expect((mock.requests.at(-1)!.body as Record<string, unknown>).return_token_ids).toBe(true);
    expect(raw.prompt_token_ids.length).toBeGreaterThan(0);
    expect(attr(llm, Attr.promptTokenIds)).toEqual(raw.prompt_token_ids);
    expect(attr(llm, Attr.responseTokenIds)).toEqual([tokenize("echo: token ids please")]);
    expect(attr(llm, Attr.responseTokenIds)).toEqual([raw.choices[0]!.token_ids]);
    expect(attr(llm, Attr.logprobs)).toEqual([raw.choices[0]!.logprobs!.content!.map((e) => e.logprob)]);
  });

  it("records vLLM ids and logprobs from a stream", async () => {
    const params: ChatCompletionCreateParamsStreaming & Vllm = {
      model: "mock-model",
      messages: [{ role: "user", content: "stream ids" }],
      stream: true,
      logprobs: true,
      return_token_ids: true,
    };
    const { value: chunks, llm } = await traced(async () => collect(await client.chat.completions.create(params)));
    const raw = chunks as VllmChunk[];
    const ids = raw.flatMap((c) => c.choices[0]?.token_ids ?? []);
    const logprobs = raw.flatMap((c) => c.choices[0]?.logprobs?.content?.map((e) => e.logprob) ?? []);
    expect(ids).toEqual(tokenize("echo: stream ids"));
    expect(logprobs).toHaveLength(ids.length);
    expect(attr(llm, Attr.promptTokenIds)).toEqual(raw[0]!.prompt_token_ids);
    expect(attr(llm, Attr.responseTokenIds)).toEqual([ids]);
    expect(attr(llm, Attr.logprobs)).toEqual([logprobs]);
  });

  it("records an abandoned stream as an error with what had arrived", async () => {
    const { llm } = await traced(async () => {
      const stream = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "one two three four" }], stream: true });
      let seen = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) seen++;
        if (seen === 2) break;
      }
    });
    expect(llm.status?.code).toBe("error");
    expect(attr(llm, Attr.errorType)).toBe("StreamInterruptedError");
    const output = attr(llm, Attr.outputMessages) as Array<{ content: string }>;
    expect("echo: one two three four".startsWith(output[0]!.content)).toBe(true);
    expect(output[0]!.content.length).toBeGreaterThan(0);
    expect(output[0]!.content).not.toBe("echo: one two three four");
  });

  it("records a stream left right after its finish reason as complete", async () => {
    const early = await traced(async () => {
      const stream = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "done early" }], stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) break; // the usage chunk never read
    });
    expect(early.llm.status).toEqual({ code: "ok" });
    expect(attr(early.llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: done early", finish_reason: "stop" }]);
    expect(attr(early.llm, Attr.usageOutputTokens)).toBeUndefined();
  });

  it("records a stream the agent aborts as interrupted, with what had arrived", async () => {
    // A server that sends one chunk per millisecond, so the abort lands mid-stream.
    const pieces = ["Once", " upon", " a", " time"];
    const events = [
      ...pieces.map((content, i) => ({ id: "c1", object: "chat.completion.chunk", created: 1, model: "slow-model", choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content } : { content }, finish_reason: null }] })),
      { id: "c1", object: "chat.completion.chunk", created: 1, model: "slow-model", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] },
    ].map((e) => `data: ${JSON.stringify(e)}\n\n`);
    const slowFetch = async (_url: unknown, init?: { signal?: AbortSignal | null }) => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          init?.signal?.addEventListener("abort", () => controller.error(new DOMException("This operation was aborted", "AbortError")));
        },
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (sent < events.length) controller.enqueue(new TextEncoder().encode(events[sent++]));
          else controller.close();
        },
      });
      return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
    };
    const slow = new OpenAI({ baseURL: "http://127.0.0.1:9/v1", apiKey: "test", maxRetries: 0, fetch: slowFetch });
    const { value, llm } = await traced(async () => {
      const stream = await slow.chat.completions.create({ model: "slow-model", messages: [{ role: "user", content: "a story" }], stream: true });
      const seen: string[] = [];
      for await (const chunk of stream) {
        seen.push(chunk.choices[0]?.delta.content ?? "");
        if (seen.length === 2) stream.controller.abort();
      }
      return seen.join("");
    });
    expect(value).toBe("Once upon");
    expect(llm.status?.code).toBe("error");
    expect(attr(llm, Attr.errorType)).toBe("StreamInterruptedError");
    expect(attr(llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "Once upon" }]);
  });

  it("keeps tee() working, recording the stream once", async () => {
    const { value, llm } = await traced(async () => {
      const stream = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "split" }], stream: true });
      const [left, right] = stream.tee();
      return Promise.all([collect(left), collect(right)]);
    });
    expect(value[0]).toEqual(value[1]);
    expect(attr(llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: split", finish_reason: "stop" }]);
  });
});

describe("openai instrumentation: other endpoints", () => {
  it("records completions.create with the prompt as a user message and vLLM ids", async () => {
    const { value, llm } = await traced(() =>
      client.completions.create({ model: "mock-model", prompt: "Once upon", max_tokens: 20, logprobs: 1, return_token_ids: true } as OpenAI.CompletionCreateParamsNonStreaming & Vllm),
    );
    const raw = value.choices[0] as OpenAI.Completions.CompletionChoice & { token_ids: number[]; prompt_token_ids: number[] };
    expect(llm.name).toBe("text_completion mock-model");
    expect(llm.attributes).toMatchObject({
      [Attr.operationName]: "text_completion",
      [Attr.inputMessages]: [{ role: "user", content: "Once upon" }],
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: Once upon", finish_reason: "stop" }],
      [Attr.endpoint]: "/v1/completions",
      [Attr.promptTokenIds]: raw.prompt_token_ids,
      [Attr.responseTokenIds]: [raw.token_ids],
      [Attr.logprobs]: [raw.logprobs!.token_logprobs],
    });
    expect(raw.prompt_token_ids).toEqual(tokenize("Once upon"));
  });

  it("records a streamed legacy completion with per-choice vLLM prompt ids", async () => {
    const { value: chunks, llm } = await traced(async () =>
      collect(await client.completions.create({ model: "mock-model", prompt: "Tell me", stream: true, return_token_ids: true } as OpenAI.CompletionCreateParamsStreaming & Vllm)),
    );
    const raw = chunks as Array<OpenAI.Completion & { choices: Array<{ prompt_token_ids?: number[]; token_ids: number[] }> }>;
    expect(attr(llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: Tell me", finish_reason: "stop" }]);
    expect(attr(llm, Attr.promptTokenIds)).toEqual(raw[0]!.choices[0]!.prompt_token_ids);
    expect(attr(llm, Attr.promptTokenIds)).toEqual(tokenize("Tell me"));
    expect(attr(llm, Attr.responseTokenIds)).toEqual([tokenize("echo: Tell me")]);
  });

  it("records responses.create: instructions and input as messages, output text, usage", async () => {
    const { value, llm } = await traced(() => client.responses.create({ model: "mock-model", instructions: "You are terse.", input: "what is up", max_output_tokens: 40 }));
    expect(value.output_text).toBe("echo: what is up");
    expect(llm.attributes).toMatchObject({
      [Attr.operationName]: "chat",
      [Attr.endpoint]: "/v1/responses",
      [Attr.requestMaxTokens]: 40,
      [Attr.inputMessages]: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "what is up" },
      ],
      [Attr.outputMessages]: [{ role: "assistant", content: "echo: what is up", finish_reason: "stop" }],
      [Attr.responseId]: value.id,
      [Attr.usageInputTokens]: value.usage!.input_tokens,
      [Attr.usageOutputTokens]: value.usage!.output_tokens,
    });
  });

  it("records a streamed responses.create", async () => {
    const { value: events, llm } = await traced(async () => collect(await client.responses.create({ model: "mock-model", input: "stream the response", stream: true })));
    const completed = events.find((e) => e.type === "response.completed");
    expect(completed?.type).toBe("response.completed");
    const text = events.map((e) => (e.type === "response.output_text.delta" ? e.delta : "")).join("");
    expect(text).toBe("echo: stream the response");
    expect(llm.attributes).toMatchObject({
      [Attr.requestStream]: true,
      [Attr.outputMessages]: [{ role: "assistant", content: text, finish_reason: "stop" }],
      [Attr.usageOutputTokens]: tokenize(text).length,
    });
    expect(attr(llm, Attr.timeToFirstChunk)).toEqual(expect.any(Number));
  });

  it("records a 429 as an error span while the agent gets the same APIError", async () => {
    mock.script(() => ({ error: { status: 429, message: "Slow down" } }));
    try {
      const untraced = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
      const outcome = await tracer.capture({ rolloutId: "ro-err", attemptId: "at-err" }, () =>
        client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "x" }] }),
      );
      expect(outcome.ok).toBe(false);
      const error = outcome.ok ? undefined : outcome.error;
      expect(error).toBeInstanceOf(RateLimitError);
      expect(untraced).toBeInstanceOf(RateLimitError);
      expect((error as APIError).status).toBe(429);
      expect((error as APIError).message).toBe((untraced as APIError).message);
      expect((error as APIError).error).toEqual((untraced as APIError).error);
      const llm = llmSpans(outcome.spans)[0]!;
      expect(llm.status).toEqual({ code: "error", message: (error as APIError).message });
      expect(attr(llm, Attr.errorType)).toBe("429");
      expect(attr(llm, Attr.errorBody)).toEqual({ message: "Slow down", type: "requests", param: null, code: "rate_limit_exceeded" });
      expect(llm.events?.[0]).toMatchObject({ name: "exception", attributes: { [Attr.exceptionType]: "Error" } });
    } finally {
      mock.script(undefined);
    }
  });
});

describe("openai instrumentation: transparency", () => {
  it("covers clients created before install", async () => {
    const { value, llm } = await traced(() => clientBeforeInstall.chat.completions.create({ model: "early-model", messages: [{ role: "user", content: "early" }] }));
    expect(value.choices[0]!.message.content).toBe("echo: early");
    expect(llm.name).toBe("chat early-model");
    expect(attr(llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: early", finish_reason: "stop" }]);
  });

  it("keeps .withResponse() and .asResponse() working", async () => {
    const withResponse = await traced(() => client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "with" }] }).withResponse());
    expect(withResponse.value.data.choices[0]!.message.content).toBe("echo: with");
    expect(withResponse.value.response.status).toBe(200);
    expect(withResponse.value.request_id).toBe((withResponse.value.data as ChatCompletion & { _request_id?: string | null })._request_id);
    expect(attr(withResponse.llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: with", finish_reason: "stop" }]);

    // asResponse() hands the agent the unread body; the span records from a copy.
    const asResponse = await traced(async () => {
      const response = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "raw" }] }).asResponse();
      return (await response.json()) as ChatCompletion;
    });
    expect(asResponse.value.choices[0]!.message.content).toBe("echo: raw");
    expect(attr(asResponse.llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: raw", finish_reason: "stop" }]);
    expect(attr(asResponse.llm, Attr.responseId)).toBe(asResponse.value.id);
  });

  it("does nothing outside a trace", async () => {
    let release!: () => void;
    const waiting = tracer.capture({ rolloutId: "ro-bystander", attemptId: "at-bystander" }, () => new Promise<void>((resolve) => (release = resolve)));
    const promise = client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "untraced" }] });
    // An observed call gets hooks on its APIPromise; an unobserved one is left exactly as the SDK made it.
    expect(Object.getOwnPropertyNames(promise)).not.toContain("asResponse");
    expect((await promise).choices[0]!.message.content).toBe("echo: untraced");
    release();
    const bystander = await waiting;
    expect(bystander.spans.map((s) => s.name)).toEqual(["tracetrain.rollout"]);
    // The same call inside a trace is hooked (so the check above can fail).
    await traced(async () => {
      const observed = client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "traced" }] });
      expect(Object.getOwnPropertyNames(observed)).toContain("asResponse");
      return observed;
    });
  });

  it("gives the agent byte-for-byte the same results traced and untraced", async () => {
    // Two fresh servers answer the same call sequence identically (ids derive from a request counter).
    const [a, b] = await Promise.all([startMockLlm(), startMockLlm()]);
    try {
      const run = async (c: OpenAI) => {
        const completion = await c.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "same?" }], logprobs: true, top_logprobs: 2 });
        const chunks = await collect(
          await c.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "same stream?" }], stream: true, stream_options: { include_usage: true } }),
        );
        const response = await c.responses.create({ model: "mock-model", input: "same response?" });
        const events = await collect(await c.responses.create({ model: "mock-model", input: "same events?", stream: true }));
        return { completion, requestId: completion._request_id, keys: Object.keys(completion), chunks, response, events };
      };
      const tracedRun = await tracer.capture({ rolloutId: "ro-same", attemptId: "at-same" }, () => run(newClient(a.baseUrl)));
      const plainRun = await run(newClient(b.baseUrl));
      expect(tracedRun.ok).toBe(true);
      expect(llmSpans(tracedRun.spans)).toHaveLength(4);
      const tracedValue = tracedRun.ok ? tracedRun.value : undefined;
      expect(JSON.stringify(tracedValue)).toBe(JSON.stringify(plainRun));
      expect(tracedValue!.requestId).toBe(plainRun.requestId);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("records one call once when the fetch layer is installed too", async () => {
    expect(await acquire(createFetchInstrumentation())).toEqual({ installed: true });
    try {
      // A client made now sends through the wrapped global fetch.
      const both = newClient();
      const { llm, spans } = await traced(() => both.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "once" }] }));
      expect(spans.filter((s) => attr(s, Attr.layer) === "fetch")).toHaveLength(0);
      expect(attr(llm, Attr.layer)).toBe("openai");
      const streamed = await traced(async () => collect(await both.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "once more" }], stream: true })));
      expect(attr(streamed.llm, Attr.layer)).toBe("openai");
      expect(attr(streamed.llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: "echo: once more", finish_reason: "stop" }]);
    } finally {
      release("fetch");
    }
  });

  it("keeps 200 concurrent rollouts apart", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        tracer.capture({ rolloutId: `ro-c${i}`, attemptId: `at-c${i}` }, async () => {
          await new Promise((resolve) => setTimeout(resolve, i % 7));
          return client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: `rollout ${i}` }] });
        }),
      ),
    );
    outcomes.forEach((outcome, i) => {
      expect(outcome.ok).toBe(true);
      const llm = llmSpans(outcome.spans);
      expect(llm).toHaveLength(1);
      expect(llm[0]!.rolloutId).toBe(`ro-c${i}`);
      expect(attr(llm[0]!, Attr.inputMessages)).toEqual([{ role: "user", content: `rollout ${i}` }]);
      expect(attr(llm[0]!, Attr.outputMessages)).toEqual([{ role: "assistant", content: `echo: rollout ${i}`, finish_reason: "stop" }]);
    });
  });

  it("restores the original methods on release", async () => {
    const proto = OpenAI.Chat.Completions.prototype;
    const patched = proto.create;
    expect(await acquire(createOpenAIInstrumentation())).toEqual({ installed: true }); // shared: no second patch
    expect(proto.create).toBe(patched);
    release("openai");
    expect(proto.create).toBe(patched);
  });
});

describe("openai instrumentation: install", () => {
  it("reports a module without an OpenAI client as not installed", async () => {
    expect(await createOpenAIInstrumentation({ module: { something: 1 } }).install()).toMatchObject({ installed: false });
  });

  it("patches a passed module and restores it exactly", async () => {
    class Completions {
      create(body: unknown) {
        return Promise.resolve({ id: "x", model: "m", choices: [{ index: 0, message: { role: "assistant", content: `got ${JSON.stringify(body)}` }, finish_reason: "stop" }] });
      }
    }
    const original = Completions.prototype.create;
    const fake = { OpenAI: class {
      static Chat = { Completions };
    } };
    const instrumentation = createOpenAIInstrumentation({ module: fake });
    expect(await instrumentation.install()).toEqual({ installed: true });
    expect(Completions.prototype.create).not.toBe(original);
    const { llm } = await traced(() => new Completions().create({ model: "m", messages: [{ role: "user", content: "hi" }] }));
    expect(attr(llm, Attr.outputMessages)).toEqual([{ role: "assistant", content: 'got {"model":"m","messages":[{"role":"user","content":"hi"}]}', finish_reason: "stop" }]);
    instrumentation.uninstall();
    expect(Completions.prototype.create).toBe(original);
  });

  it("never lets its own failures reach the agent", async () => {
    const hostile = Object.defineProperty({}, "choices", {
      enumerable: true,
      get() {
        throw new Error("hostile getter");
      },
    });
    const boom = new TypeError("bad arguments");
    class Completions {
      create(body: { fail?: boolean }) {
        if (body.fail) throw boom;
        return Promise.resolve(hostile);
      }
    }
    const instrumentation = createOpenAIInstrumentation({ module: { OpenAI: class { static Chat = { Completions }; } } });
    await instrumentation.install();
    try {
      const ok = await traced(() => new Completions().create({}));
      expect(ok.value).toBe(hostile);
      expect(ok.llm.status).toEqual({ code: "ok" });
      expect(attr(ok.llm, Attr.outputMessages)).toEqual([]);
      const outcome = await tracer.capture({ rolloutId: "ro-throw", attemptId: "at-throw" }, async () => new Completions().create({ fail: true }));
      expect(!outcome.ok && outcome.error).toBe(boom);
      expect(llmSpans(outcome.spans)[0]!.status).toEqual({ code: "error", message: "bad arguments" });
    } finally {
      instrumentation.uninstall();
    }
  });
});

describe("reading the store back (TraceOptions.readBack)", () => {
  const stored = [{ name: "from the store", attributes: {} }] as never[];
  const capture = (readBackWhen: "always" | "incomplete", fn: () => Promise<unknown>) => {
    let reads = 0;
    const readBack = async () => {
      reads++;
      return stored;
    };
    return tracer.capture({ rolloutId: "ro-read", attemptId: "at-read", readBack, readBackWhen }, fn).then((outcome) => ({ outcome, reads }));
  };
  const callAndReward = async () => {
    await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "hi" }] });
    emitReward(1, { final: true });
  };

  it("with 'incomplete', skips the store when this process saw a call and a final reward", async () => {
    const { outcome, reads } = await capture("incomplete", callAndReward);
    expect(reads).toBe(0);
    expect(outcome.report).toMatchObject({ countedFrom: "process", llmCalls: 1, finalReward: 1 });
  });

  it("with 'incomplete', reads the store when the process saw no call, or no final reward", async () => {
    const noCall = await capture("incomplete", async () => emitReward(1, { final: true }));
    expect(noCall.reads).toBe(1);
    expect(noCall.outcome.report.countedFrom).toBe("store");
    const noReward = await capture("incomplete", () => client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: "hi" }] }));
    expect(noReward.reads).toBe(1);
  });

  it("with 'always' (the default), reads the store every time", async () => {
    const { outcome, reads } = await capture("always", callAndReward);
    expect(reads).toBe(1);
    expect(outcome.report.countedFrom).toBe("store");
  });
});
