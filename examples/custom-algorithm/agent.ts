/** The agent being sampled: an unmodified openai-SDK call whose reply is scored against the task. */
import OpenAI from "openai";
import { agent } from "tracetrain";
import { score, type SumTask } from "./tasks.js";

export const adder = agent(
  async (task: SumTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none" });
    const completion = await client.chat.completions.create({
      model: llm.model,
      // Best-of-N needs different answers to choose from: sample, do not decode greedily.
      temperature: 1,
      messages: [
        { role: "system", content: ctx.prompt().format({}) },
        { role: "user", content: task.question },
      ],
    });
    return score(completion.choices[0]?.message.content ?? "", task);
  },
  { name: "adder" },
);
