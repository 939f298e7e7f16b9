/**
 * OpenTelemetry as applications have it: the application's own `@opentelemetry/api` is 1.10 (the
 * AI SDK and others pull it in; it ships separate ESM and CommonJS builds) while a library uses
 * another copy (the repository's 1.9.1 here), and the everyday pattern `trace.getTracer()` at
 * module load runs before `instrument({ otel: true })`. The 1.10.0 copy is the published package,
 * unpacked from the npm registry into `.tmp/` (kept across runs).
 */
import { join } from "node:path";
import type * as OtelApi from "@opentelemetry/api";
import { diag, trace as trace191 } from "@opentelemetry/api";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Tracer, type SpanInput } from "tracetrain";
import { createOtelSpanProcessor } from "tracetrain/otel";
import { aliasedPackage, importFile, repoRoot } from "./package-copy.js";

const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");
const quietLogger = { debug() {}, info() {}, warn: vi.fn(), error() {} };
const sink = { addSpans: async (_spans: SpanInput[]) => undefined };
const onlyOtel = { otel: true, openai: false, fetch: false, langchain: false, agents: false } as const;
const appFolder = join(repoRoot, ".tmp", "tracer-otel-app");

let api110: typeof OtelApi;
let n = 0;

/** Installs with the application's folder as the working directory, where its 1.10 copy is found. */
async function instrumentFromApp(tracer: Tracer): Promise<Awaited<ReturnType<Tracer["instrument"]>>> {
  const cwd = process.cwd();
  process.chdir(appFolder);
  try {
    return await tracer.instrument(onlyOtel);
  } finally {
    process.chdir(cwd);
  }
}

const registeredVersion = () => (globalThis as { [OTEL_GLOBAL]?: { version?: string } })[OTEL_GLOBAL]?.version;
const byName = (spans: SpanInput[], name: string) => spans.find((s) => s.name === name);

beforeAll(async () => {
  const root = aliasedPackage("otel-api-1-10", "@opentelemetry/api", appFolder);
  api110 = await importFile<typeof OtelApi>(join(root, "dist", "index.mjs"));
});

afterEach(() => {
  // Each test starts from a process where nothing is registered yet.
  delete (globalThis as { [OTEL_GLOBAL]?: unknown })[OTEL_GLOBAL];
});

describe("the application's API is 1.10, a library's is 1.9", () => {
  it("registers through the newest copy, and tracers obtained before instrument() record inside a rollout", async () => {
    const early110 = api110.trace.getTracer("app");
    const early191 = trace191.getTracer("library");
    const tracer = new Tracer({ sink, logger: quietLogger });
    const results = await instrumentFromApp(tracer);
    try {
      expect(results.otel).toEqual({ installed: true });
      expect(registeredVersion()).toBe("1.10.0");
      const outcome = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, () =>
        early110.startActiveSpan("app-step", { attributes: { "gen_ai.operation.name": "invoke_workflow" } }, (span) => {
          early191.startSpan("library-step").end();
          api110.trace.getTracer("late").startSpan("late-step").end();
          span.end();
        }),
      );
      if (!outcome.ok) throw outcome.error;
      const app = byName(outcome.spans, "app-step");
      expect(app).toBeDefined();
      // The context set through the 1.10 copy is the one both copies read: children find their parent.
      expect(byName(outcome.spans, "library-step")?.parentId).toBe(app!.spanId);
      expect(byName(outcome.spans, "late-step")?.parentId).toBe(app!.spanId);
      expect(outcome.report.captureIssues).toEqual([]);
      // Outside a rollout the same tracers hand out non-recording spans.
      expect(early110.startSpan("outside").isRecording()).toBe(false);
    } finally {
      tracer.uninstrument();
    }
    // Uninstalled: nothing records, and installing again revives the tracers handed out before.
    const off = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, () => early110.startSpan("while-off").end());
    expect(byName(off.spans, "while-off")).toBeUndefined();
    delete (globalThis as { [OTEL_GLOBAL]?: unknown })[OTEL_GLOBAL];
    await instrumentFromApp(tracer);
    try {
      const again = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, () => early110.startSpan("again").end());
      expect(byName(again.spans, "again")).toBeDefined();
    } finally {
      tracer.uninstrument();
    }
  });

  it("when an older copy stamped the global first, registers with that one and reports the copy that cannot read it", async () => {
    // Any registration creates the global object, stamped with its copy's version (here a diag logger, through 1.9.1).
    diag.setLogger({ verbose() {}, debug() {}, info() {}, warn() {}, error() {} });
    const early110 = api110.trace.getTracer("app");
    const tracer = new Tracer({ sink, logger: quietLogger });
    const results = await instrumentFromApp(tracer);
    try {
      expect(results.otel).toMatchObject({ installed: true, issues: [expect.objectContaining({ code: "otel_version_mismatch", version: "1.10.0" })] });
      expect(registeredVersion()).toBe("1.9.1");
      const outcome = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, () => early110.startSpan("app-step").end());
      // Still recorded: the 1.10 copy's proxy was handed tracetrain's provider directly.
      expect(byName(outcome.spans, "app-step")).toBeDefined();
      expect(outcome.report.captureIssues).toEqual([
        expect.objectContaining({ instrumentation: "otel", code: "otel_version_mismatch", package: "@opentelemetry/api", version: "1.10.0", message: expect.stringContaining("cannot read the OpenTelemetry globals registered under 1.9.1") }),
      ]);
      expect(outcome.report.warnings.join("\n")).toMatch(/npm ls @opentelemetry\/api/);
    } finally {
      tracer.uninstrument();
      diag.disable();
    }
  });
});

describe("an application that registered its own provider", () => {
  afterAll(() => trace191.disable());

  it("is told, in every trace report, to add tracetrain's span processor to it", async () => {
    expect(trace191.setGlobalTracerProvider(new BasicTracerProvider())).toBe(true);
    const tracer = new Tracer({ sink, logger: quietLogger });
    const results = await instrumentFromApp(tracer);
    expect(results.otel).toMatchObject({ installed: false, reason: expect.stringContaining("already registered") });
    const outcome = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, () => trace191.getTracer("app").startSpan("app-step").end());
    expect(byName(outcome.spans, "app-step")).toBeUndefined();
    expect(outcome.report.captureIssues).toEqual([
      expect.objectContaining({ instrumentation: "otel", code: "otel_provider_taken", message: expect.stringContaining("spanProcessors: [createOtelSpanProcessor(), ...yours]") }),
    ]);
    tracer.uninstrument();
    trace191.disable();
  });

  it("records through the processor added to it, and is not warned then", async () => {
    const processor = createOtelSpanProcessor();
    const own = new BasicTracerProvider({ spanProcessors: [processor] });
    expect(trace191.setGlobalTracerProvider(own)).toBe(true);
    const tracer = new Tracer({ sink, logger: quietLogger });
    try {
      const results = await instrumentFromApp(tracer);
      expect(results.otel.installed).toBe(false);
      const outcome = await tracer.capture({ rolloutId: `ro-${++n}`, attemptId: "at-1" }, () => trace191.getTracer("app").startSpan("app-step").end());
      expect(byName(outcome.spans, "app-step")).toBeDefined();
      expect(outcome.report.captureIssues).toEqual([]);
    } finally {
      tracer.uninstrument();
      trace191.disable();
      await own.shutdown();
    }
  });
});
