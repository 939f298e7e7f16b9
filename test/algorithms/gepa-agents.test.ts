/**
 * Selective optimization: in a two-agent system traced for real (Trainer, runners, openai SDK
 * against the mock LLM over HTTP), GEPA with `agents` evolves only the selected agent's prompt,
 * shows the reflection only that agent's calls, and reports the other agent's prompt as fixed.
 */
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { agent, emitReward, GEPA, type GEPAOptions, Trainer, withAgent } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type Responder, startMockLlm } from "tracetrain/testing";

const PLANNER = "You are the planner. Break the goal into numbered steps.";
const WRITER = "You are the writer. Turn the plan into one short paragraph.";

/** The two agents' model, and a reflection model that appends a sentence to the template it is shown. */
const responder: Responder = ({ body, lastUserText }) => {
  if (lastUserText.includes("</template>")) {
    const template = /"""\n([\s\S]*?)\n"""/.exec(lastUserText)?.[1] ?? "";
    return { text: `<template>\n${template} Keep it under ${typeof body.seed === "number" ? body.seed % 90 + 10 : 50} words.\n</template>` };
  }
  const system = String((body.messages as Array<{ content?: unknown }>)[0]?.content ?? "");
  return { text: system.startsWith("You are the planner") ? "1. Draft. 2. Review." : `A paragraph (${system.length} characters of instructions).` };
};

const team = agent(
  async (task: { goal: string; id: number }, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
    const ask = async (system: string, user: string) => (await client.chat.completions.create({ model: llm.model, messages: [{ role: "system", content: system }, { role: "user", content: user }] })).choices[0]!.message.content ?? "";
    const plan = await withAgent("planner", () => ask(ctx.prompt("planner_system").format({}), task.goal));
    const text = await withAgent("writer", () => ask(ctx.prompt("writer_system").format({}), plan));
    // Longer writer instructions score higher on odd tasks: something for the gate to see.
    const reward = task.id % 2 === 1 && text.length > 48 ? 1 : 0;
    emitReward(reward, { feedback: reward === 1 ? "fine" : "The paragraph is thin: writer_system asks for too little." });
  },
  { name: "team" },
);

async function runTeam(options: Partial<GEPAOptions>) {
  const llm = await startMockLlm({ responder });
  const warnings: string[] = [];
  const store = new MemoryStore();
  const trainer = new Trainer({
    store,
    runners: 4,
    progress: false,
    handleSignals: false,
    logger: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) },
    initialResources: {
      planner_system: { kind: "prompt_template", template: PLANNER },
      writer_system: { kind: "prompt_template", template: WRITER },
      main: { kind: "llm", baseUrl: llm.baseUrl, model: "team-model" },
    },
    algorithm: new GEPA({ client: new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 }), model: "mock-optimizer", maxProposals: 3, seed: 1, ...options }),
  });
  try {
    const tasks = Array.from({ length: 12 }, (_, id) => ({ goal: `Goal ${id}`, id }));
    const { result } = await trainer.fit(team, { train: tasks.slice(0, 4), val: tasks.slice(4, 8), test: tasks.slice(8) });
    return { result, warnings, store, requests: llm.requests };
  } finally {
    await trainer.close();
    await llm.close();
  }
}

describe("GEPA with agents", () => {
  it("evolves only the selected agent's prompt and reports the other agent's as fixed", async () => {
    const { result, warnings, store, requests } = await runTeam({ agents: ["writer"] });
    expect(result.components).toEqual({ evolved: ["writer_system"], fixed: [{ name: "planner_system", why: "used only by agent planner, not selected" }] });
    expect(warnings.some((w) => w.includes("not evolved: planner_system (used only by agent planner, not selected)"))).toBe(true);
    const reflected = result.proposals.filter((p) => p.kind === "reflection" && p.status !== "skipped");
    expect(reflected.length).toBeGreaterThan(0);
    for (const p of reflected) expect(p.component).toBe("writer_system");
    // The reflection read the writer's calls only.
    const reflections = requests.filter((r) => JSON.stringify(r.body ?? {}).includes("</template>"));
    expect(reflections.length).toBeGreaterThan(0);
    for (const r of reflections) expect(JSON.stringify(r.body)).not.toContain("Break the goal into numbered steps");
    // Every candidate keeps the planner's prompt as it was.
    for (const entry of result.pool) expect((await store.getResources(entry.resourcesId)).resources.planner_system).toMatchObject({ template: PLANNER });
  });

  it("rewrites the component the evaluator's feedback names with componentChoice 'blame', in turn without it", async () => {
    const blamed = await runTeam({ componentChoice: "blame" });
    expect(blamed.result.components.evolved).toEqual(["planner_system", "writer_system"]);
    const chosen = blamed.result.proposals.filter((p) => p.kind === "reflection");
    expect(chosen.length).toBeGreaterThan(1);
    for (const p of chosen) expect(p).toMatchObject({ component: "writer_system", chosenBy: "blame" });
    const turns = await runTeam({});
    expect(turns.result.proposals.filter((p) => p.kind === "reflection").map((p) => [p.component, p.chosenBy])).toContainEqual(["planner_system", "round-robin"]);
  });
});
