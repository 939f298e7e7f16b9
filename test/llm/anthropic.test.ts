/** Anthropic message streams, replayed from recorded fixtures through the Anthropic accumulator. */
import { describe, it } from "vitest";
import { expectReplays } from "./replay.js";

describe("Anthropic message streams (fixtures)", () => {
  it("thinking, text and a tool_use block whose input arrives as partial JSON; pings and signatures are skipped", () => {
    expectReplays("anthropic", "anthropic-tool-use.sse", 18, {
      received: true,
      complete: true,
      error: undefined,
      response: {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL",
        model: "claude-sonnet-4-5-20250929",
        inputTokens: 472,
        outputTokens: 89,
        choices: [
          {
            message: {
              role: "assistant",
              content: "Let me look that up for you.",
              tool_calls: [{ id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: '{"city": "Zürich", "unit": "celsius"}' } }],
              reasoning_content: "The user wants the weather in Zürich; I should call get_weather.",
            },
            finishReason: "tool_use",
          },
        ],
      },
    });
  });

  it("an error event (overloaded) ends the stream; the text that arrived is kept, with no stop reason", () => {
    expectReplays("anthropic", "anthropic-overloaded.sse", 5, {
      received: true,
      complete: false,
      error: { message: "Overloaded", body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } },
      response: {
        id: "msg_01Hq7kZpWc3dDfS8vB2xR4tN",
        model: "claude-haiku-4-5-20251001",
        inputTokens: 25,
        outputTokens: 1,
        choices: [{ message: { role: "assistant", content: "Bonjour à" }, finishReason: undefined }],
      },
    });
  });
});
