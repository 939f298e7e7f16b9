/**
 * Tracer benchmark. Prints one JSON line:
 *  - `llm_call_overhead_us`: what the openai instrumentation adds to one `chat.completions.create`
 *    call against the mock LLM server inside a traced rollout: the mean traced call minus the mean
 *    uninstrumented call (`calls` of each, after warm-up; a 10%-trimmed mean, see below);
 *  - `untraced_overhead_us`: the same for calls outside any trace with the instrumentation installed
 *    (the path every untraced call takes);
 *  - the same two without network or server (`*_no_network_us`): a `fetch` that answers from memory,
 *    so the instrumentation's own CPU cost is not buried in the ~1 ms of a loopback round trip;
 *  - `span_ratio_vs_otel`: the cost of starting, attributing (10 attributes) and ending one span with
 *    our tracer inside a trace (no-op sink), divided by the same with OpenTelemetry's
 *    `BasicTracerProvider` + `SimpleSpanProcessor(new InMemorySpanExporter())` — both then deliver
 *    every span somewhere; `span_ratio_vs_otel_noop` divides by OTel with `NoopSpanProcessor`
 *    (span creation alone, OTel's cheapest setting), the strictest comparison.
 *
 * How the call overhead is measured. A round trip to the in-process mock server takes ~1 ms and
 * varies by tens of percent from one call to the next (the server tokenises every prompt), so a
 * difference of a few microseconds only shows when the two sides are measured at the same moment:
 * traced and uninstrumented calls alternate one by one. The uninstrumented side is the openai
 * package's CommonJS build — the same SDK code, a separate copy with its own prototypes — which the
 * instrumentation leaves alone (it is installed on the ESM build only), so nothing has to be patched
 * and unpatched between calls (patching a prototype mid-run deoptimises the code that calls it).
 * Whatever the two copies differ by on their own is measured the same way with neither
 * instrumented, in rounds interleaved with the instrumented ones, and subtracted. The means leave
 * out the 10% most extreme pair differences on each side (see `trimmedMean`).
 *
 *   npm run bench -- tracer [--calls N] [--spans N]
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, NoopSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import * as openaiEsm from "openai";
import { Tracer } from "tracetrain";
import { Attr } from "../src/types/conventions.js";
import { createOpenAIInstrumentation } from "../src/tracer/instrumentations/openai.js";
import { startSpan } from "../src/tracer/spans.js";
import { startMockLlm } from "tracetrain/testing";
import { round } from "./lib/stats.js";

interface TracerBenchResult {
  bench: "tracer";
  span_ratio_vs_otel: number;
  llm_call_overhead_us: number;
  span_ratio_vs_otel_noop: number;
  untraced_overhead_us: number;
  llm_call_overhead_no_network_us: number;
  untraced_overhead_no_network_us: number;
  calls: number;
  call_us_uninstrumented: number;
  call_us_traced: number;
  call_us_no_network_uninstrumented: number;
  spans: number;
  span_ns_tracetrain: number;
  span_ns_otel_simple_inmemory: number;
  span_ns_otel_noop: number;
}

/** Spans per measured round; small enough that no round's garbage outlives it by much. */
const SPAN_ROUND = 20_000;
/** Rounds the call measurement is split into (each: uninstrumented, traced and untraced pairs). */
const CALL_ROUNDS = 10;

const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };
const noopSink = { addSpans: async () => undefined };

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: { calls: { type: "string", default: "2000" }, spans: { type: "string", default: "200000" } } });
  const calls = Number(values.calls);
  const spans = Number(values.spans);
  const spanFigures = await measureSpans(spans);
  const server = await measureAgainstMockServer(calls);
  const memory = await measureWithoutNetwork(calls * 5);
  const result: TracerBenchResult = {
    bench: "tracer",
    span_ratio_vs_otel: round(spanFigures.ours / spanFigures.otelSimple, 3),
    llm_call_overhead_us: round(server.tracedOverhead, 2),
    span_ratio_vs_otel_noop: round(spanFigures.ours / spanFigures.otelNoop, 3),
    untraced_overhead_us: round(server.untracedOverhead, 2),
    llm_call_overhead_no_network_us: round(memory.tracedOverhead, 2),
    untraced_overhead_no_network_us: round(memory.untracedOverhead, 2),
    calls,
    call_us_uninstrumented: round(server.plainCall, 1),
    call_us_traced: round(server.plainCall + server.tracedOverhead, 1),
    call_us_no_network_uninstrumented: round(memory.plainCall, 1),
    spans,
    span_ns_tracetrain: round(spanFigures.ours),
    span_ns_otel_simple_inmemory: round(spanFigures.otelSimple),
    span_ns_otel_noop: round(spanFigures.otelNoop),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// (a) LLM-call overhead
// ---------------------------------------------------------------------------------------------

type ClientOptions = ConstructorParameters<typeof openaiEsm.OpenAI>[0];
type Client = { chat: { completions: { create(body: unknown): Promise<unknown> } } };

/** A client of the ESM build (the one instrumented) and one of the CommonJS build (never instrumented). */
function clientPair(options: ClientOptions): { esm: Client; cjs: Client } {
  const cjsModule = createRequire(import.meta.url)("openai") as typeof openaiEsm;
  if (cjsModule.OpenAI === openaiEsm.OpenAI) throw new Error("the openai ESM and CommonJS builds resolved to one copy; cannot measure");
  return { esm: new openaiEsm.OpenAI(options) as unknown as Client, cjs: new cjsModule.OpenAI(options) as unknown as Client };
}

interface CallFigures {
  /** µs per uninstrumented call. */
  plainCall: number;
  tracedOverhead: number;
  untracedOverhead: number;
}

const REQUEST = { model: "mock-model", messages: [{ role: "system", content: "You are a benchmark." }, { role: "user", content: "hello" }] };

/**
 * (instrumented-side call − uninstrumented-side call) in µs for `pairs` adjacent pairs, the order
 * within a pair alternating, appended to `differences`; returns the summed uninstrumented time.
 */
async function pairedDifferences(pairs: number, measured: () => Promise<unknown>, baseline: () => Promise<unknown>, differences: number[]): Promise<number> {
  let base = 0;
  const time = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    return (performance.now() - start) * 1000;
  };
  for (let i = 0; i < pairs; i++) {
    let a: number;
    let b: number;
    if (i % 2 === 0) {
      a = await time(measured);
      b = await time(baseline);
    } else {
      b = await time(baseline);
      a = await time(measured);
    }
    differences.push(a - b);
    base += b;
  }
  return base;
}

/**
 * The mean with the 10% most extreme values of each side left out. Another process taking the CPU
 * for a few milliseconds (this machine is shared) makes a handful of pairs differ by thousands of
 * µs either way; those say nothing about the instrumentation and would swamp a mean of thousands.
 */
function trimmedMean(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length * 0.1);
  const kept = sorted.slice(cut, sorted.length - cut);
  return kept.reduce((sum, v) => sum + v, 0) / kept.length;
}

async function measureCalls(options: ClientOptions, calls: number, label: string): Promise<CallFigures> {
  const { esm, cjs } = clientPair(options);
  const tracer = new Tracer({ sink: noopSink, keepSpans: false, logger: quietLogger });
  const instrumentation = createOpenAIInstrumentation({ module: openaiEsm });
  const esmCall = () => esm.chat.completions.create(REQUEST);
  const cjsCall = () => cjs.chat.completions.create(REQUEST);
  const pairs = Math.max(1, Math.round(calls / CALL_ROUNDS));
  const differences = { bias: [] as number[], traced: [] as number[], untraced: [] as number[] };
  let plain = 0;
  const round = async (measure: boolean) => {
    const into = measure ? differences : { bias: [], traced: [], untraced: [] };
    // Neither side instrumented: what the two copies differ by on their own.
    const base = await pairedDifferences(pairs, esmCall, cjsCall, into.bias);
    if (measure) plain += base;
    await instrumentation.install();
    try {
      await tracer.trace({ rolloutId: "bench", attemptId: "bench" }, () => pairedDifferences(pairs, esmCall, cjsCall, into.traced));
      await pairedDifferences(pairs, esmCall, cjsCall, into.untraced);
    } finally {
      instrumentation.uninstall();
    }
  };
  process.stderr.write(`tracer bench: ${label}: warming up\n`);
  for (let i = 0; i < 2; i++) await round(false);
  process.stderr.write(`tracer bench: ${label}: ${CALL_ROUNDS} rounds of ${pairs} call pairs in each mode\n`);
  for (let i = 0; i < CALL_ROUNDS; i++) await round(true);
  const bias = trimmedMean(differences.bias);
  return {
    plainCall: plain / (pairs * CALL_ROUNDS),
    tracedOverhead: trimmedMean(differences.traced) - bias,
    untracedOverhead: trimmedMean(differences.untraced) - bias,
  };
}

/** Against the mock LLM server over loopback HTTP. */
async function measureAgainstMockServer(calls: number): Promise<CallFigures> {
  const mock = await startMockLlm();
  try {
    return await measureCalls({ baseURL: mock.baseUrl, apiKey: "bench", maxRetries: 0 }, calls, "mock server");
  } finally {
    await mock.close();
  }
}

/** With a `fetch` that answers at once from memory: no network and no server. */
async function measureWithoutNetwork(calls: number): Promise<CallFigures> {
  const body = JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "mock-model",
    choices: [{ index: 0, message: { role: "assistant", content: "echo: hello" }, logprobs: null, finish_reason: "stop" }],
    usage: { prompt_tokens: 20, completion_tokens: 3, total_tokens: 23 },
  });
  const fetch = async () => new Response(body, { status: 200, headers: { "content-type": "application/json" } });
  return measureCalls({ baseURL: "http://127.0.0.1:9/v1", apiKey: "bench", maxRetries: 0, fetch }, calls, "in-memory fetch");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// ---------------------------------------------------------------------------------------------
// (b) One span: ours against OpenTelemetry's SDK
// ---------------------------------------------------------------------------------------------

/** The same 10 attributes for both tracers: what an LLM span typically carries, as primitives. */
const ATTRIBUTES: Array<[string, string | number | boolean]> = [
  [Attr.operationName, "chat"],
  [Attr.providerName, "openai"],
  [Attr.requestModel, "gpt-4o-mini"],
  [Attr.requestTemperature, 0.7],
  [Attr.requestMaxTokens, 256],
  [Attr.requestStream, false],
  [Attr.responseId, "chatcmpl-123"],
  [Attr.responseModel, "gpt-4o-mini-2024-07-18"],
  [Attr.usageInputTokens, 42],
  [Attr.usageOutputTokens, 17],
];

/**
 * ns per span for each tracer: the median over rounds of SPAN_ROUND spans, the three tracers taking
 * turns each round (after warm-up rounds), until each has made `count` spans.
 */
async function measureSpans(count: number): Promise<{ ours: number; otelSimple: number; otelNoop: number }> {
  const exporter = new InMemorySpanExporter();
  const runners = {
    ours: oursRunner(),
    otelSimple: otelRunner(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }), () => exporter.reset()),
    otelNoop: otelRunner(new BasicTracerProvider({ spanProcessors: [new NoopSpanProcessor()] }), () => undefined),
  };
  const names = Object.keys(runners) as Array<keyof typeof runners>;
  const samples: Record<keyof typeof runners, number[]> = { ours: [], otelSimple: [], otelNoop: [] };
  const rounds = Math.max(1, Math.round(count / SPAN_ROUND));
  process.stderr.write(`tracer bench: spans: ${rounds} rounds of ${SPAN_ROUND} per tracer\n`);
  for (let r = -3; r < rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + Math.max(r, 0)) % names.length]!;
      const ns = await runners[name](SPAN_ROUND);
      if (r >= 0) samples[name].push(ns); // negative rounds warm up
    }
  }
  return { ours: median(samples.ours), otelSimple: median(samples.otelSimple), otelNoop: median(samples.otelNoop) };
}

/**
 * ns per span for our tracer: inside a traced rollout, child spans of its root, a no-op sink. Ending
 * a span hands it to the trace's batch; the batches reach the sink once the loop yields, outside the
 * timed part, which leaves out about one no-op `addSpans` call per 256 spans.
 */
function oursRunner(): (count: number) => Promise<number> {
  const tracer = new Tracer({ sink: noopSink, keepSpans: false, logger: quietLogger });
  return async (count) => {
    let elapsed = 0;
    await tracer.trace({ rolloutId: "bench", attemptId: "bench" }, () => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < count; i++) {
        const span = startSpan("chat gpt-4o-mini", { layer: "openai", type: "llm", kind: "client" })!;
        for (const [key, value] of ATTRIBUTES) span.setAttribute(key, value);
        span.end();
      }
      elapsed = Number(process.hrtime.bigint() - start);
    });
    return elapsed / count;
  };
}

/** ns per span for OpenTelemetry: child spans of a root span, created under an explicit parent context. */
function otelRunner(provider: BasicTracerProvider, between: () => void): (count: number) => number {
  const tracer = provider.getTracer("bench");
  return (count) => {
    const root = tracer.startSpan("root");
    const parent = trace.setSpan(context.active(), root);
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      const span = tracer.startSpan("chat gpt-4o-mini", { kind: SpanKind.CLIENT }, parent);
      for (const [key, value] of ATTRIBUTES) span.setAttribute(key, value);
      span.end();
    }
    const elapsed = Number(process.hrtime.bigint() - start);
    root.end();
    between();
    return elapsed / count;
  };
}
