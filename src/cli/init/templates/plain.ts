import type { FrameworkTemplate } from "./framework.js";

export const PLAIN: FrameworkTemplate = {
  title: "plain code (fetch, no SDK)",
  peerPackages: [],
  packages: {},
  capture: "The tracer's `fetch` instrumentation records every call the agent makes to an OpenAI-compatible (or Anthropic) API as an LLM-call span of the rollout, with nothing to add to the agent.",
  agent: `/**
 * The agent: plain code calling an OpenAI-compatible chat-completions API with fetch. It reads its
 * system prompt with ctx.prompt("system") and its model with ctx.llm(), so the trainer can hand it
 * a candidate prompt (APO, GEPA) or another model (RL) per rollout; returning a number makes it the
 * rollout's reward.
 */
import { agent } from "tracetrain";
import { rewardOf, type Ticket } from "./tickets.js";

interface Completion {
  choices?: Array<{ message?: { content?: string | null } }>;
}

export const triage = agent(
  async (task: Ticket, ctx) => {
    const llm = ctx.llm();
    const url = new URL("chat/completions", llm.baseUrl.endsWith("/") ? llm.baseUrl : \`\${llm.baseUrl}/\`);
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: \`Bearer \${llm.apiKey ?? process.env.OPENAI_API_KEY ?? "none"}\` },
      body: JSON.stringify({
        model: llm.model,
        messages: [
          { role: "system", content: ctx.prompt("system").format({}) },
          { role: "user", content: task.ticket },
        ],
      }),
      signal: ctx.signal,
    });
    if (!response.ok) throw new Error(\`\${url.href} answered \${response.status}: \${(await response.text()).slice(0, 300)}\`);
    const completion = (await response.json()) as Completion;
    return rewardOf(task, completion.choices?.[0]?.message?.content);
  },
  { name: "triage" },
);
`,
};
