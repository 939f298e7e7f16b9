/**
 * An application may load copies of a framework the instrumentations did not patch: a second
 * version nested under a dependency, a bundled copy, a CommonJS build loaded after `instrument()`.
 * These tests make real second copies (the installed package's files under another path: a
 * separate module instance, with classes of its own) and check that every copy the application
 * can be found to load is patched, and that a call made by one that was not is still recorded
 * exactly once — by the layer below — and named in the trace report.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Attr, createOpenAIInstrumentation } from "tracetrain/instrumentations";
import { Trainer, Tracer, ValidationError, agent, type SpanInput, type TraceReport } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { type MockLlm, startMockLlm } from "tracetrain/testing";
import { copyPackage, importFile, installedRoot, removeScratch, requireFile, scratchFolder, versionOf } from "./package-copy.js";

type OpenAIModule = { default: typeof OpenAI };
type RunnablesModule = { RunnableLambda: { from(fn: (input: string) => Promise<string>): { invoke(input: string, config?: object): Promise<string> } } };

const quietLogger = { debug() {}, info() {}, warn: vi.fn(), error() {} };
const sink = { addSpans: async (_spans: SpanInput[]) => undefined };
const layerOf = (spans: SpanInput[]) => spans.filter((s) => s.attributes?.[Attr.spanType] === "llm").map((s) => s.attributes?.[Attr.layer]);
const openaiVersion = versionOf(installedRoot("openai"));

let mock: MockLlm;
let scratch: string;
let n = 0;

beforeAll(async () => {
  mock = await startMockLlm();
  scratch = scratchFolder("tracer-copies");
});
afterAll(async () => {
  await mock.close();
  removeScratch(scratch);
});

function clientOf(module: OpenAIModule): OpenAI {
  return new module.default({ baseURL: mock.baseUrl, apiKey: "test", maxRetries: 0 });
}

const ask = (client: OpenAI, text: string) => client.chat.completions.create({ model: "m", messages: [{ role: "user", content: text }] });

/** Runs `fn` as a rollout; returns the report, the layers that recorded its LLM calls, and how many requests the mock served. */
async function traced(tracer: Tracer, fn: () => Promise<unknown>): Promise<{ report: TraceReport; layers: unknown[]; served: number }> {
  const before = mock.requests.length;
  const outcome = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, fn);
  if (!outcome.ok) throw outcome.error;
  return { report: outcome.report, layers: layerOf(outcome.spans), served: mock.requests.length - before };
}

describe("openai: a copy tracetrain did not patch", () => {
  let tracer: Tracer;
  let other: OpenAIModule;
  let own: OpenAIModule;

  beforeAll(async () => {
    tracer = new Tracer({ sink, logger: quietLogger });
    const results = await tracer.instrument({ langchain: false, agents: false });
    expect(results.openai).toEqual({ installed: true });
    // Not on any path tracetrain looks at, as a bundled copy would not be: imported after instrument().
    other = await importFile<OpenAIModule>(join(copyPackage("openai", join(scratch, "bundled")), "index.mjs"));
    own = (await import("openai")) as unknown as OpenAIModule;
  });
  afterAll(() => tracer.uninstrument());

  it("is recorded once, by the fetch layer, and the report names the copy's version", async () => {
    const unpatched = clientOf(other);
    const patched = clientOf(own);
    const { report, layers, served } = await traced(tracer, async () => {
      await ask(unpatched, "one");
      await ask(patched, "two");
      await ask(unpatched, "three");
    });
    expect(served).toBe(3);
    expect(report.llmCalls).toBe(3);
    expect(layers.sort()).toEqual(["fetch", "fetch", "openai"]);
    expect(report.captureIssues).toEqual([
      expect.objectContaining({ instrumentation: "openai", code: "unpatched_copy", package: "openai", version: openaiVersion, count: 2, message: expect.stringMatching(/did not patch.*fetch layer recorded it/) }),
    ]);
    expect(report.warnings).toEqual([expect.stringMatching(new RegExp(`^rollout ro-${n}: an LLM call was made by the openai ${openaiVersion.replace(/\./g, "\\.")} SDK.*\\(2 times\\)$`))]);
  });

  it("says nothing when every call came through a patched copy", async () => {
    const { report, layers } = await traced(tracer, () => ask(clientOf(own), "patched"));
    expect(layers).toEqual(["openai"]);
    expect(report.captureIssues).toEqual([]);
    expect(report.warnings).toEqual([]);
  });

  it("is patched, and recorded by the openai layer, when handed to an instrumentation of its own in `extra`", async () => {
    const second = new Tracer({ sink, logger: quietLogger });
    const results = await second.instrument({ openai: false, fetch: false, langchain: false, agents: false, extra: [createOpenAIInstrumentation({ module: other, name: "openai-bundled" })] });
    expect(results["openai-bundled"]).toEqual({ installed: true });
    expect(results.openai).toEqual({ installed: false, reason: "disabled" });
    try {
      const { report, layers, served } = await traced(tracer, () => ask(clientOf(other), "now patched"));
      expect(served).toBe(1);
      expect(layers).toEqual(["openai"]);
      expect(report.captureIssues).toEqual([]);
    } finally {
      second.uninstrument();
    }
    const { layers } = await traced(tracer, () => ask(clientOf(other), "unpatched again"));
    expect(layers).toEqual(["fetch"]);
  });

  it("refuses an extra instrumentation that takes a built-in's name or another's", async () => {
    const third = new Tracer({ sink, logger: quietLogger });
    await expect(third.instrument({ extra: [createOpenAIInstrumentation({ module: other })] })).rejects.toThrow(ValidationError);
    await expect(third.instrument({ extra: [createOpenAIInstrumentation({ module: other })] })).rejects.toThrow(/extra\[0\]\.name: 'openai' is the name of a built-in instrumentation/);
    const twins = [createOpenAIInstrumentation({ module: other, name: "twin" }), createOpenAIInstrumentation({ module: other, name: "twin" })];
    await expect(third.instrument({ extra: twins })).rejects.toThrow(/extra\[1\]\.name: 'twin' is the name of another instrumentation in extra/);
    await expect(third.instrument({ extra: [{ name: "x" }] as never })).rejects.toThrow(/extra\[0\]: expected an Instrumentation/);
  });
});

describe("openai: the copies an application loads are found and patched", () => {
  it("patches a CommonJS copy loaded before instrument(), wherever it is installed", async () => {
    const root = copyPackage("openai", join(scratch, "required"));
    const required = { default: requireFile<{ default: typeof OpenAI }>(join(root, "index.js")).default };
    const tracer = new Tracer({ sink, logger: quietLogger });
    await tracer.instrument({ langchain: false, agents: false });
    try {
      const { report, layers } = await traced(tracer, () => ask(clientOf(required), "cjs"));
      expect(layers).toEqual(["openai"]);
      expect(report.captureIssues).toEqual([]);
    } finally {
      tracer.uninstrument();
    }
  });

  it("patches the copy a framework brings (found from the application's folder), before the framework loads it", async () => {
    // The application's folder has a dependent of openai with its own nested copy, as npm lays out
    // a dependency that needs another major than the application's.
    const app = join(scratch, "app");
    const dependent = join(app, "node_modules", "@langchain", "openai");
    mkdirSync(dependent, { recursive: true });
    writeFileSync(join(dependent, "package.json"), JSON.stringify({ name: "@langchain/openai", version: "0.0.0-test" }));
    const nested = copyPackage("openai", dependent);
    const cwd = process.cwd();
    const tracer = new Tracer({ sink, logger: quietLogger });
    process.chdir(app);
    try {
      await tracer.instrument({ langchain: false, agents: false });
    } finally {
      process.chdir(cwd);
    }
    try {
      const framework = await importFile<OpenAIModule>(join(nested, "index.mjs"));
      const { report, layers } = await traced(tracer, () => ask(clientOf(framework), "nested"));
      expect(layers).toEqual(["openai"]);
      expect(report.captureIssues).toEqual([]);
    } finally {
      tracer.uninstrument();
    }
  });
});

describe("LangChain: a copy of @langchain/core tracetrain did not patch", () => {
  let tracer: Tracer;
  let own: OpenAIModule;

  beforeAll(async () => {
    // Every copy keeps the current run in one AsyncLocalStorage; LangGraph (and `createAgent`)
    // switch it on when they load, as this entry point does.
    await import("@langchain/core/context");
    tracer = new Tracer({ sink, logger: quietLogger });
    const results = await tracer.instrument({ agents: false });
    expect(results.langchain).toEqual({ installed: true });
    own = (await import("openai")) as unknown as OpenAIModule;
  });
  afterAll(() => tracer.uninstrument());
  beforeEach(() => mock.script(undefined));

  it("is named in the report (with its version, found from require.cache) while the LLM call inside is recorded once", async () => {
    // A CommonJS build loaded after instrument(): its classes were never patched.
    const root = copyPackage("@langchain/core", join(scratch, "langchain-late"));
    const { RunnableLambda } = requireFile<RunnablesModule>(join(root, "dist", "runnables", "index.cjs"));
    const client = clientOf(own);
    const step = RunnableLambda.from(async (text: string) => (await ask(client, text)).choices[0]!.message.content ?? "");
    const { report, layers, served } = await traced(tracer, () => step.invoke("inside a foreign run", { metadata: { step: "one" } }));
    expect(served).toBe(1);
    expect(layers).toEqual(["openai"]);
    expect(report.llmCalls).toBe(1);
    expect(report.captureIssues).toEqual([
      expect.objectContaining({ instrumentation: "langchain", code: "unpatched_copy", package: "@langchain/core", version: versionOf(root), message: expect.stringContaining(root) }),
    ]);
    expect(report.warnings.join("\n")).toMatch(/LangChain ran a run of a copy of @langchain\/core tracetrain did not patch/);
  });

  it("says nothing for a run of the copy it patched", async () => {
    const { RunnableLambda } = (await import("@langchain/core/runnables")) as unknown as RunnablesModule;
    const client = clientOf(own);
    const step = RunnableLambda.from(async (text: string) => (await ask(client, text)).choices[0]!.message.content ?? "");
    const { report, layers } = await traced(tracer, () => step.invoke("inside our run", { metadata: { step: "two" } }));
    expect(layers).toEqual(["openai"]);
    expect(report.captureIssues).toEqual([]);
  });
});

describe("Trainer.dev", () => {
  it("prints the capture issues with each trace", async () => {
    const other = await importFile<OpenAIModule>(join(copyPackage("openai", join(scratch, "dev")), "index.mjs"));
    const store = new MemoryStore();
    const trainer = new Trainer({ store, logger: quietLogger, instrument: { langchain: false, agents: false } });
    const asker = agent(async (task: { q: string }) => {
      await ask(clientOf(other), task.q);
      return 1;
    });
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    let printed: string;
    try {
      await trainer.dev(asker, [{ q: "hello" }]);
    } finally {
      printed = write.mock.calls.map((c) => String(c[0])).join("");
      write.mockRestore();
      await trainer.close();
    }
    expect(printed).toMatch(/1 LLM calls/);
    expect(printed).toMatch(new RegExp(`! rollout \\S+: an LLM call was made by the openai ${openaiVersion.replace(/\./g, "\\.")} SDK, a build of the SDK tracetrain did not patch`));
  });
});
