import { describe, expect, it } from "vitest";
import {
  anthropicRequest,
  anthropicResponse,
  chatRequest,
  chatResponse,
  completionRequest,
  completionResponse,
  createAccumulator,
  logprobsOf,
  requestFromBody,
  responseFromBody,
  responsesRequest,
  responsesResponse,
  wireApiOfPath,
  type WireApi,
} from "../../src/llm/index.js";
import { SseParser, parseSse } from "../../src/llm/sse.js";

const APIS: WireApi[] = ["chat", "completions", "responses", "anthropic"];

/** Values a misbehaving server or agent might send anywhere a field is expected. */
const HOSTILE: unknown[] = [
  undefined,
  null,
  0,
  -1,
  Number.NaN,
  "",
  "garbage",
  true,
  [],
  [null, 1, "x", {}],
  {},
  { choices: "nope", usage: 5, messages: { role: "user" }, input: 7, output: null, content: "x" },
  { choices: [null, 3, { index: "zero", message: 5, delta: [], token_ids: ["a"], logprobs: { content: "x" } }] },
  { messages: [null, { role: 5, content: {} }, { role: "user", content: [null, 1, { type: "image" }] }], tools: "x", stop: 5 },
  { input: [null, { type: "function_call" }, { type: "function_call_output", output: { a: 1 } }, { role: "user", content: 5 }] },
  { output: [null, { type: "message", content: [null, { text: 5 }, { type: "output_text", text: "ok", logprobs: [null] }] }, { type: "function_call" }] },
  { type: "content_block_delta", index: 0, delta: null },
  { type: "response.output_text.delta", output_index: "0", delta: 5 },
  Object.defineProperty({}, "choices", {
    enumerable: true,
    get() {
      throw new Error("hostile getter");
    },
  }),
  new Proxy(
    {},
    {
      get() {
        throw new Error("hostile proxy");
      },
      has() {
        throw new Error("hostile proxy");
      },
    },
  ),
];

describe("wire paths", () => {
  it("maps request paths to APIs", () => {
    expect(wireApiOfPath("/v1/chat/completions")).toBe("chat");
    expect(wireApiOfPath("/openai/deployments/x/chat/completions")).toBe("chat");
    expect(wireApiOfPath("/v1/completions")).toBe("completions");
    expect(wireApiOfPath("/v1/responses")).toBe("responses");
    expect(wireApiOfPath("/v1/messages")).toBe("anthropic");
    expect(wireApiOfPath("/v1/embeddings")).toBeUndefined();
    expect(wireApiOfPath("/v1/responses/resp_1")).toBeUndefined();
  });
});

describe("requests", () => {
  it("converts a chat request", () => {
    const messages = [
      { role: "system", content: "sys" },
      { role: "user", content: "hi" },
    ];
    expect(chatRequest({ model: "m", messages, tools: [{ type: "function", function: { name: "f" } }], temperature: 0.2, top_p: 0.9, max_completion_tokens: 9, n: 3, stream: true, seed: 1, stop: "END" })).toEqual({
      operation: "chat",
      provider: "openai",
      model: "m",
      messages,
      tools: [{ type: "function", function: { name: "f" } }],
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 9,
      choiceCount: 3,
      stream: true,
      seed: 1,
      stop: ["END"],
    });
  });

  it("converts a legacy completion request", () => {
    expect(completionRequest({ model: "m", prompt: ["a", "b"], max_tokens: 4 })).toMatchObject({ operation: "text_completion", prompt: ["a", "b"], maxTokens: 4 });
    expect(completionRequest({ model: "m", prompt: [1, 2, 3] }).prompt).toBeUndefined();
  });

  it("converts a Responses request: instructions, parts, function calls and outputs", () => {
    const request = responsesRequest({
      model: "m",
      instructions: "be good",
      input: [
        { role: "user", content: [{ type: "input_text", text: "look" }, { type: "input_image", image_url: "https://x/cat.png" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "checking" }] },
        { type: "function_call", call_id: "c1", name: "search", arguments: '{"q":"cat"}' },
        { type: "function_call", call_id: "c2", name: "count", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "found" },
        { type: "reasoning", summary: [] },
      ],
      tools: [{ type: "function", name: "search", parameters: { type: "object" } }, { type: "web_search" }],
      max_output_tokens: 12,
    });
    expect(request.messages).toEqual([
      { role: "system", content: "be good" },
      { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "https://x/cat.png" } }] },
      {
        role: "assistant",
        content: "checking",
        tool_calls: [
          { id: "c1", type: "function", function: { name: "search", arguments: '{"q":"cat"}' } },
          { id: "c2", type: "function", function: { name: "count", arguments: "{}" } },
        ],
      },
      { role: "tool", tool_call_id: "c1", content: "found" },
    ]);
    expect(request.tools).toEqual([{ type: "function", function: { name: "search", parameters: { type: "object" } } }, { type: "web_search" }]);
    expect(request.maxTokens).toBe(12);
  });

  it("converts an Anthropic request: system, tool use and tool results", () => {
    const request = anthropicRequest({
      model: "claude",
      max_tokens: 10,
      system: [{ type: "text", text: "sys" }],
      stop_sequences: ["\n\n"],
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: [{ type: "text", text: "checking" }, { type: "tool_use", id: "t1", name: "weather", input: { city: "Oslo" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "cold" }] }, { type: "text", text: "thanks" }] },
      ],
      tools: [{ name: "weather", input_schema: { type: "object" } }],
    });
    expect(request).toMatchObject({ provider: "anthropic", model: "claude", maxTokens: 10, stop: ["\n\n"] });
    expect(request.messages).toEqual([
      { role: "system", content: "sys" },
      { role: "user", content: "weather?" },
      { role: "assistant", content: "checking", tool_calls: [{ id: "t1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } }] },
      { role: "tool", tool_call_id: "t1", content: "cold" },
      { role: "user", content: "thanks" },
    ]);
    expect(request.tools).toEqual([{ type: "function", function: { name: "weather", parameters: { type: "object" } } }]);
  });
});

describe("whole responses", () => {
  it("converts a chat completion with vLLM ids and chat logprobs, in index order", () => {
    const response = chatResponse({
      id: "c1",
      model: "m",
      prompt_token_ids: [1, 2, 3],
      choices: [
        { index: 1, message: { role: "assistant", content: "b" }, finish_reason: "length", token_ids: [9], logprobs: { content: [{ logprob: -0.5 }] } },
        { index: 0, message: { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{}" } }] }, finish_reason: "tool_calls", token_ids: [7, 8], logprobs: { content: [{ logprob: -0.1 }, { logprob: -0.2 }] } },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 3 },
    });
    expect(response).toEqual({
      id: "c1",
      model: "m",
      promptTokenIds: [1, 2, 3],
      inputTokens: 3,
      outputTokens: 3,
      choices: [
        { message: { role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{}" } }] }, finishReason: "tool_calls", tokenIds: [7, 8], logprobs: [-0.1, -0.2] },
        { message: { role: "assistant", content: "b" }, finishReason: "length", tokenIds: [9], logprobs: [-0.5] },
      ],
    });
  });

  it("converts a legacy completion with per-choice prompt ids and legacy logprobs", () => {
    const response = completionResponse({
      id: "x",
      choices: [{ index: 0, text: "hello", finish_reason: "stop", prompt_token_ids: [4, 5], token_ids: [6], logprobs: { tokens: ["hello"], token_logprobs: [-0.3] } }],
    });
    expect(response.promptTokenIds).toEqual([4, 5]);
    expect(response.choices).toEqual([{ message: { role: "assistant", content: "hello" }, finishReason: "stop", tokenIds: [6], logprobs: [-0.3] }]);
  });

  it("reads logprobs in both OpenAI shapes, and rejects misaligned ones", () => {
    expect(logprobsOf({ content: [{ logprob: -1 }, { logprob: -2 }] })).toEqual([-1, -2]);
    expect(logprobsOf({ token_logprobs: [-1, -2] })).toEqual([-1, -2]);
    expect(logprobsOf({ content: [], refusal: [{ logprob: -3 }] })).toEqual([-3]);
    expect(logprobsOf({ content: [{ logprob: -1 }, { token: "x" }] })).toBeUndefined();
    expect(logprobsOf(null)).toBeUndefined();
  });

  it("converts a Responses object: text, function calls, logprobs, incomplete status", () => {
    const response = responsesResponse({
      id: "resp_1",
      model: "m",
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      output: [
        { type: "reasoning", summary: [{ type: "summary_text", text: "thinking" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "par", logprobs: [{ logprob: -0.1 }] }, { type: "output_text", text: "tial", logprobs: [{ logprob: -0.2 }] }] },
        { type: "function_call", call_id: "call_1", name: "f", arguments: "{}" },
      ],
      usage: { input_tokens: 5, output_tokens: 2 },
    });
    expect(response).toEqual({
      id: "resp_1",
      model: "m",
      inputTokens: 5,
      outputTokens: 2,
      promptTokenIds: undefined,
      choices: [
        {
          message: { role: "assistant", content: "partial", tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }], reasoning_content: "thinking" },
          finishReason: "length",
          logprobs: [-0.1, -0.2],
        },
      ],
    });
  });

  it("converts an Anthropic message", () => {
    const response = anthropicResponse({
      id: "msg_1",
      model: "claude",
      role: "assistant",
      content: [
        { type: "thinking", thinking: "hmm" },
        { type: "text", text: "Sure." },
        { type: "tool_use", id: "tu", name: "go", input: { a: 1 } },
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 10, output_tokens: 4 },
    });
    expect(response).toEqual({
      id: "msg_1",
      model: "claude",
      inputTokens: 10,
      outputTokens: 4,
      choices: [
        {
          message: { role: "assistant", content: "Sure.", tool_calls: [{ id: "tu", type: "function", function: { name: "go", arguments: '{"a":1}' } }], reasoning_content: "hmm" },
          finishReason: "tool_use",
        },
      ],
    });
  });
});

describe("stream accumulators", () => {
  it("accumulates chat chunks: several choices, tool calls in pieces, vLLM ids, logprobs, usage", () => {
    const acc = createAccumulator("chat");
    acc.add({ id: "c", model: "m", prompt_token_ids: [1, 2], choices: [{ index: 0, delta: { role: "assistant", content: "" }, token_ids: [] }] });
    acc.add({ id: "c", choices: [{ index: 0, delta: { content: "He" }, token_ids: [10], logprobs: { content: [{ logprob: -0.1 }] } }] });
    acc.add({ id: "c", choices: [{ index: 1, delta: { role: "assistant", content: "Yo" }, token_ids: [20], logprobs: { content: [{ logprob: -0.3 }] } }] });
    acc.add({ id: "c", choices: [{ index: 0, delta: { content: "y" }, token_ids: [11], logprobs: { content: [{ logprob: -0.2 }] } }] });
    acc.add({ choices: [{ index: 1, delta: { tool_calls: [{ index: 0, id: "t1", type: "function", function: { name: "f", arguments: "" } }] }, token_ids: [21] }] });
    acc.add({ choices: [{ index: 1, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] } }] });
    acc.add({ choices: [{ index: 1, delta: { tool_calls: [{ index: 0, function: { arguments: "1}" } }] } }] });
    expect(acc.complete).toBe(false);
    acc.add({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
    acc.add({ choices: [{ index: 1, delta: {}, finish_reason: "tool_calls" }] });
    acc.add({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 4 } });
    expect(acc.complete).toBe(true);
    expect(acc.error).toBeUndefined();
    expect(acc.result()).toEqual({
      id: "c",
      model: "m",
      promptTokenIds: [1, 2],
      inputTokens: 2,
      outputTokens: 4,
      choices: [
        { message: { role: "assistant", content: "Hey" }, finishReason: "stop", tokenIds: [10, 11], logprobs: [-0.1, -0.2] },
        {
          message: { role: "assistant", content: "Yo", tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: '{"a":1}' } }] },
          finishReason: "tool_calls",
          tokenIds: [20, 21],
          logprobs: [-0.3],
        },
      ],
    });
  });

  it("takes prompt ids from a choice when the server puts them there, and reports an in-band error", () => {
    const acc = createAccumulator("chat");
    acc.add({ choices: [{ index: 0, delta: { content: "a" }, prompt_token_ids: [5, 6] }] });
    acc.add({ error: { message: "engine died", code: 500 } });
    expect(acc.result().promptTokenIds).toEqual([5, 6]);
    expect(acc.error).toEqual({ message: "engine died", body: { error: { message: "engine died", code: 500 } } });
  });

  it("accumulates legacy completion chunks with legacy logprobs", () => {
    const acc = createAccumulator("completions");
    acc.add({ id: "x", model: "m", choices: [{ index: 0, text: "Hel", prompt_token_ids: [1], token_ids: [7], logprobs: { token_logprobs: [-0.5] } }] });
    acc.add({ choices: [{ index: 0, text: "lo", token_ids: [8], logprobs: { token_logprobs: [-0.25] } }] });
    acc.add({ choices: [{ index: 0, text: "", token_ids: [], logprobs: null, finish_reason: "length" }] });
    expect(acc.result()).toMatchObject({
      id: "x",
      promptTokenIds: [1],
      choices: [{ message: { role: "assistant", content: "Hello" }, finishReason: "length", tokenIds: [7, 8], logprobs: [-0.5, -0.25] }],
    });
  });

  it("accumulates Responses events, and keeps what arrived when the stream stops early", () => {
    const events: Array<[string, Record<string, unknown>]> = [
      ["response.created", { response: { id: "resp_9", model: "m", status: "in_progress", output: [] } }],
      ["response.output_item.added", { output_index: 0, item: { type: "message", role: "assistant", content: [] } }],
      ["response.output_text.delta", { output_index: 0, delta: "Hel", logprobs: [{ logprob: -0.1 }] }],
      ["response.output_text.delta", { output_index: 0, delta: "lo", logprobs: [{ logprob: -0.2 }] }],
      ["response.output_item.added", { output_index: 1, item: { type: "function_call", call_id: "c1", name: "f", arguments: "" } }],
      ["response.function_call_arguments.delta", { output_index: 1, delta: '{"x":' }],
    ];
    const partial = createAccumulator("responses");
    for (const [type, data] of events) partial.add({ type, ...data });
    expect(partial.complete).toBe(false);
    expect(partial.result()).toMatchObject({
      id: "resp_9",
      choices: [{ message: { role: "assistant", content: "Hello", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: '{"x":' } }] }, logprobs: [-0.1, -0.2] }],
    });

    const full = createAccumulator("responses");
    for (const [type, data] of events) full.add(data, type); // event name from the SSE `event:` line only
    full.add({
      type: "response.completed",
      response: {
        id: "resp_9",
        model: "m",
        status: "completed",
        output: [
          { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello", logprobs: [{ logprob: -0.1 }, { logprob: -0.2 }] }] },
          { type: "function_call", call_id: "c1", name: "f", arguments: '{"x":1}' },
        ],
        usage: { input_tokens: 3, output_tokens: 5 },
      },
    });
    expect(full.complete).toBe(true);
    expect(full.result()).toEqual({
      id: "resp_9",
      model: "m",
      inputTokens: 3,
      outputTokens: 5,
      promptTokenIds: undefined,
      choices: [
        {
          message: { role: "assistant", content: "Hello", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: '{"x":1}' } }] },
          finishReason: "tool_calls",
          logprobs: [-0.1, -0.2],
        },
      ],
    });
  });

  it("accumulates Anthropic events", () => {
    const acc = createAccumulator("anthropic");
    acc.add({ type: "message_start", message: { id: "msg_1", model: "claude", role: "assistant", content: [], usage: { input_tokens: 12, output_tokens: 1 } } });
    acc.add({ type: "ping" });
    acc.add({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    acc.add({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "On " } });
    acc.add({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "it." } });
    acc.add({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "tu_1", name: "go", input: {} } });
    acc.add({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"to":' } });
    acc.add({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '"x"}' } });
    expect(acc.complete).toBe(false);
    acc.add({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } });
    acc.add({ type: "message_stop" });
    expect(acc.result()).toEqual({
      id: "msg_1",
      model: "claude",
      inputTokens: 12,
      outputTokens: 9,
      promptTokenIds: undefined,
      choices: [{ message: { role: "assistant", content: "On it.", tool_calls: [{ id: "tu_1", type: "function", function: { name: "go", arguments: '{"to":"x"}' } }] }, finishReason: "tool_use" }],
    });
    const failed = createAccumulator("anthropic");
    failed.add({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    expect(failed.error?.message).toBe("Overloaded");
    expect(failed.received).toBe(false);
  });
});

describe("hostile payloads", () => {
  it("never throw from request and response converters", () => {
    for (const api of APIS) {
      for (const payload of HOSTILE) {
        const request = requestFromBody(api, payload);
        expect(request.operation).toBe(api === "completions" ? "text_completion" : "chat");
        const response = responseFromBody(api, payload);
        expect(Array.isArray(response.choices)).toBe(true);
      }
    }
  });

  it("never throw from accumulators, whatever they are fed", () => {
    for (const api of APIS) {
      const acc = createAccumulator(api);
      for (const payload of HOSTILE) acc.add(payload, typeof payload === "string" ? payload : undefined);
      acc.add({ type: "content_block_delta", index: 0, delta: { text: "x" } });
      expect(() => acc.result()).not.toThrow();
      expect(Array.isArray(acc.result().choices)).toBe(true);
    }
  });

  it("keeps the recognisable part of a half-broken chat completion", () => {
    const response = chatResponse({ id: 5, model: "m", choices: [{ message: { content: "fine" }, token_ids: [1, -2], logprobs: { content: [{ logprob: "x" }] } }, "junk"] });
    expect(response).toMatchObject({ id: undefined, model: "m", choices: [{ message: { role: "assistant", content: "fine" }, tokenIds: undefined, logprobs: undefined }] });
    expect(response.choices).toHaveLength(1);
  });
});

describe("SSE parser", () => {
  it("parses named and unnamed events, comments, multi-line data and every line ending", () => {
    expect(parseSse(": keep-alive\n\ndata: {\"a\":1}\n\nevent: done\r\ndata: x\r\ndata: y\r\n\r\nid: 7\nretry: 10\nfield-without-colon\ndata:z\n\n")).toEqual([
      { event: undefined, data: '{"a":1}' },
      { event: "done", data: "x\ny" },
      { event: undefined, data: "z" },
    ]);
    expect(parseSse("data: one\r\rdata: two\n")).toEqual([
      { event: undefined, data: "one" },
      { event: undefined, data: "two" },
    ]);
  });

  it("handles pieces split anywhere, including between \\r and \\n, and a missing final blank line", () => {
    const text = "event: a\r\ndata: 1\r\n\r\ndata: 2\n\ndata: 3";
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.end()];
      expect(events).toEqual([
        { event: "a", data: "1" },
        { event: undefined, data: "2" },
        { event: undefined, data: "3" },
      ]);
    }
  });

  it("ignores garbage lines", () => {
    expect(parseSse("\u0000\u0001 nonsense\n:::\nevent\ndata\n\n{\"json\": true}\n\n")).toEqual([{ event: "", data: "" }]);
  });
});
