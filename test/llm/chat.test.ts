/** Chat completion streams, replayed from recorded fixtures through the chat accumulator. */
import { describe, it } from "vitest";
import { expectReplays } from "./replay.js";

describe("chat completion streams (fixtures)", () => {
  it("vLLM: text, then two tool calls in pieces, with prompt ids on the first chunk, token ids and logprobs per chunk, and usage", () => {
    expectReplays("chat", "chat-vllm-tool-calls.sse", 11, {
      received: true,
      complete: true,
      error: undefined,
      response: {
        id: "chatcmpl-7f3a",
        model: "Qwen/Qwen3-8B",
        promptTokenIds: [151644, 872, 198, 3838, 374, 279, 9104, 304, 71137, 323, 12095, 30, 151645, 198, 151644, 77091, 198],
        inputTokens: 17,
        outputTokens: 24,
        choices: [
          {
            message: {
              role: "assistant",
              content: "Checking both cities.",
              tool_calls: [
                { id: "chatcmpl-tool-4d1c", type: "function", function: { name: "get_weather", arguments: '{"city": "Zürich"}' } },
                { id: "chatcmpl-tool-8e2f", type: "function", function: { name: "get_weather", arguments: '{"city": "Paris"}' } },
              ],
            },
            finishReason: "tool_calls",
            tokenIds: [46098, 2176, 9720, 13, 151657, 198, 4913, 8926, 788, 330, 57, 5779, 713, 9207, 151658, 151657, 4913, 8926, 788, 330, 59604, 9207, 151658, 151645],
            logprobs: [
              -0.0312, -0.5, -0.0021, -0.1, -0.0004, -1.1920928955078125e-7, -0.01, -0.002, -0.0001, -0.03, -0.2, -0.05, -0.0009, -0.004, -0.0002, -0.3, -0.02, -0.001, -0.0003,
              -0.01, -0.07, -0.002, -0.0001, -0.0007,
            ],
          },
        ],
      },
    });
  });

  it("vLLM: an error chunk mid-stream ends it; what arrived before is kept", () => {
    const error = { message: "The engine was shut down while the request was running.", type: "InternalServerError", param: null, code: 500 };
    expectReplays("chat", "chat-vllm-stream-error.sse", 4, {
      received: true,
      complete: false,
      error: { message: error.message, body: { error } },
      response: {
        id: "chatcmpl-91bd",
        model: "Qwen/Qwen3-8B",
        promptTokenIds: [151644, 872, 198, 3838, 374, 220, 17, 10, 17, 30, 151645, 198, 151644, 77091, 198],
        choices: [{ message: { role: "assistant", content: "The answer" }, finishReason: undefined, tokenIds: [785, 4226], logprobs: [-0.2, -0.4] }],
      },
    });
  });
});
