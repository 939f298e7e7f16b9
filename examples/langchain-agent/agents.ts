/**
 * The agent, wrapped for tracetrain twice: once unchanged (Part 1), once after the one change
 * (Part 2). Both ask the createAgent agent the task's question and grade its final answer; the
 * grade's feedback goes with the reward, so APO's optimizer reads why an answer was wrong.
 */
import { agent, emitReward } from "tracetrain";
import { ask, createSupportAgent } from "./support-agent.js";
import { createSupportAgent as createTunableSupportAgent } from "./support-agent-tunable.js";
import { grade, type SupportTask } from "./tasks.js";

let unchanged: ReturnType<typeof createSupportAgent> | undefined;

/** Part 1: the agent exactly as it is — its prompt and model are its own, read from its code and the environment. */
export const unchangedSupport = agent(
  async (task: SupportTask, ctx) => {
    unchanged ??= createSupportAgent();
    const answer = await ask(unchanged, task.question, ctx.signal);
    const { score, feedback } = grade(answer, task);
    emitReward(score, { feedback });
  },
  { name: "support" },
);

/** Part 2: the agent built per rollout from the rollout's resources — the prompt APO proposes, the model RL serves. */
export const tunableSupport = agent(
  async (task: SupportTask, ctx) => {
    const answer = await ask(createTunableSupportAgent(ctx), task.question, ctx.signal);
    const { score, feedback } = grade(answer, task);
    emitReward(score, { feedback });
  },
  { name: "support", resources: ["system", "main"] },
);
