/**
 * What the reference policy learns beyond copying, through the whole loop: openai-SDK agents →
 * tracetrain's gateway → the reference server, trained by the RL algorithm. The answers of the
 * first task appear in no message (a hidden mapping from an animal named somewhere in a natural
 * sentence to its colour); the second asks the policy to pick the right one of three tools from the
 * words of the request.
 */
import OpenAI from "openai";
import type { ChatCompletionTool } from "openai/resources/chat/completions";
import { describe, expect, it } from "vitest";
import { ReferenceBackend } from "tracetrain/rl";
import { MemoryStore } from "tracetrain/store";
import { RL, Trainer, agent } from "tracetrain";
import { SeededRandom } from "../../src/util/random.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function fit<T>(backend: ReferenceBackend, run: ReturnType<typeof agent<T>>, train: T[], val: T[], steps: number) {
  const store = new MemoryStore();
  const trainer = new Trainer({
    store,
    runners: 32,
    progress: false,
    logger: quiet,
    handleSignals: false,
    algorithm: new RL({ backend, steps, tasksPerStep: 8, groupSize: 8, evalEvery: steps, advantage: { scaleByStd: true }, runId: "policy", seed: 5 }),
  });
  try {
    return (await trainer.fit(run, { train, val })).result;
  } finally {
    await trainer.close();
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A hidden mapping: the animal's lucky colour is never said
// ---------------------------------------------------------------------------------------------

const LUCKY: Record<string, string> = { cat: "red", dog: "blue", horse: "green", rabbit: "yellow", parrot: "purple", turtle: "orange" };
const ANIMALS = Object.keys(LUCKY);
const ADJECTIVES = ["small", "big", "friendly", "noisy", "young", "sleepy", "tiny", "lazy"];
const OPENINGS = ["Hi!", "Hello there.", "Good morning!", "Hey, quick question:", "Sorry to bother you,"];
const CLOSINGS = ["?", ", please?", " today?", ", if you know?", " by any chance?"];
const PHRASINGS: Array<(animal: string, random: SeededRandom) => string> = [
  (a, r) => `${pick(OPENINGS, r)} What is the lucky colour of a ${a}${pick(CLOSINGS, r)}`,
  (a, r) => `${pick(OPENINGS, r)} Which lucky colour goes with a ${a}${pick(CLOSINGS, r)}`,
  (a, r) => `${pick(OPENINGS, r)} My friend has a ${a}. What is its lucky colour${pick(CLOSINGS, r)}`,
];

function pick<T>(items: readonly T[], random: SeededRandom): T {
  return items[random.below(items.length)]!;
}

interface LuckyTask {
  animal: string;
  request: string;
}

function luckyTasks(count: number, seed: number): LuckyTask[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => {
    const animal = pick(ANIMALS, random);
    return { animal, request: pick(PHRASINGS, random)(`${pick(ADJECTIVES, random)} ${animal}`, random) };
  });
}

const luckyColour = agent(
  async (task: LuckyTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? "none", maxRetries: 0 });
    const reply = await client.chat.completions.create(
      { model: llm.model, messages: [{ role: "system", content: "Answer with one colour." }, { role: "user", content: task.request }] },
      { signal: ctx.signal },
    );
    return reply.choices[0]?.message.content === LUCKY[task.animal] ? 1 : 0;
  },
  { name: "lucky-colour", module: import.meta.url },
);

// ---------------------------------------------------------------------------------------------
// Choosing among three tools
// ---------------------------------------------------------------------------------------------

const CITIES = ["Paris", "Tokyo", "Lima"];
const cityParameter = { type: "object", properties: { city: { type: "string", enum: CITIES } }, required: ["city"] };
const TOOLS: ChatCompletionTool[] = ["weather", "clock", "news"].map((name) => ({ type: "function", function: { name, parameters: cityParameter } }));
const REQUESTS: Record<string, Array<(city: string) => string>> = {
  weather: [(c) => `Will it rain in ${c} tomorrow?`, (c) => `How warm is it in ${c} right now?`, (c) => `Should I pack an umbrella for ${c}?`],
  clock: [(c) => `What time is it in ${c}?`, (c) => `Is it already evening in ${c}?`, (c) => `Which hour is it over in ${c} at the moment?`],
  news: [(c) => `What are the headlines in ${c} today?`, (c) => `Anything happening in ${c} that I should read about?`, (c) => `Give me the latest stories from ${c}.`],
};

interface ToolTask {
  tool: string;
  city: string;
  request: string;
}

function toolTasks(count: number, seed: number): ToolTask[] {
  const random = new SeededRandom(seed);
  const tools = Object.keys(REQUESTS);
  return Array.from({ length: count }, () => {
    const tool = tools[random.below(tools.length)]!;
    const city = CITIES[random.below(CITIES.length)]!;
    const phrasings = REQUESTS[tool]!;
    return { tool, city, request: phrasings[random.below(phrasings.length)]!(city) };
  });
}

/** Half for the right tool, half for the right city; answering in text instead scores 0. */
const assistant = agent(
  async (task: ToolTask, ctx) => {
    const llm = ctx.llm();
    const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey ?? "none", maxRetries: 0 });
    const reply = await client.chat.completions.create(
      { model: llm.model, messages: [{ role: "system", content: "Use a tool to help." }, { role: "user", content: task.request }], tools: TOOLS },
      { signal: ctx.signal },
    );
    const call = reply.choices[0]?.message.tool_calls?.[0];
    if (call === undefined || call.type !== "function") return 0;
    const city = (JSON.parse(call.function.arguments) as { city?: unknown }).city;
    return (call.function.name === task.tool ? 0.5 : 0) + (city === task.city ? 0.5 : 0);
  },
  { name: "three-tools", module: import.meta.url },
);

describe("the reference policy learns more than copying", () => {
  it("learns a mapping whose answers appear in no message, from natural sentences with varying words", async () => {
    const backend = await ReferenceBackend.start({ actions: Object.values(LUCKY), seed: 5 });
    try {
      const result = await fit(backend, luckyColour, luckyTasks(96, 1), luckyTasks(48, 2), 60);
      process.stderr.write(`lucky colours: validation ${result.initialValReward} → ${result.finalValReward}\n`);
      expect(result.initialValReward).toBeLessThan(0.35);
      expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
    } finally {
      await backend.close();
    }
  }, 120_000);

  it("chooses the right one of three tools from the words of the request, and its argument", async () => {
    const backend = await ReferenceBackend.start({ actions: ["I cannot help with that."], seed: 5 });
    try {
      const result = await fit(backend, assistant, toolTasks(96, 3), toolTasks(48, 4), 40);
      process.stderr.write(`three tools: validation ${result.initialValReward} → ${result.finalValReward}\n`);
      expect(result.initialValReward).toBeLessThan(0.35);
      expect(result.finalValReward).toBeGreaterThanOrEqual(0.9);
      // One call per rollout: every sample is one whole rollout.
      expect(result.steps.every((s) => s.samplesPerRollout === 1)).toBe(true);
    } finally {
      await backend.close();
    }
  }, 120_000);
});
