// A TypeScript agent compiled to CommonJS (this folder's package.json has no "type": "module"), as
// tsx runs it: the imports below become require() calls, so tracetrain loads through require(esm).
import OpenAI from "openai";
import { Trainer, agent } from "tracetrain";

const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: "test", maxRetries: 0 });

const greeter = agent(
  async (task: { name: string }) => {
    const reply = await client.chat.completions.create({ model: "mock-model", messages: [{ role: "user", content: `Greet ${task.name}` }] });
    return reply.choices[0]?.message.content === `echo: Greet ${task.name}` ? 1 : 0;
  },
  { name: "greeter" },
);

async function main(): Promise<void> {
  const trainer = new Trainer({ store: "memory", progress: false });
  const [run] = await trainer.dev(greeter, [{ name: "Ada" }]);
  await trainer.close();
  const moduleSystem = typeof require === "function" && typeof module === "object" ? "commonjs" : "esm";
  console.log(JSON.stringify({ moduleSystem, reward: run?.rollout.finalReward, llmCalls: run?.report.llmCalls }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
