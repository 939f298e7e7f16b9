/**
 * In-flight substitution in the tracer: an agent that hard-codes its system prompt and tool
 * description (it never calls ctx.prompt()) runs under a Runner with a candidate snapshot, through
 * the real openai SDK, LangChain's ChatOpenAI, the OpenAI Agents SDK and the AI SDK, against the
 * mock LLM over loopback: the LLM must receive the candidate's texts, and the span must say so.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { Agent as SdkAgent, run as runSdkAgent, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool as sdkTool } from "@openai/agents";
import { generateText, tool as aiTool } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Runner, Tracer, agent, type Span } from "tracetrain";
import { Attr, SpanTypes } from "tracetrain/instrumentations";
import { MemoryStore } from "tracetrain/store";
import { substitutionsResource } from "tracetrain/algorithms";
import { SUBSTITUTIONS_RESOURCE, type ResourcesMap, type ResourcesMapInput } from "tracetrain/schemas";
import { type MockLlm, type RecordedRequest, startMockLlm } from "tracetrain/testing";
import { Substituter } from "../../src/tracer/substitute.js";

const SYSTEM = "You are a weather assistant. Call the weather tool, then answer in one sentence.";
const TOOL_DESCRIPTION = "Today's weather in a city.";
const CANDIDATE_SYSTEM = "You are a careful weather assistant. Always call the weather tool first; answer with the temperature only.";
const CANDIDATE_TOOL = "Returns today's forecast (temperature in Celsius) for the named city.";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function seedResources(mock: MockLlm): ResourcesMap {
  return {
    system: { kind: "prompt_template", template: SYSTEM, engine: "mustache" },
    weather_tool: { kind: "prompt_template", template: TOOL_DESCRIPTION, engine: "mustache" },
    main: { kind: "llm", baseUrl: mock.baseUrl, model: "mock-model" },
  };
}

/** A candidate that changes both texts, with the substitutions APO and GEPA would publish. */
function candidateResources(mock: MockLlm, system = CANDIDATE_SYSTEM): ResourcesMapInput {
  const seed = seedResources(mock);
  const candidate: ResourcesMap = {
    ...seed,
    system: { kind: "prompt_template", template: system, engine: "mustache" },
    weather_tool: { kind: "prompt_template", template: CANDIDATE_TOOL, engine: "mustache" },
  };
  return { ...candidate, [SUBSTITUTIONS_RESOURCE]: substitutionsResource(seed, candidate)! };
}

type Variant = (baseUrl: string, question: string) => Promise<unknown>;

/** The same hard-coded agent written against each client. None of them calls ctx.prompt(). */
const variants: Record<string, Variant> = {
  "openai chat completions": (baseURL, question) =>
    new OpenAI({ baseURL, apiKey: "test", maxRetries: 0 }).chat.completions.create({
      model: "mock-model",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: question },
      ],
      tools: [{ type: "function", function: { name: "get_weather", description: TOOL_DESCRIPTION, parameters: { type: "object", properties: { city: { type: "string" } } } } }],
    }),
  "openai responses": (baseURL, question) =>
    new OpenAI({ baseURL, apiKey: "test", maxRetries: 0 }).responses.create({
      model: "mock-model",
      instructions: SYSTEM,
      input: question,
      tools: [{ type: "function", name: "get_weather", description: TOOL_DESCRIPTION, strict: false, parameters: { type: "object", properties: { city: { type: "string" } } } }],
    }),
  "LangChain ChatOpenAI": (baseURL, question) =>
    new ChatOpenAI({ model: "mock-model", apiKey: "test", maxRetries: 0, configuration: { baseURL } })
      .bindTools([{ type: "function", function: { name: "get_weather", description: TOOL_DESCRIPTION, parameters: { type: "object", properties: { city: { type: "string" } } } } }])
      .invoke([new SystemMessage(SYSTEM), new HumanMessage(question)]),
  "OpenAI Agents SDK (chat completions)": (baseURL, question) => runAgentsSdk(baseURL, question, "chat_completions"),
  "OpenAI Agents SDK (responses)": (baseURL, question) => runAgentsSdk(baseURL, question, "responses"),
  "fetch with a Request object": async (baseURL, question) => {
    const body = { model: "mock-model", messages: [{ role: "system", content: SYSTEM }, { role: "user", content: question }], tools: [{ type: "function", function: { name: "get_weather", description: TOOL_DESCRIPTION } }] };
    const text = JSON.stringify(body);
    const request = new Request(`${baseURL}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) }, body: text });
    const response = await fetch(request);
    expect(response.status).toBe(200);
    return response.json();
  },
  "AI SDK (fetch)": (baseURL, question) =>
    generateText({
      model: createOpenAI({ baseURL, apiKey: "test" }).chat("mock-model"),
      system: SYSTEM,
      prompt: question,
      tools: { get_weather: aiTool({ description: TOOL_DESCRIPTION, inputSchema: z.object({ city: z.string() }) }) },
      maxRetries: 0,
    }),
};

async function runAgentsSdk(baseURL: string, question: string, api: "chat_completions" | "responses"): Promise<unknown> {
  setDefaultOpenAIClient(new OpenAI({ baseURL, apiKey: "test", maxRetries: 0 }));
  setOpenAIAPI(api);
  const weather = sdkTool({ name: "get_weather", description: TOOL_DESCRIPTION, parameters: z.object({ city: z.string() }), execute: async ({ city }) => `sunny in ${city}` });
  return runSdkAgent(new SdkAgent({ name: "weather", instructions: SYSTEM, tools: [weather], model: "mock-model" }), question, { maxTurns: 1 });
}

/** The system text and tool description a request carried, whatever its API. */
function sentTexts(request: RecordedRequest): { system: string[]; tools: string[] } {
  const body = request.body as Record<string, unknown>;
  const system: string[] = [];
  if (typeof body.instructions === "string") system.push(body.instructions);
  for (const message of [...((body.messages as unknown[]) ?? []), ...(Array.isArray(body.input) ? body.input : [])] as Array<Record<string, unknown>>) {
    if (message.role !== "system" && message.role !== "developer") continue;
    if (typeof message.content === "string") system.push(message.content);
    else for (const part of message.content as Array<{ text: string }>) system.push(part.text);
  }
  const tools = ((body.tools as Array<Record<string, unknown>>) ?? []).map((t) => String((t.function as Record<string, unknown> | undefined)?.description ?? t.description));
  return { system, tools };
}

let mock: MockLlm;
let store: MemoryStore;
let runner: Runner<{ question: string; variant: string }>;
const tracer = new Tracer({ logger: quiet });

beforeAll(async () => {
  mock = await startMockLlm();
  store = new MemoryStore({ watchdogIntervalMs: false });
  setTracingDisabled(true);
  const results = await tracer.instrument({ langchain: false, agents: false, ai: false });
  expect(results.openai.installed && results.fetch.installed).toBe(true);
  const hardCoded = agent(
    async (task: { question: string; variant: string }, ctx) => {
      await variants[task.variant]!(ctx.llm("main").baseUrl, task.question);
    },
    { name: "hard-coded" },
  );
  runner = new Runner({ store, agent: hardCoded, tracer, logger: quiet });
});

afterAll(async () => {
  tracer.uninstrument();
  await store.close();
  await mock.close();
});

/** Runs one rollout and returns the requests the mock LLM got for it and its LLM spans. */
async function runOnce(variant: string, resources: ResourcesMapInput, question = `weather in Paris? (${variant})`): Promise<{ requests: RecordedRequest[]; llm: Span[]; root: Span }> {
  const step = await runner.step({ question, variant }, { resources });
  const requests = mock.requests.filter((r) => JSON.stringify(r.body).includes(question));
  const spans = step.spans as Span[];
  return { requests, llm: spans.filter((s) => s.attributes[Attr.spanType] === SpanTypes.llm), root: spans.find((s) => s.parentId === null)! };
}

describe("an agent that hard-codes its prompts, run with a candidate snapshot", () => {
  for (const variant of Object.keys(variants)) {
    it(`${variant}: the LLM receives the candidate's system text and tool description, and the span records the substitution`, async () => {
      const { requests, llm } = await runOnce(variant, candidateResources(mock));
      expect(requests.length).toBeGreaterThan(0);
      const sent = sentTexts(requests[0]!);
      expect(sent.system).toEqual([CANDIDATE_SYSTEM]);
      expect(sent.tools).toEqual([CANDIDATE_TOOL]);
      expect(llm).toHaveLength(1);
      expect(new Set(llm[0]!.attributes[Attr.substituted] as string[])).toEqual(new Set(["system", "weather_tool"]));
      // The span records what was sent.
      expect(JSON.stringify(llm[0]!.attributes[Attr.inputMessages] ?? llm[0]!.attributes[Attr.systemInstructions])).toContain("careful weather assistant");
    });
  }

  it("with the seed snapshot, the request goes out unchanged and nothing is recorded as substituted", async () => {
    const { requests, llm } = await runOnce("openai chat completions", seedResources(mock), "weather in Oslo, seed?");
    expect(sentTexts(requests[0]!)).toEqual({ system: [SYSTEM], tools: [TOOL_DESCRIPTION] });
    expect(llm[0]!.attributes[Attr.substituted]).toBeUndefined();
  });

  it("concurrent rollouts with different snapshots each send their own candidate's text", async () => {
    const other = "You are a blunt weather assistant. Reply with one word.";
    const questions = ["weather in Rome, candidate A?", "weather in Lima, candidate B?", "weather in Kyiv, seed?"];
    const resources = [candidateResources(mock), candidateResources(mock, other), seedResources(mock)];
    await Promise.all(questions.map((question, i) => runner.step({ question, variant: i === 1 ? "AI SDK (fetch)" : "openai chat completions" }, { resources: resources[i]! })));
    const systemFor = (question: string) => sentTexts(mock.requests.find((r) => JSON.stringify(r.body).includes(question))!).system;
    expect(systemFor(questions[0]!)).toEqual([CANDIDATE_SYSTEM]);
    expect(systemFor(questions[1]!)).toEqual([other]);
    expect(systemFor(questions[2]!)).toEqual([SYSTEM]);
  });

  it("records the prompts an agent reads through ctx.prompt() on the rollout's root span, by the name resolved", async () => {
    const reader = agent(
      async (_task: string, ctx) => {
        ctx.prompt("system").format();
        ctx.prompt("system").format();
        ctx.prompt().format(); // the only template there is
      },
      { name: "reader" },
    );
    const readingRunner = new Runner({ store, agent: reader, tracer, logger: quiet });
    const both = await readingRunner.step("t", { resources: seedResources(mock) }).catch((error: unknown) => error);
    // Two templates: ctx.prompt() without a name is ambiguous, and says so.
    expect(String(both)).toMatch(/several prompt_template resources \(system, weather_tool\)/);
    const step = await readingRunner.step("t", { resources: { system: seedResources(mock).system! } });
    const root = step.spans.find((s) => s.parentId === null)!;
    expect(root.attributes?.[Attr.promptsRead]).toEqual(["system"]);
  });

  it("fails a rollout whose snapshot holds malformed substitutions as an infrastructure error naming the field", async () => {
    const resources = { ...seedResources(mock), [SUBSTITUTIONS_RESOURCE]: { kind: "json" as const, value: [{ component: "system", seed: SYSTEM }] } };
    const error = await runner.step({ question: "weather in Bern?", variant: "openai chat completions" }, { resources }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/could not run/);
    const [failed] = (await store.queryRollouts({ limit: 1000 })).items.filter((r) => JSON.stringify(r.input).includes("weather in Bern?"));
    expect(failed!.status).toBe("failed");
    expect(failed!.attempts.at(-1)!.error).toMatchObject({ kind: "infra_error", message: expect.stringMatching(/tracetrain\.substitutions.*\[0\]\.text: Invalid input: expected string/) });
    expect(mock.requests.some((r) => JSON.stringify(r.body).includes("weather in Bern?"))).toBe(false);
  });
});

describe("Substituter", () => {
  const substituter = new Substituter([
    { component: "system", seed: "Be brief.", text: "Be brief and exact.", engine: "mustache" },
    { component: "greeting", seed: "Hello {{name}}, today is {{day}}. Bye {{name}}.", text: "Hi {{name}} ({{day}})", engine: "mustache" },
    { component: "fmt", seed: "Answer as JSON like {{\"a\": {n}}}", text: "Reply with JSON {{\"a\": {n}, \"ok\": true}}", engine: "fstring" },
  ]);

  it("replaces whole texts (trimmed) only, never the caller's objects", () => {
    const body = { model: "m", messages: [{ role: "system", content: "  Be brief.\n" }, { role: "user", content: "Be brief." }, { role: "system", content: "Be brief. And more." }] };
    const frozen = structuredClone(body);
    const result = substituter.substituteBody(body)!;
    expect(body).toEqual(frozen);
    expect(result.substituted).toEqual(["system"]);
    expect((result.body.messages as Array<{ content: string }>).map((m) => m.content)).toEqual(["Be brief and exact.", "Be brief.", "Be brief. And more."]);
  });

  it("matches a template with placeholders as a pattern and fills the candidate with what they matched", () => {
    const result = substituter.substituteBody({ messages: [{ role: "developer", content: [{ type: "text", text: "Hello Ada, today is Monday. Bye Ada." }] }] })!;
    expect(result.body.messages).toEqual([{ role: "developer", content: [{ type: "text", text: "Hi Ada (Monday)" }] }]);
    // A repeated placeholder must have the same value both times.
    expect(substituter.substituteBody({ messages: [{ role: "system", content: "Hello Ada, today is Monday. Bye Bob." }] })).toBeUndefined();
    // fstring literal braces.
    expect(substituter.replaceText('Answer as JSON like {"a": 3}')?.text).toBe('Reply with JSON {"a": 3, "ok": true}');
  });

  it("covers Responses instructions and input, Anthropic system and tool descriptions", () => {
    const responses = substituter.substituteBody({ instructions: "Be brief.", input: [{ role: "system", content: [{ type: "input_text", text: "Be brief." }] }], tools: [{ type: "function", name: "f", description: "Be brief." }] })!;
    expect(responses.body).toEqual({ instructions: "Be brief and exact.", input: [{ role: "system", content: [{ type: "input_text", text: "Be brief and exact." }] }], tools: [{ type: "function", name: "f", description: "Be brief and exact." }] });
    const anthropic = substituter.substituteBody({ system: [{ type: "text", text: "Be brief." }], messages: [] })!;
    expect(anthropic.body.system).toEqual([{ type: "text", text: "Be brief and exact." }]);
  });

  it("matches each placeholder up to the next literal piece, the last piece ending the text", () => {
    const pieces = new Substituter([{ component: "c", seed: "Ask {{who}} about {{what}}. Then stop.", text: "{{what}} / {{who}}", engine: "mustache" }]);
    expect(pieces.replaceText("Ask Ada about trains about boats. Then stop.")?.text).toBe("trains about boats / Ada");
    expect(pieces.replaceText("Ask Ada about trains. Then stop. Then stop.")?.text).toBe("trains. Then stop / Ada");
    // A middle piece that only appears inside the last one is no match; nor is a text that does not end with the last piece.
    expect(new Substituter([{ component: "c", seed: "{{a}} end{{b}}end", text: "x", engine: "mustache" }]).replaceText("1 end")).toBeUndefined();
    expect(pieces.replaceText("Ask Ada about trains. Then go.")).toBeUndefined();
    expect(pieces.replaceText("Please ask Ada about trains. Then stop.")).toBeUndefined();
  });

  it("leaves a seed unmatched when the candidate has a placeholder the seed lacks", () => {
    const invented = new Substituter([{ component: "c", seed: "Hello {{name}}.", text: "Hello {{name}} on {{weekday}}.", engine: "mustache" }]);
    expect(invented.replaceText("Hello Ada.")).toBeUndefined();
  });
});
