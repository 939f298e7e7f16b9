/** Responses API event streams, replayed from recorded fixtures through the Responses accumulator. */
import { describe, it } from "vitest";
import { expectReplays } from "./replay.js";

describe("Responses API streams (fixtures)", () => {
  it("text with logprobs, then a function call; the terminal event's response is what is recorded", () => {
    expectReplays("responses", "responses-function-call.sse", 15, {
      received: true,
      complete: true,
      error: undefined,
      response: {
        id: "resp_68af",
        model: "gpt-4.1-mini-2025-04-14",
        inputTokens: 61,
        outputTokens: 23,
        choices: [
          {
            message: {
              role: "assistant",
              content: "Let me check Zürich.",
              tool_calls: [{ id: "call_Wx3k", type: "function", function: { name: "get_weather", arguments: '{"city":"Zürich"}' } }],
            },
            finishReason: "tool_calls",
            logprobs: [-0.12, -0.003, -0.04, -0.25, -0.6],
          },
        ],
      },
    });
  });

  it("an in-band error event ends the stream; the text that arrived is kept, with no finish reason", () => {
    const message = "The server had an error while processing your request. Sorry about that!";
    expectReplays("responses", "responses-stream-error.sse", 7, {
      received: true,
      complete: false,
      error: { message, body: { type: "error", sequence_number: 6, code: "server_error", message, param: null } },
      response: {
        id: "resp_71c0",
        model: "gpt-4.1-mini-2025-04-14",
        choices: [{ message: { role: "assistant", content: "The forecast for" }, finishReason: undefined, logprobs: undefined }],
      },
    });
  });
});
