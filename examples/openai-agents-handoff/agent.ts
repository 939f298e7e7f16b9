/**
 * The desk as a tracetrain agent. The only change to the desk's code is where its instructions
 * and model come from: the rollout's resources (`ctx.prompt(name)`, `ctx.llm()`), so that the
 * trainer can hand every rollout the candidate it is trying.
 */
import { OpenAIChatCompletionsModel } from "@openai/agents";
import OpenAI from "openai";
import { agent, emitReward } from "tracetrain";
import { AGENT_NAMES, type Instructions, runDesk } from "./desk.js";
import { score } from "./score.js";
import { requestText, type Task } from "./tasks.js";

const clients = new Map<string, OpenAI>();

/** One client per endpoint and key, so rollouts share its connections. */
function clientFor(baseURL: string, apiKey: string): OpenAI {
  const key = `${baseURL}\u0000${apiKey}`;
  let client = clients.get(key);
  if (client === undefined) {
    client = new OpenAI({ baseURL, apiKey });
    clients.set(key, client);
  }
  return client;
}

export const helpdesk = agent(
  async (task: Task, ctx) => {
    const llm = ctx.llm("main");
    const model = new OpenAIChatCompletionsModel(clientFor(llm.baseUrl, llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none"), llm.model);
    const instructions = Object.fromEntries(AGENT_NAMES.map((name) => [name, ctx.prompt(name).format({})])) as Instructions;
    const outcome = await runDesk(requestText(task), { instructions, model, records: task.records, signal: ctx.signal });
    const { reward, feedback } = score(task, outcome);
    emitReward(reward, { feedback });
  },
  { name: "helpdesk", resources: [...AGENT_NAMES, "main"] },
);
