/** A behaviour detector for tests: flags every LLM call whose answer contains the word SECRET, pointing at the call. */
import type { Detector } from "tracetrain";

export const secretWord: Detector = {
  name: "secret-word",
  inspect: (attempt) =>
    attempt.calls.flatMap((call) =>
      call.choices.some((c) => JSON.stringify(c.message?.content ?? "").includes("SECRET"))
        ? [{ rule: "said-secret", severity: "high" as const, message: "the answer says SECRET", evidence: "SECRET", spanId: call.callId }]
        : [],
    ),
};
