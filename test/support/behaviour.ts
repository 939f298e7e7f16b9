/** The behaviour-filter tests' detector and agent. */
import OpenAI from "openai";
import { agent, type Detector } from "tracetrain";

export type WordTask = { word: string };

/** One task whose answer says SECRET (the mock LLM echoes the prompt) and one whose answer does not. */
export const WORD_TASKS: WordTask[] = [{ word: "SECRET" }, { word: "hello" }];

/** Asks the model to say the task's word; the second rollout of each group earns 1, the first 0. */
export const sayer = agent(
  async (task: WordTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "none", maxRetries: 0 });
    await client.chat.completions.create({ model: llm.model, messages: [{ role: "user", content: `say ${task.word} (${ctx.rollout.rolloutId})` }] });
    return Number(ctx.rollout.rolloutId.split(".").at(-1)) % 2;
  },
  { name: "sayer" },
);

/** Flags every LLM call whose answer contains the word SECRET, pointing at the call. */
export const secretWord: Detector = {
  name: "secret-word",
  inspect: (attempt) =>
    attempt.calls.flatMap((call) =>
      call.choices.some((c) => JSON.stringify(c.message?.content ?? "").includes("SECRET"))
        ? [{ rule: "said-secret", severity: "high" as const, message: "the answer says SECRET", evidence: "SECRET", spanId: call.callId }]
        : [],
    ),
};
