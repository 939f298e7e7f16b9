/** Legacy completion streams, replayed from recorded fixtures through the completions accumulator. */
import { describe, it } from "vitest";
import { expectReplays } from "./replay.js";

describe("legacy completion streams (fixtures)", () => {
  it("vLLM: prompt ids on the choice, token ids and legacy logprobs per chunk, cut off by length, usage last", () => {
    expectReplays("completions", "completions-vllm.sse", 6, {
      received: true,
      complete: true,
      error: undefined,
      response: {
        id: "cmpl-2b9e",
        model: "Qwen/Qwen3-8B",
        promptTokenIds: [785, 6722, 315, 9625, 374],
        inputTokens: 5,
        outputTokens: 7,
        choices: [
          {
            message: { role: "assistant", content: " Paris, the city of light —" },
            finishReason: "length",
            tokenIds: [12095, 11, 279, 3283, 315, 3100, 1959],
            logprobs: [-0.0153, -0.61, -1.25, -0.33, -0.0008, -0.047, -2.5],
          },
        ],
      },
    });
  });

  it("OpenAI, n = 2: choices interleaved and out of order come out in index order, text-only", () => {
    expectReplays("completions", "completions-openai-n2.sse", 8, {
      received: true,
      complete: true,
      error: undefined,
      response: {
        id: "cmpl-B3uYq",
        model: "gpt-3.5-turbo-instruct",
        choices: [
          { message: { role: "assistant", content: "Roses are red." }, finishReason: "stop" },
          { message: { role: "assistant", content: "\n\nViolets are blue" }, finishReason: "length" },
        ],
      },
    });
  });
});
