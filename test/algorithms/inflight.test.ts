/**
 * Optimizing the prompts of an agent that does not read them from ctx.prompt(): a copy of the
 * room-selector agent whose system prompt, request and tool description are constants. APO's
 * candidates reach it by in-flight substitution (the tracer replaces the seed's text in the
 * requests the openai SDK sends); the coverage report tells a component that never reached it.
 */
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { describe, expect, it } from "vitest";
import { agent } from "tracetrain";
import { coverageOfRun, coverageWarning, substitutionsResource } from "tracetrain/algorithms";
import { SUBSTITUTIONS_RESOURCE, type ResourcesMap, substitutionsOf } from "tracetrain/schemas";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { GEPA } from "../../src/algorithms/gepa/index.js";
import { withSubstitutions } from "../../src/algorithms/substitutions.js";
import { answerOf, SEED_PROMPTS } from "../../examples/room-selector/agent.js";
import { listRooms, loadRooms, type RoomTask } from "../../examples/room-selector/rooms.js";
import { type RigOptions, type RigRun, combinedResponder, runApo, runRoomAlgorithm } from "../support/room-apo.js";

const rooms = loadRooms();

// The agent's own constants: the seed resources hold the same texts.
const SYSTEM = SEED_PROMPTS.system.template;
const TOOL_DESCRIPTION = "Lists every meeting room with its capacity, equipment, accessibility, walking distance, and whether it is free for the requested slot.";
const TOOL: ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_rooms_and_availability",
    description: TOOL_DESCRIPTION,
    parameters: {
      type: "object",
      properties: { date: { type: "string" }, time: { type: "string" }, duration_min: { type: "integer" } },
      required: ["date", "time", "duration_min"],
    },
  },
};

function requestText(task: RoomTask): string {
  const r = task.task_input;
  return `Date: ${r.date}. Start: ${r.time}. Duration: ${r.duration_min} minutes. Attendees: ${r.attendees}. Equipment needed: ${r.needs.join(", ") || "none"}. Accessible room required: ${r.accessible_required}.`;
}

/** The room-selector agent with its prompts hard-coded: it never calls ctx.prompt(). */
const hardCodedRoomSelector = agent(
  async (task: RoomTask, ctx) => {
    const llm = ctx.llm("main");
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: "test", maxRetries: 0 });
    const messages: ChatCompletionMessageParam[] = [
      { role: "system", content: SYSTEM },
      { role: "user", content: requestText(task) },
    ];
    for (let turn = 0; turn < 4; turn++) {
      const completion = await client.chat.completions.create({ model: llm.model, messages, tools: [TOOL], temperature: 0 }, { signal: ctx.signal });
      const message = completion.choices[0]!.message;
      messages.push(message);
      if (!message.tool_calls?.length) return answerOf(message.content) === task.expected_choice ? 1 : 0;
      for (const call of message.tool_calls) {
        const args = JSON.parse(call.type === "function" ? call.function.arguments : "{}") as { date: string; time: string; duration_min: number };
        messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(listRooms(rooms, args)) });
      }
    }
    return 0;
  },
  { name: "room-selector-hard-coded" },
);

function hardCodedRig(llm: MockLlm): RigOptions {
  return {
    llm,
    agent: hardCodedRoomSelector,
    initialResources: { ...SEED_PROMPTS, tool: { kind: "prompt_template", template: TOOL_DESCRIPTION }, main: { kind: "llm", baseUrl: llm.baseUrl, model: "room-agent" } },
  };
}

async function runApoOnHardCodedAgent(options: { targets: string[]; runId: string; rounds: number }): Promise<RigRun> {
  const llm = await startMockLlm({ responder: combinedResponder() });
  try {
    return await runApo(
      { seed: 1, ...options, ...(options.rounds === 1 ? { beamWidth: 1, branchFactor: 1, gradientBatchSize: 4, evaluation: { maxTasks: 8 } } : {}) },
      hardCodedRig(llm),
    );
  } finally {
    await llm.close();
  }
}

describe("APO on an agent that hard-codes its prompts", () => {
  it("improves the hard-coded system prompt through in-flight substitution, and coverage shows how it got there", async () => {
    const { result, warnings, store } = await runApoOnHardCodedAgent({ targets: ["system"], runId: "inflight", rounds: 3 });
    expect(result.verdict).toBe("improved");
    expect(result.best.score).toBeGreaterThan(result.seed.score + 0.5);
    // The best candidate carries its change from the seed, for the agent's runs from now on.
    expect(substitutionsOf(result.best.resources)).toEqual([{ component: "system", seed: SYSTEM, text: (result.best.resources.system as { template: string }).template, engine: "mustache" }]);
    expect((await store.getResources(result.published!.resourcesId)).resources[SUBSTITUTIONS_RESOURCE]).toBeDefined();
    const [system] = result.coverage!;
    expect(system!.component).toBe("system");
    expect(system!.read).toEqual([]);
    expect(system!.substituted.length).toBeGreaterThan(0);
    expect(system!.neither).toEqual([]);
    expect(system!.neverMatched).toBe(false);
    expect(warnings.filter((w) => w.includes("never matched"))).toEqual([]);
  });

  it("reports a component the agent sends where nothing is substituted (a user message) as never matched", async () => {
    const { result, warnings } = await runApoOnHardCodedAgent({ targets: ["request"], runId: "blind", rounds: 1 });
    const [request] = result.coverage!;
    expect(request).toMatchObject({ component: "request", read: [], substituted: [], neverMatched: true });
    expect(request!.neither.length).toBeGreaterThan(0);
    expect(warnings.some((w) => /never matched: 'request'/.test(w))).toBe(true);
  });
});

describe("GEPA on an agent that hard-codes its prompts", () => {
  it("accepts system prompts that reach the agent in flight; coverage over the run's rollouts names the template it could not reach", async () => {
    const llm = await startMockLlm({ responder: combinedResponder() });
    try {
      const run = await runRoomAlgorithm((client) => new GEPA({ model: "mock-optimizer", client, seed: 1, runId: "gepa-inflight", minibatchSize: 3, paretoTasks: 12, maxRollouts: 100 }), hardCodedRig(llm));
      const { result } = run;
      // The seed's texts are in the agent's calls (the tool's description among them), so GEPA finds all three templates there.
      expect(result.components.evolved).toEqual(["system", "request", "tool"]);
      expect(result.best.candidateId).not.toBe("seed");
      expect(result.best.paretoScore).toBeGreaterThan(result.seed.paretoScore);
      expect(substitutionsOf(result.best.resources).map((s) => s.component)).toContain("system");
      // The result's coverage is the run's: the request template (a user message) never reached the agent, and GEPA warned.
      const coverage = result.coverage!;
      expect(coverage).toEqual(await coverageOfRun(run.store, "gepa-inflight", ["system", "request", "tool"]));
      expect(coverage.map((c) => [c.component, c.substituted.length > 0, c.neverMatched])).toEqual([
        ["system", true, false],
        ["request", false, true],
        ["tool", coverage[2]!.substituted.length > 0, false],
      ]);
      expect(coverageWarning(coverage)).toMatch(/^prompt component\(s\) never matched: 'request' \(\d+ rollout\(s\)\)/);
      expect(run.warnings.some((w) => w.startsWith("GEPA run gepa-inflight: prompt component(s) never matched: 'request'"))).toBe(true);
    } finally {
      await llm.close();
    }
  });
});

describe("substitutions of a candidate", () => {
  const seed: ResourcesMap = {
    system: { kind: "prompt_template", template: "Seed system.", engine: "mustache" },
    tool: { kind: "prompt_template", template: "Seed tool.", engine: "mustache" },
    model: { kind: "json", value: 1 },
  };
  const edit = (resources: ResourcesMap, name: string, template: string): ResourcesMap => ({ ...resources, [name]: { kind: "prompt_template", template, engine: "mustache" } });

  it("lists only the templates whose text changed, with the seed's text", () => {
    expect(substitutionsResource(seed, seed)).toBeUndefined();
    expect(substitutionsResource(seed, edit(seed, "tool", "New tool."))).toEqual({ kind: "json", value: [{ component: "tool", seed: "Seed tool.", text: "New tool.", engine: "mustache" }] });
  });

  it("keeps every change from the seed down a lineage, and drops one edited back to the seed's text", () => {
    const child = withSubstitutions(seed, edit(seed, "system", "Child system."));
    const grandchild = withSubstitutions(child, edit(child, "tool", "Grandchild tool."));
    expect(substitutionsOf(grandchild)).toEqual([
      { component: "system", seed: "Seed system.", text: "Child system.", engine: "mustache" },
      { component: "tool", seed: "Seed tool.", text: "Grandchild tool.", engine: "mustache" },
    ]);
    const reverted = withSubstitutions(grandchild, edit(grandchild, "system", "Seed system."));
    expect(substitutionsOf(reverted).map((s) => s.component)).toEqual(["tool"]);
  });
});
