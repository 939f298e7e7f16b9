/**
 * The trace report counts what the store holds for the attempt — calls the gateway recorded and
 * spans ingested over OTLP as well as what the agent's own process recorded — and warns of "no LLM
 * call" only when the store truly has none.
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Trainer, agent, type AgentContext, type Logger } from "tracetrain";
import { type Gateway, startGateway } from "tracetrain/gateway";
import { MemoryStore } from "tracetrain/store";
import { type StoreServer, startStoreServer } from "tracetrain/server";
import { type MockLlm, startMockLlm } from "tracetrain/testing";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  vi.restoreAllMocks();
});

/** A logger that keeps what it is told. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string) => void lines.push(message);
  return { lines, debug() {}, info() {}, warn: keep, error: keep };
}

async function gatewayRig(): Promise<{ store: MemoryStore; gateway: Gateway }> {
  const llm: MockLlm = await startMockLlm();
  const store = new MemoryStore();
  const gateway = await startGateway({ store, upstreams: [{ url: llm.baseUrl, capabilities: { tokenIds: true, logprobs: true } }], port: 0, logger: recordingLogger() });
  closers.push(() => llm.close(), () => gateway.close(), () => store.close());
  return { store, gateway };
}

/** An unchanged agent that makes two calls with the openai SDK to whatever endpoint its LLM resource names. */
const twoCalls = agent(
  async (task: string, ctx: AgentContext) => {
    const client = new OpenAI({ baseURL: ctx.llm().baseUrl, apiKey: "unused", maxRetries: 0 });
    for (const content of [task, `${task}, again`]) await client.chat.completions.create({ model: ctx.llm().model, messages: [{ role: "user", content }] });
    return 1;
  },
  { name: "two-calls" },
);

/** Runs `dev` with stderr captured; returns the runs, what was printed and what was logged. */
async function dev(trainer: Trainer, agentToRun: typeof twoCalls, logger: { lines: string[] }) {
  const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    const runs = await trainer.dev(agentToRun, ["hello"]);
    return { runs, printed: write.mock.calls.map((c) => String(c[0])).join(""), logged: logger.lines.join("\n") };
  } finally {
    write.mockRestore();
    await trainer.close();
  }
}

describe("the trace report counts what the store holds", () => {
  it("dev() counts the calls an agent made through the gateway, with their exact tokens, and does not warn of none", async () => {
    const { store, gateway } = await gatewayRig();
    const logger = recordingLogger();
    // Nothing in this process records the calls: only the gateway does.
    const trainer = new Trainer({ store, logger, instrument: false, initialResources: { main: gateway.llmResource({ model: "served" }) } });
    const { runs, printed, logged } = await dev(trainer, twoCalls, logger);
    const [run] = runs;
    expect(run!.error).toBeUndefined();
    expect(run!.report).toMatchObject({ countedFrom: "store", llmCalls: 2, llmCallsWithTokenIds: 2, finalReward: 1 });
    expect(run!.report.layers.gateway).toEqual({ spans: 2, llmCalls: 2 });
    expect(run!.spans.filter((s) => s.attributes?.["tracetrain.layer"] === "gateway")).toHaveLength(2);
    expect(run!.report.warnings.join("\n")).not.toMatch(/no LLM call/);
    expect(logged).not.toMatch(/no LLM call/);
    expect(printed).toMatch(/2 LLM calls \(2 with token ids\) .*\(counted in the store\)/);
    expect(printed.match(/\[llm\/gateway\]/g)).toHaveLength(2);
    expect(printed).not.toMatch(/no LLM call/);
  });

  it("counts a call recorded both by the SDK in process and by the gateway once", async () => {
    const { store, gateway } = await gatewayRig();
    const logger = recordingLogger();
    const trainer = new Trainer({ store, logger, initialResources: { main: gateway.llmResource({ model: "served" }) } });
    const { runs } = await dev(trainer, twoCalls, logger);
    const report = runs[0]!.report;
    expect(report.layers).toMatchObject({ openai: { llmCalls: 2 }, gateway: { llmCalls: 2 } });
    // The gateway's record has the token ids the SDK's lacks: the call has them.
    expect(report).toMatchObject({ llmCalls: 2, llmCallsWithTokenIds: 2 });
  });

  it("counts calls sent over OTLP by code without the SDK, in the GenAI and OpenInference formats", async () => {
    const store = new MemoryStore();
    const server: StoreServer = await startStoreServer({ store, port: 0, logger: recordingLogger() });
    closers.push(() => store.close(), () => server.close());
    // What an OpenTelemetry exporter in another language sends: a GenAI chat span, no tracetrain type.
    const exporter = agent(
      async (_task: string, ctx: AgentContext) => {
        const now = BigInt(Date.now()) * 1_000_000n;
        const attribute = (key: string, value: string) => ({ key, value: { stringValue: value } });
        const body = {
          resourceSpans: [
            {
              resource: { attributes: [attribute("tracetrain.rollout_id", ctx.rollout.rolloutId), attribute("tracetrain.attempt_id", ctx.rollout.attemptId)] },
              scopeSpans: [
                {
                  spans: [
                    {
                      traceId: "5b8efff798038103d269b633813fc60c",
                      spanId: "eee19b7ec3c1b174",
                      name: "chat gpt-4.1-mini",
                      kind: 3,
                      startTimeUnixNano: String(now),
                      endTimeUnixNano: String(now + 1_000_000n),
                      attributes: [attribute("gen_ai.operation.name", "chat"), attribute("gen_ai.response.id", "chatcmpl-otlp-1")],
                    },
                    // …and an OpenInference LLM span (Python's Arize instrumentations), known by its span kind alone.
                    {
                      traceId: "5b8efff798038103d269b633813fc60c",
                      spanId: "eee19b7ec3c1b175",
                      name: "ChatCompletion",
                      kind: 1,
                      startTimeUnixNano: String(now + 2_000_000n),
                      endTimeUnixNano: String(now + 3_000_000n),
                      attributes: [attribute("openinference.span.kind", "LLM"), attribute("llm.model_name", "gpt-4.1-mini")],
                    },
                  ],
                },
              ],
            },
          ],
        };
        const answer = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        expect(answer.status).toBe(200);
        return 1;
      },
      { name: "exporter" },
    );
    const logger = recordingLogger();
    const trainer = new Trainer({ store, logger, instrument: false });
    const { runs, logged } = await dev(trainer, exporter, logger);
    expect(runs[0]!.report).toMatchObject({ countedFrom: "store", llmCalls: 2, llmCallsWithTokenIds: 0 });
    expect(logged).not.toMatch(/no LLM call/);
  });

  it("warns of no LLM call, with the likely reasons, when the store holds none", async () => {
    const store = new MemoryStore();
    closers.push(() => store.close());
    const logger = recordingLogger();
    const trainer = new Trainer({ store, logger, instrument: false });
    const silent = agent(async () => 1, { name: "silent" });
    const { runs, logged } = await dev(trainer, silent, logger);
    const warning = runs[0]!.report.warnings.find((w) => w.includes("no LLM call"));
    expect(warning).toMatch(/recorded no LLM call \(none in the store for this attempt\)\. Likely reasons: the agent's LLM client is not one the tracer hooks/);
    expect(logged).toContain(warning!);
  });
});
