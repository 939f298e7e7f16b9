import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatOpenAI } from "@langchain/openai";
import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool } from "@openai/agents";
import { generateText, streamText } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { z } from "zod";
import { failFirst, replySequence, startMockLlm, tokenize, type MockLlm, type Reply } from "tracetrain/testing";

let llm: MockLlm;
let client: OpenAI;

beforeAll(async () => {
  llm = await startMockLlm();
  client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
});

afterEach(() => {
  llm.script(undefined);
  llm.setChunkDelay(0);
});

afterAll(async () => {
  await llm.close();
});

/** Test-side view of fields the SDK types do not know (vLLM extensions). */
function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** The chat rendering the server documents for prompt token ids. */
function chatPrompt(messages: Array<{ role: string; content: string }>): string {
  return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join("") + "<|im_start|>assistant\n";
}

async function readSse(response: Response): Promise<Array<{ event: string | undefined; data: string }>> {
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice("event: ".length);
      const data = lines.find((l) => l.startsWith("data: "))?.slice("data: ".length) ?? "";
      return { event, data };
    });
}

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${llm.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("chat completions via the openai SDK", () => {
  it("answers with the default echo, echoes the model and counts tokens with the real tokenizer", async () => {
    const before = llm.requests.length;
    const completion = await client.chat.completions.create({
      model: "my-model",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "hello" }, { type: "text", text: "world" }] },
      ],
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toMatch(/^chatcmpl-\d+$/);
    expect(completion.model).toBe("my-model");
    const message = completion.choices[0]?.message;
    expect(message?.role).toBe("assistant");
    expect(message?.content).toBe("echo: hello\nworld");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.usage).toMatchObject({
      prompt_tokens: tokenize(chatPrompt([{ role: "system", content: "be brief" }, { role: "user", content: "hello\nworld" }])).length,
      completion_tokens: tokenize("echo: hello\nworld").length,
    });
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0));

    const recorded = llm.requests.slice(before);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ method: "POST", path: "/v1/chat/completions", body: { model: "my-model" } });
    expect(recorded[0]?.headers.authorization).toBe("Bearer test");
  });

  it("returns n deterministic choices", async () => {
    const completion = await client.chat.completions.create({ model: "m", n: 3, messages: [{ role: "user", content: "hi" }] });
    expect(completion.choices.map((c) => c.message.content)).toEqual(["echo: hi", "echo: hi [choice 1]", "echo: hi [choice 2]"]);
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1, 2]);
  });

  it("passes scripted responder requests with a growing index and the last user text", async () => {
    const seen: Array<{ index: number; lastUserText: string; path: string }> = [];
    llm.script(({ index, lastUserText, path }) => {
      seen.push({ index, lastUserText, path });
      return { text: `reply ${seen.length}` };
    });
    const a = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "one" }] });
    const b = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "two" }, { role: "assistant", content: "x" }] });
    expect(a.choices[0]?.message.content).toBe("reply 1");
    expect(b.choices[0]?.message.content).toBe("reply 2");
    expect(seen[1]?.index).toBe((seen[0]?.index ?? -1) + 1);
    expect(seen.map((s) => s.lastUserText)).toEqual(["one", "two"]);
    expect(seen[0]?.path).toBe("/v1/chat/completions");
  });

  it("replySequence scripts replies in order, then falls back to echo", async () => {
    llm.script(replySequence([{ text: "first" }, { text: "second" }]));
    const texts: Array<string | null | undefined> = [];
    for (const content of ["a", "b", "c"]) {
      const completion = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content }] });
      texts.push(completion.choices[0]?.message.content);
    }
    expect(texts).toEqual(["first", "second", "echo: c"]);
  });

  it("returns scripted tool calls with string arguments and null content", async () => {
    llm.script(() => ({ toolCalls: [{ name: "get_weather", arguments: { city: "Paris", days: 2 } }, { name: "noop", arguments: {}, id: "call_fixed" }] }));
    const completion = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "weather?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } }],
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    const calls = choice?.message.tool_calls ?? [];
    expect(calls).toHaveLength(2);
    const [first, second] = calls;
    if (first?.type !== "function" || second?.type !== "function") throw new Error("expected function tool calls");
    expect(first.id).toMatch(/^call_/);
    expect(first.function.name).toBe("get_weather");
    expect(JSON.parse(first.function.arguments)).toEqual({ city: "Paris", days: 2 });
    expect(second.id).toBe("call_fixed");
  });

  it("streams content in several chunks and reports usage with include_usage", async () => {
    const stream = await client.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "stream this sentence please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let contentChunks = 0;
    let role: string | undefined;
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      const choice = chunk.choices[0];
      if (choice?.delta.role) role = choice.delta.role;
      if (choice?.delta.content) {
        content += choice.delta.content;
        contentChunks++;
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) {
        expect(chunk.choices).toEqual([]);
        usage = chunk.usage;
      }
    }
    expect(role).toBe("assistant");
    expect(content).toBe("echo: stream this sentence please");
    expect(contentChunks).toBe(tokenize(content).length);
    expect(contentChunks).toBeGreaterThan(3);
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBe(tokenize(content).length);
  });

  it("streams tool calls that the SDK's ChatCompletionStream assembles", async () => {
    llm.script(() => ({ text: "Let me check.", toolCalls: [{ name: "search", arguments: { query: "mock servers", limit: 10 } }] }));
    const stream = client.chat.completions.stream({ model: "m", messages: [{ role: "user", content: "find" }] });
    const argumentDeltas: string[] = [];
    stream.on("tool_calls.function.arguments.delta", (event) => argumentDeltas.push(event.arguments_delta));
    const final = await stream.finalChatCompletion();
    const message = final.choices[0]?.message;
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");
    expect(message?.content).toBe("Let me check.");
    const call = message?.tool_calls?.[0];
    if (call?.type !== "function") throw new Error("expected a function tool call");
    expect(call.function.name).toBe("search");
    expect(JSON.parse(call.function.arguments)).toEqual({ query: "mock servers", limit: 10 });
    expect(argumentDeltas.length).toBeGreaterThan(1);
  });

  it("supports vLLM return_token_ids and logprobs, streamed ids concatenating to the non-streamed ids", async () => {
    llm.script(() => ({ text: "Héllo wörld — ünïcode ✓ 🙂", toolCalls: [{ name: "f", arguments: { a: 1 } }] }));
    const params = {
      model: "m",
      messages: [{ role: "user" as const, content: "ids please" }],
      logprobs: true,
      top_logprobs: 2,
      return_token_ids: true,
    };
    const completion = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const promptIds = field(completion, "prompt_token_ids");
    expect(promptIds).toEqual(tokenize(chatPrompt([{ role: "user", content: "ids please" }])));
    expect(completion.usage?.prompt_tokens).toBe((promptIds as number[]).length);
    const choice = completion.choices[0];
    const tokenIds = field(choice, "token_ids") as number[];
    expect(tokenIds.length).toBe(completion.usage?.completion_tokens);
    expect(tokenIds.slice(0, tokenize("Héllo wörld — ünïcode ✓ 🙂").length)).toEqual(tokenize("Héllo wörld — ünïcode ✓ 🙂"));
    const entries = choice?.logprobs?.content ?? [];
    expect(entries).toHaveLength(tokenIds.length);
    expect(entries[0]?.top_logprobs).toHaveLength(2);
    expect(entries[0]?.top_logprobs[0]?.token).toBe(entries[0]?.token);
    expect(entries[0]?.logprob).toBe(-(((tokenIds[0] ?? 0) % 97) + 1) / 100);

    const stream = await client.chat.completions.create({ ...params, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
    const streamedIds: number[] = [];
    const streamedLogprobs: number[] = [];
    let streamedPromptIds: unknown;
    let chunkIndex = 0;
    let content = "";
    for await (const chunk of stream) {
      if (chunkIndex++ === 0) streamedPromptIds = field(chunk, "prompt_token_ids");
      else expect(field(chunk, "prompt_token_ids")).toBeUndefined();
      const c = chunk.choices[0];
      const ids = field(c, "token_ids") as number[];
      streamedIds.push(...ids);
      for (const entry of c?.logprobs?.content ?? []) streamedLogprobs.push(entry.logprob);
      if (c?.delta.content) {
        content += c.delta.content;
        expect(ids.length).toBeGreaterThan(0);
      }
    }
    expect(content).toBe("Héllo wörld — ünïcode ✓ 🙂");
    expect(streamedPromptIds).toEqual(promptIds);
    expect(streamedIds).toEqual(tokenIds);
    expect(streamedLogprobs).toEqual(entries.map((e) => e.logprob));
  });

  it("truncates at max_tokens with finish_reason length", async () => {
    llm.script(() => ({ text: "one two three four five six seven" }));
    const completion = await client.chat.completions.create({ model: "m", max_tokens: 3, messages: [{ role: "user", content: "x" }] });
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.choices[0]?.message.content).toBe("one two three");
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  it("turns scripted errors into OpenAI.APIError with the status, message, type and code", async () => {
    llm.script(() => ({ error: { status: 429, message: "slow down" } }));
    const error: unknown = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    const apiError = error as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(429);
    expect(apiError.message).toContain("slow down");
    expect(apiError.code).toBe("rate_limit_exceeded");

    llm.script(() => ({ error: { status: 400, message: "bad tools", type: "invalid_request_error", code: "invalid_value" } }));
    const streamError: unknown = await client.chat.completions
      .create({ model: "m", stream: true, messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect(streamError).toBeInstanceOf(OpenAI.BadRequestError);
    expect((streamError as InstanceType<typeof OpenAI.APIError>).type).toBe("invalid_request_error");
    expect((streamError as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_value");
  });

  it("reports a throwing responder as a 500 and keeps serving", async () => {
    llm.script(() => {
      throw new Error("boom");
    });
    const error: unknown = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
    llm.script(undefined);
    const ok = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "again" }] });
    expect(ok.choices[0]?.message.content).toBe("echo: again");
  });
});

describe("legacy completions via the openai SDK", () => {
  it("completes a prompt with text_completion objects and usage", async () => {
    const completion = await client.completions.create({ model: "m", prompt: "Say hi" });
    expect(completion.object).toBe("text_completion");
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.choices[0]?.text).toBe("echo: Say hi");
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.usage).toMatchObject({ prompt_tokens: tokenize("Say hi").length, completion_tokens: tokenize("echo: Say hi").length });
  });

  it("answers each prompt of a batch, n choices each, with vLLM ids and legacy logprobs", async () => {
    const completion = await client.completions.create({
      model: "m",
      prompt: ["first", "second"],
      n: 2,
      logprobs: 3,
      return_token_ids: true,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    expect(completion.choices.map((c) => c.text)).toEqual(["echo: first", "echo: first [choice 1]", "echo: second", "echo: second [choice 1]"]);
    const third = completion.choices[2];
    expect(field(third, "prompt_token_ids")).toEqual(tokenize("second"));
    expect(field(third, "token_ids")).toEqual(tokenize("echo: second"));
    const logprobs = third?.logprobs;
    expect(logprobs?.tokens?.join("")).toBe("echo: second");
    expect(logprobs?.token_logprobs).toHaveLength(tokenize("echo: second").length);
    expect(Object.keys(logprobs?.top_logprobs?.[0] ?? {}).length).toBeGreaterThan(0);
    expect(logprobs?.text_offset?.[0]).toBe(0);
  });

  it("accepts token-id prompts", async () => {
    const ids = tokenize("from ids");
    const completion = await client.completions.create({ model: "m", prompt: ids });
    expect(completion.choices[0]?.text).toBe("echo: from ids");
    expect(completion.usage?.prompt_tokens).toBe(ids.length);
  });

  it("rejects missing or invalid prompts with 400", async () => {
    const missing = await post("/completions", { model: "m" });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: "missing_required_parameter" } });
    const badIds = await post("/completions", { model: "m", prompt: [1, 999_999_999] });
    expect(badIds.status).toBe(400);
    expect(await badIds.json()).toMatchObject({ error: { code: "invalid_value" } });
  });

  it("streams completions whose token ids concatenate to the non-streamed ones", async () => {
    const params = { model: "m", prompt: "stream me", return_token_ids: true, stream_options: { include_usage: true } };
    const plain = await client.completions.create(params as OpenAI.CompletionCreateParamsNonStreaming);
    const stream = await client.completions.create({ ...params, stream: true } as OpenAI.CompletionCreateParamsStreaming);
    let text = "";
    const ids: number[] = [];
    let promptIds: unknown;
    let finish: string | undefined;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (chunk.usage) usage = chunk.usage;
      if (!choice) continue;
      text += choice.text;
      ids.push(...(field(choice, "token_ids") as number[]));
      promptIds ??= field(choice, "prompt_token_ids");
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    expect(text).toBe(plain.choices[0]?.text);
    expect(ids).toEqual(field(plain.choices[0], "token_ids"));
    expect(promptIds).toEqual(tokenize("stream me"));
    expect(finish).toBe("stop");
    expect(usage).toEqual(plain.usage);
  });
});

describe("responses API via the openai SDK", () => {
  it("returns a completed response whose output_text the SDK computes", async () => {
    const response = await client.responses.create({ model: "m", instructions: "be nice", input: "hello there" });
    expect(response.object).toBe("response");
    expect(response.id).toMatch(/^resp_/);
    expect(response.status).toBe("completed");
    expect(response.model).toBe("m");
    expect(response.output_text).toBe("echo: hello there");
    expect(response.instructions).toBe("be nice");
    expect(response.error).toBeNull();
    expect(response.usage).toMatchObject({
      input_tokens: tokenize(chatPrompt([{ role: "system", content: "be nice" }, { role: "user", content: "hello there" }])).length,
      output_tokens: tokenize("echo: hello there").length,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it("reads input items and returns function calls", async () => {
    let lastUser = "";
    llm.script(({ lastUserText }) => {
      lastUser = lastUserText;
      return { toolCalls: [{ name: "lookup", arguments: { id: 7 } }] };
    });
    const response = await client.responses.create({
      model: "m",
      input: [
        { role: "user", content: [{ type: "input_text", text: "look up 7" }] },
        { type: "function_call", call_id: "call_a", name: "lookup", arguments: "{}" },
        { type: "function_call_output", call_id: "call_a", output: "nothing" },
      ],
    });
    expect(lastUser).toBe("look up 7");
    const item = response.output[0];
    if (item?.type !== "function_call") throw new Error("expected a function_call item");
    expect(item.id).toMatch(/^fc_/);
    expect(item.call_id).toMatch(/^call_/);
    expect(item.name).toBe("lookup");
    expect(JSON.parse(item.arguments)).toEqual({ id: 7 });
    expect(response.output_text).toBe("");
  });

  it("streams the full event sequence ending with response.completed", async () => {
    const stream = await client.responses.create({ model: "m", input: "stream it", stream: true });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = "";
    let completedText = "";
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") {
        const message = event.response.output[0];
        if (message?.type === "message" && message.content[0]?.type === "output_text") completedText = message.content[0].text;
      }
    }
    expect(text).toBe("echo: stream it");
    expect(completedText).toBe("echo: stream it");
    expect(sequence).toEqual(types.map((_, i) => i));
    expect(types[0]).toBe("response.created");
    expect(types[1]).toBe("response.in_progress");
    expect(types.at(-1)).toBe("response.completed");
    expect(types.filter((t) => t === "response.output_text.delta").length).toBeGreaterThan(2);
    for (const t of ["response.output_item.added", "response.content_part.added", "response.output_text.done", "response.content_part.done", "response.output_item.done"]) {
      expect(types).toContain(t);
    }
  });

  it("streams text plus function calls that ResponseStream assembles", async () => {
    llm.script(() => ({ text: "calling", toolCalls: [{ name: "f", arguments: { deep: { list: [1, 2, 3] } } }] }));
    const stream = client.responses.stream({ model: "m", input: "go" });
    const types: string[] = [];
    stream.on("event", (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe("calling");
    const call = final.output[1];
    if (call?.type !== "function_call") throw new Error("expected a function_call item");
    expect(JSON.parse(call.arguments)).toEqual({ deep: { list: [1, 2, 3] } });
    expect(types.filter((t) => t === "response.function_call_arguments.delta").length).toBeGreaterThan(1);
    expect(types).toContain("response.function_call_arguments.done");
  });
});

describe("responses API extras", () => {
  it("returns output_text logprobs when included and goes incomplete at max_output_tokens", async () => {
    llm.script(() => ({ text: "alpha beta gamma delta epsilon" }));
    const full = await client.responses.create({ model: "m", input: "x", include: ["message.output_text.logprobs"], top_logprobs: 3 });
    const message = full.output[0];
    if (message?.type !== "message" || message.content[0]?.type !== "output_text") throw new Error("expected a message");
    const logprobs = message.content[0].logprobs ?? [];
    expect(logprobs.map((l) => l.token).join("")).toBe("alpha beta gamma delta epsilon");
    expect(logprobs[0]?.top_logprobs).toHaveLength(3);

    const cut = await client.responses.create({ model: "m", input: "x", max_output_tokens: 2 });
    expect(cut.status).toBe("incomplete");
    expect(cut.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(cut.output_text).toBe("alpha beta");

    const stream = await client.responses.create({ model: "m", input: "x", max_output_tokens: 2, stream: true });
    let last = "";
    for await (const event of stream) last = event.type;
    expect(last).toBe("response.incomplete");
  });
});

describe("other clients", () => {
  it("@langchain/openai ChatOpenAI.invoke returns the text", async () => {
    const model = new ChatOpenAI({ model: "mock-model", apiKey: "test", configuration: { baseURL: llm.baseUrl }, maxRetries: 0 });
    const message = await model.invoke("hi from langchain");
    expect(message.content).toBe("echo: hi from langchain");
  });

  describe("@openai/agents", () => {
    beforeAll(() => {
      setTracingDisabled(true);
      setDefaultOpenAIClient(new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 }));
    });
    afterAll(() => {
      // Restore the library default; tracing stays disabled because enabling it would try to export over the network.
      setOpenAIAPI("responses");
    });

    it("runs an agent over chat completions", async () => {
      setOpenAIAPI("chat_completions");
      const before = llm.requests.length;
      const result = await run(new Agent({ name: "a", instructions: "Answer.", model: "mock-model" }), "hi");
      expect(result.finalOutput).toBe("echo: hi");
      expect(llm.requests.slice(before).map((r) => r.path)).toEqual(["/v1/chat/completions"]);
    });

    it("runs an agent over the responses API, including a tool round trip", async () => {
      setOpenAIAPI("responses");
      const before = llm.requests.length;
      llm.script(({ body }) => {
        const input = Array.isArray(body.input) ? body.input : [];
        const output = input.find((item: unknown) => field(item, "type") === "function_call_output");
        return output === undefined
          ? { toolCalls: [{ name: "add", arguments: { a: 2, b: 3 } }] }
          : { text: `sum is ${String(field(output, "output"))}` };
      });
      const add = tool({
        name: "add",
        description: "adds two numbers",
        parameters: z.object({ a: z.number(), b: z.number() }),
        execute: ({ a, b }) => String(a + b),
      });
      const result = await run(new Agent({ name: "a", instructions: "Use tools.", model: "mock-model", tools: [add] }), "2+3?");
      expect(result.finalOutput).toBe("sum is 5");
      expect(llm.requests.slice(before).map((r) => r.path)).toEqual(["/v1/responses", "/v1/responses"]);
    });
  });

  describe("Vercel AI SDK", () => {
    it("generateText over chat completions and over the default responses model", async () => {
      const provider = createOpenAI({ baseURL: llm.baseUrl, apiKey: "test" });
      const chat = await generateText({ model: provider.chat("mock-model"), prompt: "hi chat", maxRetries: 0 });
      expect(chat.text).toBe("echo: hi chat");
      expect(chat.finishReason).toBe("stop");
      expect(chat.usage.inputTokens).toBe(tokenize(chatPrompt([{ role: "user", content: "hi chat" }])).length);
      const responses = await generateText({ model: provider("mock-model"), prompt: "hi responses", maxRetries: 0 });
      expect(responses.text).toBe("echo: hi responses");
      expect(llm.requests.at(-1)?.path).toBe("/v1/responses");
    });

    it("streamText textStream over chat completions and responses", async () => {
      const provider = createOpenAI({ baseURL: llm.baseUrl, apiKey: "test" });
      for (const model of [provider.chat("mock-model"), provider.responses("mock-model")]) {
        const result = streamText({ model, prompt: "streaming words here", maxRetries: 0 });
        let text = "";
        for await (const delta of result.textStream) text += delta;
        expect(text).toBe("echo: streaming words here");
        expect((await result.usage).outputTokens).toBe(tokenize(text).length);
      }
    });

    it("streamText over the responses model surfaces streamed tool calls", async () => {
      llm.script(() => ({ text: "checking", toolCalls: [{ name: "weather", arguments: { city: "Lima" } }] }));
      const provider = createOpenAI({ baseURL: llm.baseUrl, apiKey: "test" });
      const result = streamText({
        model: provider.responses("mock-model"),
        prompt: "weather?",
        maxRetries: 0,
        tools: { weather: { description: "weather", inputSchema: z.object({ city: z.string() }) } },
      });
      let text = "";
      for await (const delta of result.textStream) text += delta;
      expect(text).toBe("checking");
      const calls = await result.toolCalls;
      expect(calls.map((c) => [c.toolName, c.input])).toEqual([["weather", { city: "Lima" }]]);
      expect(await result.finishReason).toBe("tool-calls");
    });

    it("generateText surfaces scripted tool calls", async () => {
      llm.script(() => ({ toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] }));
      const provider = createOpenAI({ baseURL: llm.baseUrl, apiKey: "test" });
      const result = await generateText({
        model: provider.chat("mock-model"),
        prompt: "weather?",
        maxRetries: 0,
        tools: { weather: { description: "weather", inputSchema: z.object({ city: z.string() }) } },
      });
      expect(result.finishReason).toBe("tool-calls");
      expect(result.toolCalls[0]?.toolName).toBe("weather");
      expect(result.toolCalls[0]?.input).toEqual({ city: "Oslo" });
    });
  });
});

describe("Anthropic messages via fetch", () => {
  it("returns a message with text content and usage", async () => {
    const response = await post("/messages", {
      model: "claude-mock",
      max_tokens: 100,
      system: "be terse",
      messages: [{ role: "user", content: [{ type: "text", text: "hello claude" }] }],
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-mock",
      content: [{ type: "text", text: "echo: hello claude" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: tokenize(chatPrompt([{ role: "system", content: "be terse" }, { role: "user", content: "hello claude" }])).length,
        output_tokens: tokenize("echo: hello claude").length,
      },
    });
    expect(body.id).toMatch(/^msg_/);
  });

  it("returns tool_use blocks and treats tool_result blocks as tool turns", async () => {
    let lastUser = "";
    llm.script(({ lastUserText }) => {
      lastUser = lastUserText;
      return { toolCalls: [{ name: "calc", arguments: { x: 1 } }] };
    });
    const response = await post("/messages", {
      model: "c",
      max_tokens: 50,
      messages: [
        { role: "user", content: "compute" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_a", name: "calc", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_a", content: "42" }] },
      ],
    });
    const body = (await response.json()) as Record<string, unknown>;
    expect(lastUser).toBe("compute");
    expect(body.stop_reason).toBe("tool_use");
    expect(body.content).toEqual([{ type: "tool_use", id: expect.stringMatching(/^toolu_/), name: "calc", input: { x: 1 } }]);
  });

  it("streams the real Anthropic event sequence", async () => {
    llm.script(() => ({ text: "streamed reply text", toolCalls: [{ name: "t", arguments: { k: "v" } }] }));
    const response = await post("/messages", { model: "c", max_tokens: 100, stream: true, messages: [{ role: "user", content: "hi" }] });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const events = await readSse(response);
    for (const e of events) expect(JSON.parse(e.data)).toMatchObject({ type: e.event });
    const payloads = events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "ping",
      "content_block_start",
      ...Array(tokenize("streamed reply text").length).fill("content_block_delta"),
      "content_block_stop",
      "content_block_start",
      ...payloads.filter((p) => field(p.delta, "type") === "input_json_delta").map(() => "content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const text = payloads.map((p) => (field(p.delta, "type") === "text_delta" ? String(field(p.delta, "text")) : "")).join("");
    const json = payloads.map((p) => (field(p.delta, "type") === "input_json_delta" ? String(field(p.delta, "partial_json")) : "")).join("");
    expect(text).toBe("streamed reply text");
    expect(JSON.parse(json)).toEqual({ k: "v" });
    expect(payloads[0]).toMatchObject({ message: { role: "assistant", content: [], stop_reason: null } });
    expect(payloads.at(-2)).toMatchObject({ delta: { stop_reason: "tool_use" } });
  });

  it("stops at max_tokens and reports scripted errors in Anthropic's shape", async () => {
    llm.script(() => ({ text: "one two three four" }));
    const cut = (await (await post("/messages", { model: "c", max_tokens: 2, messages: [{ role: "user", content: "x" }] })).json()) as Record<string, unknown>;
    expect(cut).toMatchObject({ stop_reason: "max_tokens", content: [{ type: "text", text: "one two" }], usage: { output_tokens: 2 } });

    llm.script(() => ({ error: { status: 529, message: "overloaded" } }));
    const failed = await post("/messages", { model: "c", max_tokens: 2, messages: [{ role: "user", content: "x" }] });
    expect(failed.status).toBe(529);
    expect(await failed.json()).toEqual({ type: "error", error: { type: "overloaded_error", message: "overloaded" } });
  });

  it("uses Anthropic's error shape", async () => {
    const response = await post("/messages", { model: "c", messages: [] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });
});

describe("robustness", () => {
  it("lists the mock model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["mock-model"]);
  });

  it("answers malformed JSON with 400 and unknown paths with 404, in OpenAI's error shape, and keeps serving", async () => {
    const before = llm.requests.length;
    const malformed = await fetch(`${llm.baseUrl}/chat/completions`, { method: "POST", body: "{not json" });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { type: "invalid_request_error", message: expect.any(String) } });

    const notObject = await post("/chat/completions", [1, 2]);
    expect(notObject.status).toBe(400);

    const missing = await post("/chat/completions", { model: "m" });
    expect(missing.status).toBe(400);

    const unknown = await post("/nope", {});
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { message: "Invalid URL (POST /v1/nope)", type: "invalid_request_error", param: null, code: null } });

    const wrongMethod = await fetch(`${llm.baseUrl}/chat/completions`);
    expect(wrongMethod.status).toBe(404);

    expect(llm.requests.slice(before).map((r) => [r.path, r.body === undefined])).toEqual([
      ["/v1/chat/completions", true],
      ["/v1/chat/completions", false],
      ["/v1/chat/completions", false],
      ["/v1/nope", false],
      ["/v1/chat/completions", true],
    ]);
    const ok = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "still here" }] });
    expect(ok.choices[0]?.message.content).toBe("echo: still here");
  });

  it("honours latencyMs and closes promptly with keep-alive connections open", async () => {
    const slow = await startMockLlm({ latencyMs: 150, responder: () => ({ text: "late" }) });
    const slowClient = new OpenAI({ baseURL: slow.baseUrl, apiKey: "test", maxRetries: 0 });
    const started = Date.now();
    const completion = await slowClient.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(completion.choices[0]?.message.content).toBe("late");
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    // Resolves only once every connection is closed, the kept-alive one included (forced, not left
    // to time out); afterwards nothing answers.
    await slow.close();
    await expect(slowClient.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] })).rejects.toThrow();
  });
});

describe("fault injection and pacing", () => {
  /** Node timers may fire up to a millisecond early, so bounds allow that much per interval. */
  const minElapsed = (intervals: number, delayMs: number) => intervals * (delayMs - 1);

  async function connectionError(promise: Promise<unknown>): Promise<unknown> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    return error;
  }

  it("chunkDelayMs spaces the chunks of a chat stream without changing them", async () => {
    const delayMs = 25;
    const paced = await startMockLlm({ chunkDelayMs: delayMs, responder: () => ({ text: "one two three four five" }) });
    try {
      const pacedClient = new OpenAI({ baseURL: paced.baseUrl, apiKey: "test", maxRetries: 0 });
      const started = performance.now();
      const stream = await pacedClient.chat.completions.create({ model: "m", stream: true, messages: [{ role: "user", content: "x" }] });
      const arrivals: number[] = [];
      let content = "";
      for await (const chunk of stream) {
        arrivals.push(performance.now());
        content += chunk.choices[0]?.delta.content ?? "";
      }
      expect(content).toBe("one two three four five");
      const chunks = arrivals.length; // role + one per token + finish; [DONE] follows, unseen by the SDK
      expect(chunks).toBe(tokenize(content).length + 2);
      const first = arrivals[0] ?? 0;
      const last = arrivals.at(-1) ?? 0;
      // The server cannot send the last chunk sooner than this after the request started...
      expect(last - started).toBeGreaterThanOrEqual(minElapsed(chunks - 1, delayMs));
      // ...and the chunks must arrive spread out, not in one burst (loose: the client may lag).
      expect(last - first).toBeGreaterThanOrEqual(minElapsed(chunks - 1, delayMs) / 2);
    } finally {
      await paced.close();
    }
  });

  it("setChunkDelay paces every streaming API", async () => {
    const delayMs = 10;
    llm.setChunkDelay(delayMs);
    llm.script(() => ({ text: "a b" }));
    const requests: Array<[string, Record<string, unknown>]> = [
      ["/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] }],
      ["/completions", { model: "m", prompt: "x" }],
      ["/responses", { model: "m", input: "x" }],
      ["/messages", { model: "c", max_tokens: 10, messages: [{ role: "user", content: "x" }] }],
    ];
    for (const [path, body] of requests) {
      const started = performance.now();
      const events = await readSse(await post(path, { ...body, stream: true }));
      const elapsed = performance.now() - started;
      expect(events.length).toBeGreaterThan(3);
      expect(elapsed, path).toBeGreaterThanOrEqual(minElapsed(events.length - 1, delayMs));
      // The stream is still complete: each API's own last event.
      expect([events.at(-1)?.data, events.at(-1)?.event]).toContainEqual(
        { "/chat/completions": "[DONE]", "/completions": "[DONE]", "/responses": "response.completed", "/messages": "message_stop" }[path],
      );
    }
  });

  it("break_stream delivers exactly afterEvents chunks to the openai SDK, then fails the stream", async () => {
    for (const delayMs of [0, 5]) {
      llm.setChunkDelay(delayMs);
      llm.script(() => ({ text: "one two three four five six", fault: { kind: "break_stream", afterEvents: 3 } }));
      const stream = await client.chat.completions.create({ model: "m", stream: true, messages: [{ role: "user", content: "x" }] });
      let received = 0;
      const error = await (async () => {
        for await (const chunk of stream) {
          expect(chunk.object).toBe("chat.completion.chunk");
          received++;
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `delay ${delayMs}`).toBeInstanceOf(Error);
      expect(received, `delay ${delayMs}`).toBe(3);
    }
  });

  it("break_stream cuts the Responses and Anthropic streams too, and afterEvents 0 sends only the headers", async () => {
    llm.script(() => ({ text: "some streamed text", fault: { kind: "break_stream", afterEvents: 4 } }));
    const stream = await client.responses.create({ model: "m", input: "x", stream: true });
    const types: string[] = [];
    const error = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(types).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);

    llm.script(() => ({ text: "some streamed text", fault: { kind: "break_stream", afterEvents: 0 } }));
    const response = await post("/messages", { model: "c", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    await expect(response.text()).rejects.toThrow();
  });

  it("drop_connection fails streamed and non-streamed calls with a connection error, recorded, and the server keeps serving", async () => {
    const before = llm.requests.length;
    llm.script(() => ({ text: "never sent", fault: { kind: "drop_connection" } }));
    await connectionError(client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "plain" }] }));
    await connectionError(client.chat.completions.create({ model: "m", stream: true, messages: [{ role: "user", content: "streamed" }] }));
    llm.script(() => ({ toolCalls: [{ name: "f", arguments: {} }], fault: { kind: "drop_connection" } }));
    await connectionError(client.responses.create({ model: "m", input: "tools" }));
    expect(llm.requests.slice(before).map((r) => [r.path, field(r.body, "stream") ?? false])).toEqual([
      ["/v1/chat/completions", false],
      ["/v1/chat/completions", true],
      ["/v1/responses", false],
    ]);

    llm.script(undefined);
    const ok = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "after" }] });
    expect(ok.choices[0]?.message.content).toBe("echo: after");
  });

  it("break_stream on a non-streamed request drops the connection, for legacy completions too", async () => {
    llm.script(() => ({ text: "x", fault: { kind: "break_stream", afterEvents: 2 } }));
    await connectionError(client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }));
    await connectionError(client.completions.create({ model: "m", prompt: "x" }));
  });

  it("retryAfter sets the Retry-After header in both error formats", async () => {
    llm.script(() => ({ error: { status: 429, message: "slow down", retryAfter: 7 } }));
    const openAi = await post("/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] });
    expect(openAi.status).toBe(429);
    expect(openAi.headers.get("retry-after")).toBe("7");
    expect(await openAi.json()).toMatchObject({ error: { message: "slow down", code: "rate_limit_exceeded" } });

    llm.script(() => ({ error: { status: 529, message: "overloaded", retryAfter: 0 } }));
    const anthropic = await post("/messages", { model: "c", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    expect(anthropic.headers.get("retry-after")).toBe("0");
    expect(await anthropic.json()).toEqual({ type: "error", error: { type: "overloaded_error", message: "overloaded" } });

    llm.script(() => ({ error: { status: 500, message: "plain" } }));
    const plain = await post("/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] });
    expect(plain.headers.get("retry-after")).toBeNull();
    await plain.body?.cancel();
  });

  it("failFirst answers the first N calls with the failure, then normally", async () => {
    llm.script(failFirst(2, { error: { status: 503, message: "warming up", retryAfter: 1 } }));
    const statuses: number[] = [];
    for (const content of ["a", "b", "c", "d"]) {
      const response = await post("/chat/completions", { model: "m", messages: [{ role: "user", content }] });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    expect(statuses).toEqual([503, 503, 200, 200]);

    llm.script(failFirst(1, { text: "unsent", fault: { kind: "drop_connection" } }, () => ({ text: "recovered" })));
    await connectionError(client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }));
    const ok = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(ok.choices[0]?.message.content).toBe("recovered");
  });

  it("rejects malformed faults and retryAfter values with a 500", async () => {
    const invalid: unknown[] = [
      { text: "x", fault: { kind: "explode" } },
      { text: "x", fault: { kind: "break_stream" } },
      { text: "x", fault: { kind: "break_stream", afterEvents: -1 } },
      { text: "x", fault: "drop_connection" },
      { error: { status: 429, message: "x", retryAfter: "soon" } },
    ];
    for (const reply of invalid) {
      llm.script(() => reply as Reply);
      const response = await post("/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] });
      expect(response.status, JSON.stringify(reply)).toBe(500);
      expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining("invalid reply") } });
    }
  });

  it("stops a paced stream when the client disconnects and still closes promptly", async () => {
    const paced = await startMockLlm({ chunkDelayMs: 20, responder: () => ({ text: "word ".repeat(200) }) });
    const abort = new AbortController();
    const response = await fetch(`${paced.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "x" }] }),
      signal: abort.signal,
    });
    const reader = response.body?.getReader();
    const first = await reader?.read();
    expect(first?.done).toBe(false);
    abort.abort();
    // A few more ticks of the (now stopped) writer: nothing may throw or reject.
    await new Promise((resolve) => setTimeout(resolve, 80));

    const pacedClient = new OpenAI({ baseURL: paced.baseUrl, apiKey: "test", maxRetries: 0 });
    paced.script(() => ({ text: "still fine" }));
    const ok = await pacedClient.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] });
    expect(ok.choices[0]?.message.content).toBe("still fine");
    await paced.close();
    await expect(pacedClient.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] })).rejects.toThrow();
  });

  it("rejects a negative or non-finite chunk delay", async () => {
    expect(() => llm.setChunkDelay(-1)).toThrow(RangeError);
    expect(() => llm.setChunkDelay(Number.NaN)).toThrow(RangeError);
    await expect(startMockLlm({ chunkDelayMs: -5 })).rejects.toThrow(RangeError);
  });
});
